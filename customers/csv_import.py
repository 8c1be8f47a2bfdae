"""CSV import of customers with their domains: plan first, then apply all or nothing.

The same text is planned twice: once for the preview and again inside the
transaction that applies it, so a change made between preview and confirm
can never slip a bad row in.
"""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.text import single_line_name_validate

from .domains import domain_candidates
from .forms import NOTES_MAX_LENGTH, split_domains
from .models import Customer, CustomerDomain
from .services import KnownDomains, customers_import_record, domain_validate_for_customer

MAX_ROWS = 5000
NAME_MAX_LENGTH = Customer._meta.get_field("name").max_length


@dataclass
class RowPlan:
    line: int
    name: str
    action: str = "unchanged"  # create | update | unchanged | error
    new_domains: list = field(default_factory=list)
    existing_domains: list = field(default_factory=list)
    notes: str | None = None  # the notes to write (None: unchanged)
    old_notes: str | None = None  # what they replace, for the preview (an update only)
    errors: list = field(default_factory=list)
    customer: Customer | None = None


@dataclass
class ImportPlan:
    rows: list
    file_errors: list

    @property
    def has_errors(self):
        return bool(self.file_errors) or any(row.errors for row in self.rows)

    def count(self, action):
        return sum(1 for row in self.rows if row.action == action)

    @property
    def summary(self):
        return f"{self.count('create')} to create, {self.count('update')} to update, {self.count('unchanged')} unchanged"


def import_plan(text):
    if "\x00" in text:
        return ImportPlan([], ["The file contains NUL characters: it is not a CSV text file."])
    try:
        return _plan_rows(text)
    except csv.Error as error:
        return ImportPlan([], [f"The file is not readable as CSV ({error})."])


def _plan_rows(text):
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = {"name", "domains"} - set(headers)
    if missing:
        return ImportPlan([], [f"The header row must have the columns name and domains (missing: {', '.join(sorted(missing))})."])
    reader.fieldnames = headers
    rows, file_errors = [], []
    # Everything the rows are checked against is read once per plan.
    seen = SeenDomains()
    seen_names = {}
    existing = {c.name.lower(): c for c in Customer.objects.prefetch_related("domains")}
    known = KnownDomains()
    for index, record in enumerate(reader):
        line = index + 2
        if index >= MAX_ROWS:
            file_errors.append(f"The file has more than {MAX_ROWS} rows; split it.")
            break
        if None in record:
            rows.append(RowPlan(line, (record.get("name") or "").strip(), "error", errors=["This row has more columns than the header."]))
            continue
        rows.append(_row_plan(line, record, existing, seen_names, seen, known))
    if not rows and not file_errors:
        file_errors.append("The file has no rows after the header.")
    return ImportPlan(rows, file_errors)


class SeenDomains:
    """Domains claimed by earlier rows of the file, with an index of their parents
    so "is a domain of another row below this one" is a lookup, not a scan."""

    def __init__(self):
        self.by_domain = {}  # domain -> (lowercased name, name, line)
        self.below = {}  # parent domain -> the first claim below it

    def clash(self, domain):
        found = next((self.by_domain[c] for c in domain_candidates(domain) if c in self.by_domain), None)
        return found or self.below.get(domain)

    def add(self, domain, claim):
        self.by_domain[domain] = claim
        for parent in domain_candidates(domain)[1:]:
            self.below.setdefault(parent, claim)


def _row_plan(line, record, existing, seen_names, seen, known):
    name = (record.get("name") or "").strip()
    row = RowPlan(line, name)
    row.errors.extend(_text_problems(name, (record.get("notes") or "").strip()))
    if row.errors:
        row.name, row.action = name[:NAME_MAX_LENGTH] + ("…" if len(name) > NAME_MAX_LENGTH else ""), "error"
        return row
    if not name:
        row.errors.append("The name is empty.")
    elif name.lower() in seen_names:
        row.errors.append(f"{name} appears again (first on line {seen_names[name.lower()]}); put all its domains on one row.")
    else:
        seen_names[name.lower()] = line
    customer = existing.get(name.lower())
    row.customer = customer
    current = {d.domain for d in customer.domains.all()} if customer else set()
    for raw in split_domains(record.get("domains")):
        try:
            domain = domain_validate_for_customer(raw, customer=customer, known=known)
        except ValidationError as error:
            row.errors.extend(error.messages)
            continue
        clash = seen.clash(domain)
        if clash and clash[0] != name.lower():
            row.errors.append(f"{domain} overlaps a domain of {clash[1]} on line {clash[2]}.")
            continue
        seen.add(domain, (name.lower(), name, line))
        if domain in current:
            row.existing_domains.append(domain)
        elif domain not in row.new_domains:
            row.new_domains.append(domain)
    notes = (record.get("notes") or "").strip()
    if customer is None:
        row.notes = notes
        if not row.new_domains and not row.errors:
            row.errors.append("A new customer needs at least one domain.")
        row.action = "create"
    elif row.new_domains or (notes and notes != customer.notes):
        row.notes = notes if notes and notes != customer.notes else None
        # Shown old -> new in the preview: an import never replaces what the preview did not show.
        row.old_notes = customer.notes if row.notes is not None else None
        row.action = "update"
    if row.errors:
        row.action = "error"
    return row


def _text_problems(name, notes):
    """What the database could not hold, found in the plan (so the preview shows it)."""
    problems = []
    if len(name) > NAME_MAX_LENGTH:
        problems.append(f"The name is {len(name)} characters long; at most {NAME_MAX_LENGTH} fit.")
    else:
        try:
            single_line_name_validate(name)
        except ValidationError as error:
            problems.extend(error.messages)
    if len(notes) > NOTES_MAX_LENGTH:
        problems.append(f"The notes are {len(notes)} characters long; at most {NOTES_MAX_LENGTH} fit.")
    return problems


def import_apply(*, actor, text, request=None):
    """Apply the file in one transaction; return the plan. Nothing is written if any row fails.

    Writes in bulk (customers, domains, and their audit rows each in a few
    statements): one audit row per customer created or updated, listing the
    domains it gained, plus one customer.import row for the whole file."""
    with transaction.atomic():
        plan = import_plan(text)
        if plan.has_errors:
            return plan
        creates = [row for row in plan.rows if row.action == "create"]
        updates = [row for row in plan.rows if row.action == "update"]
        customers = Customer.objects.bulk_create([Customer(name=row.name, notes=row.notes or "") for row in creates])
        for row, customer in zip(creates, customers, strict=True):
            row.customer = customer
        _notes_update([(row.customer, row.notes) for row in updates if row.notes is not None])
        domains = CustomerDomain.objects.bulk_create(
            [CustomerDomain(customer=row.customer, domain=d) for row in creates + updates for d in row.new_domains],
            batch_size=1000,
        )
        customers_import_record(actor=actor, plan=plan, creates=creates, updates=updates, domains=domains,
                                request=request)
    return plan


def _notes_update(changes, batch=1000):
    """New notes for many customers in a few statements: UPDATE ... FROM (VALUES ...)
    (Django's bulk_update builds a CASE per row, which takes seconds at 5,000 rows)."""
    now = timezone.now()
    table = connection.ops.quote_name(Customer._meta.db_table)
    for start in range(0, len(changes), batch):
        chunk = changes[start:start + batch]
        values = ", ".join(["(%s, %s)"] * len(chunk))
        params = [now] + [p for customer, notes in chunk for p in (customer.pk, notes)]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET notes = v.column2, updated_at = %s FROM (VALUES {values}) AS v "
                           f"WHERE {table}.id = v.column1", params)
        for customer, notes in chunk:
            customer.notes, customer.updated_at = notes, now
