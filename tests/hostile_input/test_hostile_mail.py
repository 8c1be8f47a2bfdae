"""Hostile mail cannot cross the access rule.

Internet-Message-ID and iCalUId are chosen by whoever sends the mail. The
simulated tenant carries the attacks (graphsim/hostile.py): a
mail in Jane's inbox reusing the Message-ID of a customer mail only Jack
holds, and an invitation to Jane reusing the iCalUId of a customer meeting
only Jack attends. Each test drives a real sync against the simulator and
then asks the hub and the body endpoint as Jane (a member) would.
"""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from customers.models import Customer, CustomerDomain, Event, EventHolder, Message, MessageHolder, OwnDomain
from customers.selectors import customer_events, customer_messages, events_visible, messages_visible
from graphsim import DEMO_CLIENT_SECRET
from graphsim.hostile import ATTACKER, COLLISION_MEETING, COLLISION_SUBJECT
from integrations.setup.connection import connection_get, connection_record_test
from integrations.setup.diagnostics import connection_test
from tests.factories import make_user


def _collision_message(kit):
    jane, jack = kit.mailboxes()[:2]
    attack = next(r for r in kit.tenant.messages(jane, "inbox") if r.graph["subject"] == COLLISION_SUBJECT)
    original = next(r for r in kit.tenant.all_messages()
                    if r.mailbox_upn.lower() == jack and r.graph["internetMessageId"] == attack.graph["internetMessageId"])
    return attack, original


def _collision_event(kit):
    jane, jack = kit.mailboxes()[:2]
    attack = next(r for r in kit.tenant.events(jane) if r.graph["subject"] == COLLISION_MEETING)
    original = next(r for r in kit.tenant.events(jack) if r.graph["iCalUId"] == attack.graph["iCalUId"])
    return attack, original


def _body_requests(kit):
    return [r for r in kit.sim.requests if r["query"].get("$select") == "body"]


@pytest.fixture(params=["jane-first", "jack-first"])
def synced(request, sync_kit):
    """Both mailboxes synced, in either order: neither copy may overwrite the other."""
    jane, jack, *rest = sync_kit.mailboxes()
    order = [jane, jack] if request.param == "jane-first" else [jack, jane]
    sync_kit.sync(order + rest)
    return sync_kit


@pytest.fixture
def jane(synced):
    return make_user("jane", Role.MEMBER, work_email=synced.mailboxes()[0])


@pytest.fixture
def jack(synced):
    return make_user("jack", Role.MEMBER, work_email=synced.mailboxes()[1])


def test_a_reused_message_id_gives_the_member_nothing_of_the_original(client, synced, jane):
    attack, original = _collision_message(synced)
    jack_box = original.mailbox_upn.lower()
    stored = MessageHolder.objects.get(mailbox=jack_box, graph_id=original.id).message
    mine = MessageHolder.objects.get(mailbox=jane.work_email, graph_id=attack.id).message
    assert stored.pk != mine.pk  # another sender and subject: another message, whatever its id says

    # The original keeps its own subject, sender and participants, whichever mailbox synced first.
    assert stored.subject == original.graph["subject"]
    assert stored.from_address == original.graph["from"]["emailAddress"]["address"].lower()
    jack_copy = stored.holders.get()
    assert {p.address for p in jack_copy.participants.all()} == {a.lower() for a in original.participants()}
    assert jack_copy.preview == original.graph["bodyPreview"]
    assert mine.subject == COLLISION_SUBJECT and mine.from_address == ATTACKER[1]

    # Jane sees her own copy, never Jack's, anywhere the rule applies.
    customer = Customer.objects.get(pk=stored.customer_links.get().customer_id)
    assert stored not in messages_visible(jane) and stored not in customer_messages(jane, customer)
    client.force_login(jane)
    page = client.get(reverse("customers:hub", args=[customer.pk])).content.decode()
    assert original.graph["subject"] not in page or original.graph["subject"] == COLLISION_SUBJECT

    synced.sim.clear_requests()
    response = client.post(reverse("customers:message_body", args=[customer.pk, stored.pk]))
    assert response.status_code == 404
    assert _body_requests(synced) == [] and synced.sim.requests == []
    refused = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert refused.actor == jane and refused.details["outcome"] == "refused" and refused.target_id == str(stored.pk)


def test_a_reused_ical_uid_neither_hides_the_meeting_nor_shows_it_to_the_member(client, synced, jane, jack):
    attack, original = _collision_event(synced)
    real = EventHolder.objects.get(mailbox=jack.work_email, graph_id=original.id).event
    fake = EventHolder.objects.get(mailbox=jane.work_email, graph_id=attack.id).event
    assert real.pk != fake.pk  # another organizer: another event
    assert real.subject == original.graph["subject"]
    assert real.organizer_address == original.graph["organizer"]["emailAddress"]["address"].lower()
    real_attendees = {p.address for p in real.holders.get().participants.all()}
    assert real_attendees == {a.lower() for a in original.participants()}

    # The real attendee still sees his meeting; the member does not.
    customer = Customer.objects.get(pk=real.customer_links.get().customer_id)
    assert real in customer_events(jack, customer, now=synced.now)
    assert real not in events_visible(jane)

    client.force_login(jane)
    synced.sim.clear_requests()
    assert client.post(reverse("customers:event_body", args=[customer.pk, real.pk])).status_code == 404
    assert synced.sim.requests == []
    refused = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert refused.actor == jane and refused.details == {"kind": "event", "outcome": "refused"}


def test_a_perfect_forgery_opens_the_members_own_copy_not_the_other_holders(client, sync_kit):
    """Same Message-ID, sender, sent time, subject and conversation as Jack's mail: the copies
    merge into one message, but Jane reads it only through her own copy: her
    preview, her participants, her body, fetched from her own mailbox."""
    jane_box, jack_box = sync_kit.mailboxes()[:2]
    _attack, original = _collision_message(sync_kit)
    original = sync_kit.tenant.update_message(jack_box, original.folder, original.id, bodyPreview="Jack-only preview")
    g = original.graph
    forged = sync_kit.tenant.add_message(
        jane_box, "inbox", internetMessageId=g["internetMessageId"], subject=g["subject"], from_=g["from"],
        sender=g["from"], sentDateTime=g["sentDateTime"], conversationId=g["conversationId"], toRecipients=[jane_box],
        ccRecipients=[g["from"]["emailAddress"]["address"]], body="<p>forged body only Jane holds</p>",
        bodyPreview="forged preview",
    )
    sync_kit.sync()
    jane = make_user("jane", Role.MEMBER, work_email=jane_box)
    message = MessageHolder.objects.get(mailbox=jack_box, graph_id=original.id).message
    assert set(message.holders.values_list("mailbox", flat=True)) == {jane_box, jack_box}  # merged: they agree
    jack_copy = message.holders.get(mailbox=jack_box)
    assert jack_copy.preview == "Jack-only preview"  # Jane's copy did not overwrite it
    customer = Customer.objects.get(pk=message.customer_links.first().customer_id)

    client.force_login(jane)
    hub = client.get(reverse("customers:hub", args=[customer.pk]))
    shown = next(m for m in hub.context["message_page"] if m.pk == message.pk)
    assert [c.mailbox for c in shown.copies] == [jane_box] and shown.copy.preview.endswith("forged preview")
    assert "Jack-only preview" not in hub.content.decode()

    sync_kit.sim.clear_requests()
    response = client.post(reverse("customers:message_body", args=[customer.pk, message.pk]))
    assert response.status_code == 200
    assert "forged body only Jane holds" in response.content.decode()
    assert original.sentinel not in response.content.decode()
    fetched = _body_requests(sync_kit)
    assert len(fetched) == 1 and forged.id in fetched[0]["path"] and original.id not in fetched[0]["path"]


def test_body_endpoints_refuse_get(client, synced, jane):
    message = messages_visible(jane).first()
    event = events_visible(jane).first()
    customer = message.customer_links.first().customer
    client.force_login(jane)
    synced.sim.clear_requests()
    assert client.get(reverse("customers:message_body", args=[customer.pk, message.pk])).status_code == 405
    event_customer = event.customer_links.first().customer
    assert client.get(reverse("customers:event_body", args=[event_customer.pk, event.pk])).status_code == 405
    assert synced.sim.requests == []
    assert not AuditEvent.objects.filter(action="body.fetch").exists()


# ------------------------------------------------------------------ direction


def test_inbound_customer_mail_is_received_even_when_the_tenant_verifies_customer_domains(sync_kit):
    """The simulated tenant verifies its customers' domains too (as MSP tenants
    often do): those are never taken for the MSP's own."""
    connection = connection_get()
    report = connection_test(tenant_id=connection.tenant_id, client_id=connection.client_id,
                             client_secret=DEMO_CLIENT_SECRET, mailboxes=connection.mailboxes)
    connection_record_test(connection=connection, report=report)
    assert "northwind.example" in connection_get().verified_domains
    assert set(OwnDomain.objects.values_list("domain", flat=True)) == {"contoso-msp.example"}
    sync_kit.sync()
    domains = sync_kit.domains()
    inbox_from_customer = [
        r for r in sync_kit.tenant.all_messages()
        if r.folder == "inbox" and r.mailbox_upn.lower() in sync_kit.mailboxes()
        and any(r.graph["from"]["emailAddress"]["address"].lower().endswith("@" + d) for d in domains)
    ]
    assert inbox_from_customer
    for record in inbox_from_customer:
        copy = MessageHolder.objects.filter(mailbox=record.mailbox_upn.lower(), graph_id=record.id).first()
        if copy is not None:  # outside the look-back it was never read
            assert copy.direction == "received", record.graph["subject"]
    assert not MessageHolder.objects.filter(folder="sentitems").exclude(direction="sent").exists()


# ------------------------------------------------------------------ a public suffix stored before the rule


def test_a_stored_public_suffix_matches_nothing_and_is_flagged(admin_client, sync_kit):
    customer = Customer.objects.first()
    CustomerDomain.objects.create(customer=customer, domain="co.uk")  # as an old version could have saved it
    sync_kit.sync()
    assert not Message.objects.filter(participants__address__endswith=".co.uk").exists()
    page = admin_client.get(reverse("customers:hub", args=[customer.pk])).content.decode()
    assert "co.uk is a public suffix" in page
    assert not Event.objects.filter(participants__address__endswith=".co.uk").exists()


# ------------------------------------------------------------------ look-alikes of a member's address
# Found by an outside review: a look-alike of Jane's address on Jack's mail
# must not make Jane a participant of Jack's copy.

LOOKALIKES = {
    "zero-width": "ja\u200bne@{d}",
    "soft-hyphen": "ja\u00adne@{d}",
    "full-width @": "jane\uff20{d}",
    "full-width letter": "\uff4aane@{d}",
    "ideographic dot": "jane@{dot}",
    "trailing dot": "jane@{d}.",
    "space before @": "jane @{d}",
}


@pytest.mark.parametrize("variant", list(LOOKALIKES))
def test_a_lookalike_of_the_member_on_anothers_mail_gives_her_nothing(client, sync_kit, variant):
    jane_box, jack_box = sync_kit.mailboxes()[:2]
    local, domain = jane_box.split("@")
    lookalike = LOOKALIKES[variant].replace("jane", local).format(d=domain, dot=domain.replace(".", "\u3002"))
    record = sync_kit.tenant.add_message(jack_box, "sentitems", subject="Re: invoice",
                                         toRecipients=[f"boss@{sync_kit.domains()[0]}"], ccRecipients=[lookalike],
                                         body="<p>JACK-ONLY-SECRET</p>")
    sync_kit.sync()
    jane = make_user("jane", Role.MEMBER, work_email=jane_box)
    message = MessageHolder.objects.get(mailbox=jack_box, graph_id=record.id).message
    assert message not in messages_visible(jane)
    customer = message.customer_links.get().customer
    client.force_login(jane)
    sync_kit.sim.clear_requests()
    assert client.post(reverse("customers:message_body", args=[customer.pk, message.pk])).status_code == 404
    assert sync_kit.sim.requests == []


def test_a_lookalike_attendee_gives_the_member_nothing(client, sync_kit):
    from datetime import timedelta

    jane_box, jack_box = sync_kit.mailboxes()[:2]
    local, domain = jane_box.split("@")
    start = sync_kit.now + timedelta(days=2)
    record = sync_kit.tenant.add_event(jack_box, subject="Board prep", organizer=f"ceo@{sync_kit.domains()[0]}",
                                       attendees=[jack_box, f"{local}\u200b@{domain}"], start=start,
                                       end=start + timedelta(hours=1), body="<p>JACK-PRIVATE-NOTES</p>")
    sync_kit.sync()
    jane = make_user("jane", Role.MEMBER, work_email=jane_box)
    event = EventHolder.objects.get(mailbox=jack_box, graph_id=record.id).event
    assert event not in events_visible(jane)
    client.force_login(jane)
    response = client.post(reverse("customers:event_body", args=[event.customer_links.get().customer_id, event.pk]))
    assert response.status_code == 404


# ------------------------------------------------------------------ links follow the copies


def test_a_customer_dropped_from_a_meeting_leaves_its_hub(sync_kit):
    from datetime import timedelta

    jane_box = sync_kit.mailboxes()[0]
    first, second = sync_kit.domains()[:2]
    start = sync_kit.now + timedelta(days=3)
    record = sync_kit.tenant.add_event(jane_box, subject="Joint review", organizer=jane_box,
                                       attendees=[f"a@{first}", f"b@{second}"], start=start,
                                       end=start + timedelta(hours=1))
    sync_kit.sync([jane_box])
    event = EventHolder.objects.get(mailbox=jane_box, graph_id=record.id).event
    assert event.customer_links.count() == 2
    sync_kit.tenant.update_event(jane_box, record.id, attendees=[f"a@{first}"])
    sync_kit.sync([jane_box])
    event = EventHolder.objects.get(mailbox=jane_box, graph_id=record.id).event
    linked = set(event.customer_links.values_list("customer__domains__domain", flat=True))
    assert linked == {first}


def test_a_customer_dropped_from_a_message_copy_leaves_its_hub(sync_kit):
    jane_box = sync_kit.mailboxes()[0]
    first, second = sync_kit.domains()[:2]
    record = sync_kit.tenant.add_message(jane_box, "inbox", from_=f"a@{first}", toRecipients=[jane_box],
                                         ccRecipients=[f"b@{second}"], subject="Two customers")
    sync_kit.sync([jane_box])
    message = MessageHolder.objects.get(mailbox=jane_box, graph_id=record.id).message
    assert message.customer_links.count() == 2
    sync_kit.tenant.update_message(jane_box, "inbox", record.id, ccRecipients=[])
    sync_kit.sync([jane_box])
    message = MessageHolder.objects.get(mailbox=jane_box, graph_id=record.id).message
    assert set(message.customer_links.values_list("customer__domains__domain", flat=True)) == {first}
