"""The hub's "show body" endpoints. They live here, above customers, because
they call Graph; their URLs stay under /customers/ (vectis/urls.py)."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import require_role
from customers import selectors
from customers.models import Customer
from customers.sanitize import body_sanitise

from .bodies import BodyUnavailable
from .services import ItemNotVisible, body_open


# POST: a body fetch calls Graph and writes an audit row, so a link or image
# on another site must not be able to trigger one (htmx sends the CSRF token).
@require_role()
@require_POST
@never_cache
def message_body(request, customer_id, message_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    message = selectors.customer_message_for_body(request.user, customer, message_id)
    return _body_response(request, customer, "message", message, message_id)


@require_role()
@require_POST
@never_cache
def event_body(request, customer_id, event_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    event = selectors.customer_event_for_body(request.user, customer, event_id)
    return _body_response(request, customer, "event", event, event_id)


def _body_response(request, customer, kind, item, item_id):
    """Access check first; only then Graph. The body goes to this response and nowhere else."""
    # Only through a copy this user may see, their own mailbox's first: never
    # another holder's copy of a message that merely shares its ids.
    holders = selectors.copies_visible(request.user, item) if item is not None else []
    try:
        holder, body = body_open(actor=request.user, customer=customer, kind=kind, item=item, item_id=item_id,
                                 holders=holders, request=request)
    except ItemNotVisible:
        raise Http404("No such item") from None
    except BodyUnavailable as problem:
        response = render(request, "customers/_body.html", {"problem": problem.reason, "request_id": problem.request_id}, status=502)
        response["Cache-Control"] = "no-store"
        return response
    load_images = request.GET.get("images") == "1"
    safe_html, blocked = body_sanitise(body.get("content"), content_type=body.get("contentType"), load_images=load_images)
    # Every name the template reads is set: a failed lookup is logged at DEBUG
    # (django.template) with the whole context, and this context holds the body.
    response = render(request, "customers/_body.html", {
        "customer": customer, "kind": kind, "item": item, "body_html": safe_html, "blocked_images": blocked,
        "problem": None, "request_id": None,
    })
    response["Cache-Control"] = "no-store"
    return response
