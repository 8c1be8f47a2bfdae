"""How account actions write their audit rows without importing audit.

accounts is the lowest layer: audit (and every app) imports it, so it cannot
import audit.log itself. Its actions call `account_audit`, which audit's
AppConfig.ready() points at audit_log; the row is written in the caller's
transaction, as any other action's. With no writer installed the call fails
loudly instead of letting a change go unaudited.
"""

from django.core.exceptions import ImproperlyConfigured

_writer = None


def audit_writer_install(writer):
    global _writer
    _writer = writer


def account_audit(*, actor, action, target=None, request=None, details=None):
    if _writer is None:
        raise ImproperlyConfigured("No audit writer installed: add the audit app to INSTALLED_APPS")
    return _writer(actor=actor, action=action, target=target, request=request, details=details)


def client_ip(request):
    """The address a request came from (REMOTE_ADDR; the proxy sets it), or None."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
