"""Communications: metadata of email and meetings that touch a customer.

Never a body: bodies are fetched from Graph on demand and never stored.

Internet-Message-ID and iCalUId are chosen by whoever sends the mail, so they
are hostile: a copy is never merged with another on its id alone. A Message
is identified by a hash of everything shown about it (id, sender, sent time,
subject; for events: uid, organizer, times, subject, place, join link), so
copies merge only when they genuinely agree and a later copy can never
rewrite what an earlier one says. What may differ between genuine copies
belongs to the copy (MessageHolder / EventHolder, one per mailbox): its
participant list, preview, direction and folder. A member sees a message
through a copy whose own participant list names them, and its body is
fetched from that copy. Participants are rows of their own (carrying both the
copy and the message) so the rule is one indexed lookup, and the customer
links carry the sort time so the hub's "newest first" query is one index
range scan.
"""

from django.db import models

from .models import Customer


class Direction(models.TextChoices):
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received"


class Message(models.Model):
    # sha256 of (internetMessageId, sender, sent time, subject): see the module docstring.
    identity = models.CharField(max_length=64, unique=True)
    internet_message_id = models.CharField(max_length=900, db_index=True)
    conversation_id = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    from_name = models.CharField(max_length=320, blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)  # the first copy's
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]


class MessageHolder(models.Model):
    """The copy of a message in one technician mailbox (Graph ids are per mailbox),
    with what may differ between copies."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="holders")
    mailbox = models.CharField(max_length=320)
    graph_id = models.CharField(max_length=512)
    folder = models.CharField(max_length=16)  # inbox | sentitems
    direction = models.CharField(max_length=8, choices=Direction.choices)
    preview = models.CharField(max_length=300, blank=True)  # Graph's bodyPreview, at most 255 characters
    web_link = models.URLField(max_length=2048, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "graph_id"], name="message_holder_unique")]
        indexes = [models.Index(fields=["message", "mailbox"])]


class MessageParticipant(models.Model):
    class Role(models.TextChoices):
        FROM = "from"
        TO = "to"
        CC = "cc"
        BCC = "bcc"

    holder = models.ForeignKey(MessageHolder, on_delete=models.CASCADE, related_name="participants")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="participants")  # holder's, for the rule's index
    role = models.CharField(max_length=4, choices=Role.choices)
    address = models.CharField(max_length=320)
    name = models.CharField(max_length=320, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "role", "address"], name="message_participant_unique")]
        indexes = [models.Index(fields=["address", "message"])]


class MessageCustomer(models.Model):
    """Which customers a message touches; received_at is copied here for the hub's index."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="customer_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="message_links")
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "customer"], name="message_customer_unique")]
        indexes = [models.Index(fields=["customer", "-received_at"])]


class Event(models.Model):
    # sha256 of everything shown about the meeting: see the module docstring.
    identity = models.CharField(max_length=64, unique=True)
    ical_uid = models.CharField(max_length=900, db_index=True)
    subject = models.CharField(max_length=1000, blank=True)
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    is_all_day = models.BooleanField(default=False)
    is_cancelled = models.BooleanField(default=False)
    location = models.CharField(max_length=500, blank=True)
    organizer_name = models.CharField(max_length=320, blank=True)
    organizer_address = models.CharField(max_length=320, blank=True)
    online_meeting_url = models.URLField(max_length=2048, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]


class EventHolder(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="holders")
    mailbox = models.CharField(max_length=320)
    graph_id = models.CharField(max_length=512)
    series_master_id = models.CharField(max_length=512, blank=True)
    preview = models.CharField(max_length=300, blank=True)
    web_link = models.URLField(max_length=2048, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "graph_id"], name="event_holder_unique")]
        indexes = [models.Index(fields=["event", "mailbox"])]


class EventParticipant(models.Model):
    class Role(models.TextChoices):
        ORGANIZER = "organizer"
        REQUIRED = "required"
        OPTIONAL = "optional"
        RESOURCE = "resource"

    holder = models.ForeignKey(EventHolder, on_delete=models.CASCADE, related_name="participants")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participants")  # holder's, for the rule's index
    role = models.CharField(max_length=10, choices=Role.choices)
    address = models.CharField(max_length=320)
    name = models.CharField(max_length=320, blank=True)
    response = models.CharField(max_length=32, blank=True)  # accepted | declined | tentativelyAccepted | none ...

    class Meta:
        constraints = [models.UniqueConstraint(fields=["holder", "role", "address"], name="event_participant_unique")]
        indexes = [models.Index(fields=["address", "event"])]


class EventCustomer(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="customer_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="event_links")
    starts_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "customer"], name="event_customer_unique")]
        indexes = [models.Index(fields=["customer", "starts_at"])]
