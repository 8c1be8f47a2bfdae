"""Posture from a customer's own Microsoft 365 tenant: one collection per
linked customer, each under its own claim, so a failing tenant (consent
revoked, app deleted, licence missing) marks only that customer and the
others run on.

The population is the tenant's users, all of them the customer's: no UPN
domain matching. Guests and disabled accounts are kept and counted apart
(security.posture's scope rule), roles and — where Policy.Read.All was
consented — enforcement are read as in the MSP tenant (posture_sync). The
client has an empty mailbox allow-list: nothing here can read mail.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from security.models import CustomerTenant
from security.services import posture_collection_store

from ..graph import errors
from ..setup.claims import ClaimLost, task_claim_row
from ..setup.diagnostics import error_ids
from .posture_sync import _collect, _observed_users, collection_provenance, customer_tenant_source
from .tenant_services import customer_tenant_client, tenant_error_explain

logger = logging.getLogger(__name__)


def tenant_claim_row(customer_id, *, to_take=False):
    return task_claim_row(f"posture-tenant-{customer_id}", to_take=to_take)


def linked_customer_ids():
    return list(CustomerTenant.objects.exclude(tenant_id="").order_by("customer_id").values_list("customer_id", flat=True))


def tenant_posture_collect(*, customer_id) -> str:
    """Collect one linked customer's posture from its tenant. Returns the
    outcome: success | failed | skipped (claimed elsewhere) | unlinked."""
    link = CustomerTenant.objects.filter(customer_id=customer_id).exclude(tenant_id="").first()
    if link is None:
        return "unlinked"
    claim = tenant_claim_row(customer_id, to_take=True).take()
    if claim is None:
        return "skipped"
    started = timezone.now()
    client = None
    try:
        client = customer_tenant_client(link.tenant_id)
        collected = _collect(client, heartbeat=claim.refresh, customer_for=lambda user: customer_id)
        finished = timezone.now()
        claim.refresh(force=True)
        provenance = collection_provenance(client, collected, started=started, finished=finished,
                                           tenant_name=link.tenant_name, source=customer_tenant_source(link.tenant_name))
        if not _store(link, _observed_users(collected), finished, provenance):
            return "unlinked"
        partial = collected.partial_error
        _record(link, client, started, success_at=finished, error=partial,
                note=f"Partial: some users' MFA state is unknown. {partial}" if partial else "")
        return "success"
    except ClaimLost:
        return "skipped"
    except errors.GraphError as error:
        logger.warning("customer tenant %s posture failed: %r", link.tenant_id, error)
        _record(link, client, started, error=error)
        return "failed"
    finally:
        if client is not None:
            client.close()
        claim.release()


@transaction.atomic
def _store(link, observed, finished, provenance):
    # Unlinked (or relinked elsewhere) while reading: its data must not come back.
    if not CustomerTenant.objects.select_for_update().filter(pk=link.pk, tenant_id=link.tenant_id).exists():
        return False
    posture_collection_store(users=observed, as_of=finished, provenance=provenance, customer_id=link.customer_id)
    return True


def _record(link, client, started, *, error=None, success_at=None, note=""):
    fields = {"last_run_at": started, "last_graph_requests": client.counters.total_requests if client else 0,
              "last_error": "", "last_error_fix": "", "last_request_id": ""}
    if success_at is not None:
        fields["last_success_at"] = success_at
    if error is not None:
        cause, fix = tenant_error_explain(error)
        fields.update(last_error=(note or cause)[:2000], last_error_fix=fix, last_request_id=error_ids(error)[:200])
    CustomerTenant.objects.filter(pk=link.pk, tenant_id=link.tenant_id).update(**fields)
