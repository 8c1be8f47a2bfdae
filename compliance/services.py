"""Compliance actions: each writes its own audit row."""

from audit.log import audit_log
from audit.models import AuditAction


def pack_download_record(*, actor, snapshot, framework, source, pack, request=None):
    """An evidence pack left the building: which snapshot, framework and exact bytes (hashes)."""
    audit_log(
        actor=actor, action=AuditAction.COMPLIANCE_PACK_DOWNLOAD, target=snapshot, customer=snapshot.customer,
        request=request,
        details={
            "framework": framework.key, "snapshot_date": snapshot.taken_on.isoformat(), "snapshot_id": snapshot.pk,
            "met_threshold_percent": framework.threshold, "filename": pack.filename,
            "manifest_sha256": pack.manifest_sha256, "zip_sha256": pack.zip_sha256,
            "rows": {"controls": len(source.evaluation.rows), "accounts": len(source.evaluation.population.accounts)},
        },
    )
