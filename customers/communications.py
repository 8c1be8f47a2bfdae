"""Communications: metadata of email and meetings that touch a customer.

Never a body: bodies are fetched from Graph on demand and never stored.
A message that sits in several technician mailboxes is one Message with one
MessageHolder per mailbox (matched on internetMessageId); events likewise on
iCalUId. Participants are rows of their own so the "did this user take part"
rule is an indexed lookup, and the customer links carry the sort time so the
hub's "newest first" query is one index range scan.
"""

from django.db import models

from .models import Customer


class Direction(models.TextChoices):
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received"


class Message(models.Model):
    internet_message_id = models.CharField(max_length=900, unique=True)
    conversation_id = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    preview = models.CharField(max_length=300, blank=True)  # Graph's bodyPreview, at most 255 characters
    from_name = models.CharField(max_length=320, blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]


class MessageHolder(models.Model):
    """The copy of a message in one technician mailbox (Graph ids are per mailbox)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="holders")
    mailbox = models.CharField(max_length=320)
    graph_id = models.CharField(max_length=512)
    folder = models.CharField(max_length=16)  # inbox | sentitems
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

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="participants")
    role = models.CharField(max_length=4, choices=Role.choices)
    address = models.CharField(max_length=320)
    name = models.CharField(max_length=320, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "role", "address"], name="message_participant_unique")]
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
    ical_uid = models.CharField(max_length=900, unique=True)
    subject = models.CharField(max_length=1000, blank=True)
    preview = models.CharField(max_length=300, blank=True)
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

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participants")
    role = models.CharField(max_length=10, choices=Role.choices)
    address = models.CharField(max_length=320)
    name = models.CharField(max_length=320, blank=True)
    response = models.CharField(max_length=32, blank=True)  # accepted | declined | tentativelyAccepted | none ...

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "role", "address"], name="event_participant_unique")]
        indexes = [models.Index(fields=["address", "event"])]


class EventCustomer(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="customer_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="event_links")
    starts_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "customer"], name="event_customer_unique")]
        indexes = [models.Index(fields=["customer", "starts_at"])]
