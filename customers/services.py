"""Writes to customers, domains and contacts. Each one writes its audit row."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.log import AuditEntry, audit_log, audit_log_many
from audit.models import AuditAction

from .domains import DomainError, address_normalise, domain_candidates, domain_display, domain_normalise, domain_within
from .models import Contact, Customer, CustomerDomain, OwnDomain


class KnownDomains:
    """The MSP's own domains and every customer domain, read once: lets a whole
    import plan be validated with dictionary lookups instead of queries per domain."""

    def __init__(self):
        self.own = set(OwnDomain.objects.values_list("domain", flat=True))
        self.owner = {}  # domain -> (customer id, customer name)
        self.under = {}  # parent domain -> first customer domain below it
        for domain, customer_id, name in CustomerDomain.objects.values_list("domain", "customer_id", "customer__name"):
            self.owner[domain] = (customer_id, name)
            for parent in domain_candidates(domain)[1:]:
                self.under.setdefault(parent, []).append(domain)

    def clash(self, domain, customer):
        """(clashing domain, its customer's name) for `domain` at or above/below another customer's, or None."""
        mine = customer.pk if customer is not None else None
        for candidate in domain_candidates(domain):
            found = self.owner.get(candidate)
            if found and found[0] != mine:
                return candidate, found[1]
        for below in self.under.get(domain, ()):
            if self.owner[below][0] != mine:
                return below, self.owner[below][1]
        return None


class _DatabaseDomains:
    """The same questions as KnownDomains, asked of the database (one domain at a time)."""

    @property
    def own(self):
        return set(OwnDomain.objects.values_list("domain", flat=True))

    def clash(self, domain, customer):
        rows = CustomerDomain.objects.select_related("customer").exclude(customer=customer)
        found = rows.filter(domain__in=domain_candidates(domain)).first() or rows.filter(domain__endswith="." + domain).first()
        return (found.domain, found.customer.name) if found else None


def domain_validate_for_customer(raw, *, customer=None, known=None):
    """Normalise `raw` and check it may belong to `customer`; raise ValidationError.

    `known` (a KnownDomains) answers from memory; without it the database is asked."""
    try:
        domain = domain_normalise(raw)
    except DomainError as error:
        raise ValidationError(str(error)) from None
    known = known or _DatabaseDomains()
    if domain_within(domain, known.own):
        raise ValidationError(f"{domain_display(domain)} is your own (MSP) domain, not a customer's.")
    clash = known.clash(domain, customer)
    if clash is not None:
        clash_domain, clash_name = clash
        if clash_domain == domain:
            raise ValidationError(f"{domain_display(domain)} already belongs to {clash_name}.")
        raise ValidationError(
            f"{domain_display(domain)} overlaps {domain_display(clash_domain)}, which belongs to "
            f"{clash_name}: one address must match exactly one customer."
        )
    return domain


@transaction.atomic
def customer_create(*, actor, name, notes="", domains=(), request=None):
    customer = Customer.objects.create(name=name.strip(), notes=notes)
    audit_log(actor=actor, action=AuditAction.CUSTOMER_CREATE, target=customer, customer=customer,
              details={"name": customer.name}, request=request)
    for domain in domains:
        domain_add(actor=actor, customer=customer, domain=domain, request=request)
    return customer


@transaction.atomic
def customer_update(*, actor, customer, name, notes, domains=(), request=None):
    """Rename, re-note, and add the `domains` (validated, normalised) it does not have yet."""
    changed = {}
    if customer.name != name.strip():
        changed["name"] = [customer.name, name.strip()]
    if customer.notes != notes:
        changed["notes"] = "changed"
    customer.name, customer.notes = name.strip(), notes
    customer.save()
    if changed:
        audit_log(actor=actor, action=AuditAction.CUSTOMER_UPDATE, target=customer, customer=customer,
                  details=changed, request=request)
    existing = set(customer.domains.values_list("domain", flat=True))
    for domain in domains:
        if domain not in existing:
            domain_add(actor=actor, customer=customer, domain=domain, request=request)
            existing.add(domain)
    return customer


@transaction.atomic
def customer_delete(*, actor, customer, request=None):
    details = {"name": customer.name, "domains": list(customer.domains.values_list("domain", flat=True))}
    audit_log(actor=actor, action=AuditAction.CUSTOMER_DELETE, target=customer, customer=customer,
              details=details, request=request)
    customer.delete()
    # Its links went with it (cascade): re-check what is now linked to no customer.
    _forget_unmatched(customer_ids=())


@transaction.atomic
def domain_add(*, actor, customer, domain, request=None):
    """Add an already-validated, normalised domain."""
    row = CustomerDomain.objects.create(customer=customer, domain=domain)
    audit_log(actor=actor, action=AuditAction.DOMAIN_ADD, target=row, customer=customer,
              details={"domain": domain, "customer": customer.name}, request=request)
    return row


@transaction.atomic
def domain_remove(*, actor, domain_row, request=None):
    customer = domain_row.customer
    audit_log(actor=actor, action=AuditAction.DOMAIN_REMOVE, target=domain_row, customer=customer,
              details={"domain": domain_row.domain, "customer": customer.name}, request=request)
    domain_row.delete()
    _forget_unmatched(customer_ids=(customer.pk,))


@transaction.atomic
def contact_add(*, actor, customer, name, email, request=None):
    contact = Contact.objects.create(customer=customer, name=name.strip(), email=address_normalise(email))
    audit_log(actor=actor, action=AuditAction.CONTACT_ADD, target=contact, customer=customer,
              details={"email": contact.email}, request=request)
    return contact


@transaction.atomic
def contact_remove(*, actor, contact, request=None):
    customer_id = contact.customer_id
    audit_log(actor=actor, action=AuditAction.CONTACT_REMOVE, target=contact, customer=contact.customer,
              details={"email": contact.email}, request=request)
    contact.delete()
    # An event kept only because this contact attended no longer touches the customer.
    _forget_unmatched(customer_ids=(customer_id,))


def _forget_unmatched(*, customer_ids):
    """Drop communications that no longer touch any customer, and links to a
    customer whose domain no longer matches."""
    from . import retention

    retention.communications_forget_unmatched(customer_ids=customer_ids)


def customers_import_record(*, actor, plan, creates, updates, domains, request=None):
    """The CSV import's audit rows (csv_import.import_apply writes the data in
    bulk): one per customer created or updated, then one for the whole file."""
    audit_log_many(_import_audit_entries(actor, creates, updates, domains), request=request)
    audit_log(actor=actor, action=AuditAction.CUSTOMER_IMPORT, request=request,
              details={"created": plan.count("create"), "updated": plan.count("update"),
                       "unchanged": plan.count("unchanged")})


def _import_audit_entries(actor, creates, updates, domains):
    """One audit row per customer the import touched, naming the domains it added."""
    added = {}
    for row in domains:
        added.setdefault(row.customer_id, []).append(row.domain)
    entries, created = [], {id(row) for row in creates}
    for row in creates + updates:
        customer = row.customer
        details = {"name": customer.name, "domains_added": added.get(customer.pk, []), "source": "csv_import"}
        if id(row) in created:
            entries.append(AuditEntry(AuditAction.CUSTOMER_CREATE, actor, customer, customer=customer, details=details))
        else:
            if row.notes is not None:
                details["notes"] = "changed"
            entries.append(AuditEntry(AuditAction.CUSTOMER_UPDATE, actor, customer, customer=customer, details=details))
    return entries
