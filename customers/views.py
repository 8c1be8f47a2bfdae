from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import require_role
from accounts.models import Role

from . import csv_import, selectors, services
from .forms import ContactForm, CsvImportForm, CustomerForm
from .hub import communications_section, hub_sections
from .models import Contact, Customer, CustomerDomain, Message

PAGE_SIZE = 25
IMPORT_SESSION_KEY = "customer_import_csv"
SEARCH_MAX_LENGTH = 200


@require_role()
def customer_list(request):
    # A search term is at most a name's length, and no stored text holds NUL.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
    customers = Customer.objects.order_by(Lower("name"), "pk")
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(domains__domain__icontains=query.lower())).distinct()
    latest = selectors.customer_messages(request.user, OuterRef("pk"))
    customers = customers.annotate(last_email_id=Subquery(latest.values("id")[:1]))
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    # One subquery per row finds the message; one query for the page reads them.
    last_emails = Message.objects.in_bulk([c.last_email_id for c in page if c.last_email_id])
    domains_by_customer = {}
    for row in CustomerDomain.objects.filter(customer__in=[c.pk for c in page]).values("customer_id", "domain"):
        domains_by_customer.setdefault(row["customer_id"], []).append(row["domain"])
    for customer in page:
        customer.domain_list = domains_by_customer.get(customer.pk, [])
        customer.last_email = last_emails.get(customer.last_email_id)
    return render(request, "customers/list.html", {"page": page, "query": query, "qs": urlencode({"q": query}) if query else ""})


@require_role(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = services.customer_create(
            actor=request.user, name=form.cleaned_data["name"], notes=form.cleaned_data["notes"],
            domains=form.cleaned_data["domains"], request=request,
        )
        messages.success(request, f"Created {customer.name}.")
        return redirect("customers:hub", customer_id=customer.pk)
    return render(request, "customers/form.html", {"form": form, "title": "New customer"})


@require_role(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def customer_edit(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    initial = {"name": customer.name, "notes": customer.notes}
    form = CustomerForm(request.POST or None, customer=customer, initial=initial)
    contact_form = ContactForm(customer=customer)
    if request.method == "POST" and form.is_valid():
        services.customer_update(actor=request.user, customer=customer, name=form.cleaned_data["name"],
                                 notes=form.cleaned_data["notes"], domains=form.cleaned_data["domains"], request=request)
        messages.success(request, f"Saved {customer.name}.")
        return redirect("customers:edit", customer_id=customer.pk)
    return render(request, "customers/edit.html", {
        "form": form, "customer": customer, "contact_form": contact_form,
        "domains": customer.domains.all(), "contacts": customer.contacts.all(),
    })


@require_role(Role.ADMIN)
@require_POST
def customer_delete(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    if request.POST.get("confirm_name", "").strip() != customer.name:
        messages.error(request, "Type the customer's name exactly to delete it.")
        return redirect("customers:edit", customer_id=customer.pk)
    name = customer.name
    services.customer_delete(actor=request.user, customer=customer, request=request)
    messages.success(request, f"Deleted {name} and everything stored for it.")
    return redirect("customers:list")


@require_role(Role.ADMIN)
@require_POST
def domain_remove(request, customer_id, domain_id):
    row = get_object_or_404(CustomerDomain, pk=domain_id, customer_id=customer_id)
    services.domain_remove(actor=request.user, domain_row=row, request=request)
    messages.success(request, f"Removed {row.domain}.")
    return redirect("customers:edit", customer_id=customer_id)


@require_role(Role.ADMIN)
@require_POST
def contact_add(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    contact_form = ContactForm(request.POST, customer=customer)
    if contact_form.is_valid():
        services.contact_add(actor=request.user, customer=customer, request=request, **contact_form.cleaned_data)
        messages.success(request, f"Added {contact_form.cleaned_data['email']}.")
        return redirect("customers:edit", customer_id=customer.pk)
    form = CustomerForm(customer=customer, initial={"name": customer.name, "notes": customer.notes})
    return render(request, "customers/edit.html", {
        "form": form, "customer": customer, "contact_form": contact_form,
        "domains": customer.domains.all(), "contacts": customer.contacts.all(),
    }, status=400)


@require_role(Role.ADMIN)
@require_POST
def contact_remove(request, customer_id, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id, customer_id=customer_id)
    services.contact_remove(actor=request.user, contact=contact, request=request)
    messages.success(request, f"Removed {contact.email}.")
    return redirect("customers:edit", customer_id=customer_id)


@require_role(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def customer_import(request):
    """Step 1 (upload, shows a preview) and step 2 (confirm, applies it)."""
    if request.method == "POST" and "confirm" in request.POST:
        text = request.session.get(IMPORT_SESSION_KEY)
        if text is None:
            messages.error(request, "The preview expired; upload the file again.")
            return redirect("customers:import")
        plan = csv_import.import_apply(actor=request.user, text=text, request=request)
        # Applied or refused, this plan is finished: a retry starts from a new upload.
        del request.session[IMPORT_SESSION_KEY]
        if plan.has_errors:
            return render(request, "customers/import.html", {"form": CsvImportForm(), "plan": plan})
        messages.success(request, f"Imported: {plan.count('create')} created, {plan.count('update')} updated, "
                                  f"{plan.count('unchanged')} unchanged.")
        return redirect("customers:list")
    form = CsvImportForm(request.POST or None, request.FILES or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["file"]
        plan = csv_import.import_plan(text)
        if plan.has_errors:
            request.session.pop(IMPORT_SESSION_KEY, None)
        else:
            request.session[IMPORT_SESSION_KEY] = text
    return render(request, "customers/import.html", {"form": form, "plan": plan})


@require_role()
def customer_hub(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    # Read once: the page lists them and the hub's "is this address the customer's?" rule uses them.
    domains, contacts = list(customer.domains.all()), list(customer.contacts.all())
    if request.htmx and request.GET.get("page"):
        # The Communications list pages in place.
        section = communications_section(request, customer, domains=domains, contacts=contacts)
        return render(request, "customers/_messages.html", {"customer": customer, **section})
    context = {"customer": customer, "domains": domains, "contacts": contacts}
    context.update(hub_sections(request, customer, domains=domains, contacts=contacts))
    return render(request, "customers/hub.html", context)
