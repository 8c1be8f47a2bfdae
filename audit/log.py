"""The one function every state change calls to write its audit row."""

from .models import AuditEvent

# Keys whose values must never reach the audit table: secrets and content.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"secret", "client_secret", "password", "token", "access_token", "body", "content", "html"}
)


def _check_details(details, path="details"):
    if isinstance(details, dict):
        for key, value in details.items():
            if str(key).lower() in FORBIDDEN_DETAIL_KEYS:
                raise ValueError(f"{path}.{key} may not be written to the audit log")
            _check_details(value, f"{path}.{key}")
    elif isinstance(details, (list, tuple)):
        for index, value in enumerate(details):
            _check_details(value, f"{path}[{index}]")


def client_ip(request):
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_log(*, actor, action, target=None, target_type="", target_id="", customer_id=None, details=None, request=None):
    """Append one audit row. `target` may be a model instance (type and id are taken from it)."""
    details = dict(details or {})
    _check_details(details)
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_label=(actor.get_username() if authenticated else details.pop("actor_label", "")),
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        customer_id=customer_id,
        ip_address=client_ip(request),
        details=details,
    )
