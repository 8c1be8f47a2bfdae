"""Admin pages for a customer's own Microsoft 365 tenant: the consent link,
its callback, linking by tenant ID, Test, unlink, and the tenant's verified
domains offered as customer domains. Thin: integrations.posture.tenant_services does the work."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.access import require_role
from accounts.models import Role
from customers.models import Customer
from customers.services import domain_add, domain_validate_for_customer
from security.models import CustomerTenant

from ..setup.connection import connection_get
from . import tenant_services as service


def consent_redirect_uri(request):
    """The one redirect URI to register on the app: Entra requires an exact match."""
    return request.build_absolute_uri(reverse("integrations:customer_tenant_callback"))


@require_role(Role.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def customer_tenant(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    link = CustomerTenant.objects.filter(customer=customer).first()
    context = {"customer": customer, "link": link, "connection": connection_get(),
               "redirect_uri": consent_redirect_uri(request), "report": None, "consent_url": "",
               "tenant_id_typed": ""}
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "consent_link":
            context["consent_url"] = service.consent_url_build(actor=request.user, customer=customer,
                                                               redirect_uri=context["redirect_uri"], request=request)
        elif action == "link_by_id":
            context["tenant_id_typed"] = request.POST.get("tenant_id", "")[:100]
            context["report"] = service.tenant_link_by_id(actor=request.user, customer=customer,
                                                          tenant_id=context["tenant_id_typed"], request=request)
        elif action == "test" and link is not None and link.linked:
            context["report"] = service.customer_tenant_retest(actor=request.user, link=link, request=request)
        elif action == "unlink":
            deleted = service.tenant_unlink(actor=request.user, customer=customer, request=request)
            if link is not None and link.linked:
                messages.success(request, f"Unlinked. {deleted} stored posture snapshot{'s' if deleted != 1 else ''} "
                                          "from that tenant deleted; the customer is matched by domain again.")
            elif link is not None:
                messages.success(request, "The pending consent was cancelled: its answer can no longer link a tenant.")
            return redirect("integrations:customer_tenant", customer_id=customer.pk)
        elif action == "add_domain" and link is not None:
            return _add_offered_domain(request, customer, link)
    except service.ConsentError as error:
        messages.error(request, str(error))
    context["link"] = CustomerTenant.objects.filter(customer=customer).first()
    if context["link"] is not None and context["link"].linked:
        context["offered_domains"] = service.offered_domains(context["link"])
    return render(request, "integrations/customer_tenant.html", context)


def _add_offered_domain(request, customer, link):
    raw = request.POST.get("domain", "")
    if raw not in service.offered_domains(link):
        messages.error(request, "Only a verified domain of the linked tenant can be added here.")
    else:
        try:
            domain = domain_validate_for_customer(raw, customer=customer)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            domain_add(actor=request.user, customer=customer, domain=domain, request=request)
            messages.success(request, f"Added {domain} to {customer.name}.")
    return redirect("integrations:customer_tenant", customer_id=customer.pk)


@require_role(Role.ADMIN)
@never_cache
def customer_tenant_callback(request):
    """Where Entra sends the customer's admin back after consent."""
    try:
        link, report = service.consent_complete(actor=request.user, params=request.GET, request=request)
    except service.ConsentError as error:
        return render(request, "integrations/customer_tenant_refused.html", {"reason": str(error)}, status=400)
    (messages.success if report.ok else messages.warning)(request, f"Linked. {report.headline}")
    return redirect("integrations:customer_tenant", customer_id=link.customer_id)
