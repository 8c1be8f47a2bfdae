"""Audit actions: reading the log out writes a row of its own."""

from .log import audit_log
from .models import AuditAction


def audit_export_record(*, actor, rows, query, request=None):
    """Written before the export's first byte is sent; the filters as asked (truncated)."""
    audit_log(actor=actor, action=AuditAction.AUDIT_EXPORT_CSV, request=request,
              details={"rows": rows, "filters": {k[:40]: v[:200] for k, v in list(query.items())[:10] if k != "page"}})
