"""The audit log as a hash chain: each row carries the SHA-256 of its own
content and the previous row's hash, so an altered, removed or re-ordered row
breaks every link after it.

Appends are serialised (a PostgreSQL advisory lock held until the writing
transaction commits), so two concurrent writers never hash onto the same
previous row and the chain cannot fork. Rows are chained in id order, which
under that lock is the order they were written.
"""

import datetime
import hashlib
import ipaddress
import json
from dataclasses import dataclass

from django.db import connection

GENESIS = "0" * 64
# Any fixed number: the one advisory lock that serialises audit appends.
_CHAIN_LOCK_KEY = 0x5645_4354_4155_4454 & 0x7FFF_FFFF_FFFF_FFFF


def _canonical_json_value(value):
    """What a value reads back as from any database's JSON column (jsonb turns 1e20 into an integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_json_value(v) for v in value]
    if isinstance(value, str):
        return text_storable(value)
    return value


def text_storable(value):
    """PostgreSQL text and jsonb cannot hold NUL: an audit row must never fail on hostile text."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def details_canonical(details):
    return json.loads(json.dumps(_canonical_json_value(details or {})))


def _ip_canonical(value):
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value)).compressed
    except ValueError:
        return str(value)


def _at_canonical(at):
    return at.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


def content_of(row):
    """The hashed content of one row (an AuditEvent or a values() dict with the same keys)."""
    get = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    content = {
        "at": _at_canonical(get("at")),
        "actor_id": get("actor_id"),
        "actor_label": get("actor_label"),
        "action": get("action"),
        "target_type": get("target_type"),
        "target_id": get("target_id"),
        "customer_id": get("customer_id"),
        "ip_address": _ip_canonical(get("ip_address")),
        "details": _canonical_json_value(get("details")),
    }
    # Hashed when set; rows written before the column existed keep their hashes.
    if get("customer_name"):
        content["customer_name"] = get("customer_name")
    return content


def link_hash(prev_hash, content):
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{text}".encode("utf-8")).hexdigest()


def chain_lock_and_head(model):
    """Inside a transaction: wait for the chain's lock, then return the newest row's hash."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    head = model.objects.order_by("-id").values_list("chain_hash", flat=True).first()
    return head or GENESIS


def chain_link(events, prev_hash):
    """Set prev_hash and chain_hash on unsaved events in order; return the last hash."""
    for event in events:
        event.prev_hash = prev_hash
        event.chain_hash = link_hash(prev_hash, content_of(event))
        prev_hash = event.chain_hash
    return prev_hash


@dataclass
class ChainReport:
    rows: int
    ok: bool
    problem: str = ""
    row_id: int | None = None

    def __str__(self):
        if self.ok:
            return f"Audit chain verified: {self.rows} rows, every link intact."
        return f"Audit chain broken at row #{self.row_id}: {self.problem}"


VERIFY_FIELDS = ("id", "prev_hash", "chain_hash", "at", "actor_id", "actor_label", "action",
                 "target_type", "target_id", "customer_id", "customer_name", "ip_address", "details")


def chain_verify(model):
    """Walk the whole log in id order; report the first broken or missing link."""
    expected_prev, prev_id, count = GENESIS, None, 0
    for row in model.objects.order_by("id").values(*VERIFY_FIELDS).iterator(chunk_size=2000):
        count += 1
        if row["prev_hash"] != expected_prev:
            where = f"after row #{prev_id}" if prev_id is not None else "before it (the start of the log)"
            return ChainReport(count, False, f"its link does not match the row before it: a row is missing {where}, "
                                             "or rows were re-ordered.", row["id"])
        if row["chain_hash"] != link_hash(row["prev_hash"], content_of(row)):
            return ChainReport(count, False, "its content does not match its hash: the row was altered.", row["id"])
        expected_prev, prev_id = row["chain_hash"], row["id"]
    return ChainReport(count, True)
