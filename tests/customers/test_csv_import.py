from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from customers.csv_import import import_apply, import_plan
from customers.models import Customer, CustomerDomain

GOOD = """name,domains,notes
Northwind Traders,northwind.example;northwind.co.uk,Gold plan
Fabrikam,fabrikam.example,
"""

BAD = """name,domains,notes
Contoso,contoso.example,
Gmail Lovers,gmail.com,
,nameless.example,
Dupe,contoso.example,
"""


def upload(client, text, name="customers.csv"):
    return client.post(reverse("customers:import"), {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def test_good_file_previews_then_imports(admin_client, admin_user):
    response = upload(admin_client, GOOD)
    assert response.status_code == 200
    assert b"2 to create" in response.content
    assert Customer.objects.count() == 0  # preview changes nothing
    response = admin_client.post(reverse("customers:import"), {"confirm": "1"})
    assert response.status_code == 302
    assert set(Customer.objects.values_list("name", flat=True)) == {"Northwind Traders", "Fabrikam"}
    assert set(CustomerDomain.objects.values_list("domain", flat=True)) == {
        "northwind.example", "northwind.co.uk", "fabrikam.example"}
    assert Customer.objects.get(name="Northwind Traders").notes == "Gold plan"
    assert AuditEvent.objects.filter(action="customer.import").count() == 1
    created = AuditEvent.objects.filter(action="customer.create")
    assert sorted(e.details["domains_added"] for e in created) == [["fabrikam.example"], ["northwind.example", "northwind.co.uk"]]
    assert all(e.customer_id for e in created)


def test_bad_rows_import_nothing_and_say_why(admin_client):
    response = upload(admin_client, BAD)
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "free-mail" in body
    assert "The name is empty" in body
    assert "contoso.example overlaps a domain of Contoso on line 2" in body
    assert Customer.objects.count() == 0
    # Confirming without a clean preview does nothing either.
    admin_client.post(reverse("customers:import"), {"confirm": "1"})
    assert Customer.objects.count() == 0


def test_reimport_creates_no_duplicates(db, admin_user):
    import_apply(actor=admin_user, text=GOOD)
    plan = import_plan(GOOD)
    assert [row.action for row in plan.rows] == ["unchanged", "unchanged"]
    import_apply(actor=admin_user, text=GOOD + "Fabrikam Two,fabrikam2.example,\n")
    assert Customer.objects.count() == 3
    assert CustomerDomain.objects.count() == 4
    # Adding a domain to an existing customer is an update, matched by name case-insensitively.
    plan = import_apply(actor=admin_user, text="name,domains\nfabrikam,fabrikam.example;fabrikam.net\n")
    assert [row.action for row in plan.rows] == ["update"]
    assert set(Customer.objects.get(name="Fabrikam").domains.values_list("domain", flat=True)) == {
        "fabrikam.example", "fabrikam.net"}


def test_a_failure_inside_apply_rolls_everything_back(db, admin_user):
    text = GOOD + "Broken,broken.example;northwind.example,\n"
    plan = import_apply(actor=admin_user, text=text)
    assert plan.has_errors
    assert Customer.objects.count() == 0


def test_missing_header_and_encoding(admin_client):
    response = upload(admin_client, "customer,domain\nA,a.example\n")
    assert "must have the columns name and domains" in response.content.decode()
    response = admin_client.post(reverse("customers:import"), {
        "file": SimpleUploadedFile("x.csv", "name,domains\nÅ,a.example\n".encode("latin-1"))})
    assert "not UTF-8" in response.content.decode()
    assert Customer.objects.count() == 0


def test_members_cannot_import(member_client):
    assert upload(member_client, GOOD).status_code == 403
    assert Customer.objects.count() == 0


def test_over_long_names_and_nul_are_shown_in_the_preview_not_a_500(admin_client):
    text = "name,domains,notes\n" + "N" * 201 + ",long.example,\nFine,fine.example,a\u202eb\nRtl\u202eName,rtl.example,\n"
    response = upload(admin_client, text)
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported" in body
    assert "The name is 201 characters long; at most 200 fit." in body
    assert "U+202E" in body
    assert admin_client.post(reverse("customers:import"), {"confirm": "1"}).status_code == 302  # "upload again"
    assert Customer.objects.count() == 0
    response = admin_client.post(reverse("customers:import"), {"file": SimpleUploadedFile("x.csv", b"name,domains\nA\x00B,a.example\n")})
    assert "NUL characters" in response.content.decode()
    assert Customer.objects.count() == 0


def test_a_plan_that_fails_at_confirm_is_discarded(admin_client, admin_user):
    upload(admin_client, GOOD)
    # Between preview and confirm, someone else takes a domain: the confirm fails cleanly...
    from customers.services import customer_create

    customer_create(actor=admin_user, name="Squatter", domains=["fabrikam.example"])
    response = admin_client.post(reverse("customers:import"), {"confirm": "1"})
    assert response.status_code == 200 and "Nothing was imported" in response.content.decode()
    # ...and the plan is gone: a retry asks for a new upload instead of failing again.
    response = admin_client.post(reverse("customers:import"), {"confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("customers:import")
    assert Customer.objects.count() == 1


def test_an_import_updates_notes_and_adds_domains_in_bulk(db, admin_user):
    import_apply(actor=admin_user, text=GOOD)
    text = "name,domains,notes\nNorthwind Traders,northwind.example;nw2.example,Platinum\nfabrikam,fabrikam.example,It's \"new\"\n"
    plan = import_apply(actor=admin_user, text=text)
    assert [row.action for row in plan.rows] == ["update", "update"]
    assert dict(Customer.objects.values_list("name", "notes")) == {"Northwind Traders": "Platinum", "Fabrikam": "It's \"new\""}
    assert CustomerDomain.objects.get(domain="nw2.example").customer.name == "Northwind Traders"
    update = AuditEvent.objects.get(action="customer.update", details__name="Northwind Traders")
    assert update.details["domains_added"] == ["nw2.example"] and update.details["notes"] == "changed"


def test_the_preview_shows_every_field_that_changes_and_the_import_changes_nothing_else(admin_client):
    """Issue 16: notes used to be replaced silently. The preview shows old -> new
    for every field it will change, and after confirming exactly those changed."""
    from customers.models import Customer, CustomerDomain

    northwind = Customer.objects.create(name="Northwind Traders", notes="Demo customer (simulated tenant).")
    CustomerDomain.objects.create(customer=northwind, domain="northwind.example")
    fabrikam = Customer.objects.create(name="Fabrikam", notes="Keep me")
    CustomerDomain.objects.create(customer=fabrikam, domain="fabrikam.example")
    text = "name,domains,notes\nNorthwind Traders,northwind.example,EU subsidiary\nFabrikam,fabrikam.example;fabrikam.eu,\n"
    before = {c.name: (c.notes, set(c.domains.values_list("domain", flat=True))) for c in Customer.objects.all()}
    body = upload(admin_client, text).content.decode()
    assert "replaces" in body and "<del>Demo customer (simulated tenant).</del>" in body and "<ins>EU subsidiary</ins>" in body
    assert "+ fabrikam.eu" in body
    assert "Keep me" not in body  # an empty notes cell changes nothing, so nothing about it is shown
    admin_client.post(reverse("customers:import"), {"confirm": "1"})
    after = {c.name: (c.notes, set(c.domains.values_list("domain", flat=True))) for c in Customer.objects.all()}
    assert after == {
        "Northwind Traders": ("EU subsidiary", before["Northwind Traders"][1]),  # shown: notes old -> new
        "Fabrikam": ("Keep me", before["Fabrikam"][1] | {"fabrikam.eu"}),  # shown: + fabrikam.eu
    }
