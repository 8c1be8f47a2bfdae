import pytest
from django.core.exceptions import ValidationError

from customers.domains import DomainError, DomainIndex, address_domain, domain_normalise
from customers.models import Customer, CustomerDomain, OwnDomain
from customers.services import domain_validate_for_customer


@pytest.mark.parametrize("raw,expected", [
    ("Fabrikam.COM", "fabrikam.com"),
    ("  fabrikam.com. ", "fabrikam.com"),
    ("@fabrikam.com", "fabrikam.com"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("eu.mail.fabrikam.co.uk", "eu.mail.fabrikam.co.uk"),
])
def test_normalises(raw, expected):
    assert domain_normalise(raw) == expected


@pytest.mark.parametrize("raw,message", [
    ("", "Enter a domain"),
    ("fabrikam", "needs a dot"),
    ("jane@fabrikam.com", "only the part after the @"),
    ("https://fabrikam.com", "is not a domain"),
    ("fab rikam.com", "is not a domain"),
    ("-fabrikam.com", "not a valid domain"),
    ("fabrikam.c0m", "not a valid domain"),
    ("fabrikam..com", "not a valid domain"),
    ("a" * 64 + ".com", "not a valid domain"),
    ("gmail.com", "free-mail"),
    ("Outlook.com", "free-mail"),
    ("mail.yahoo.com", "free-mail"),
])
def test_rejects_with_clear_message(raw, message):
    with pytest.raises(DomainError, match=message):
        domain_normalise(raw)


def test_duplicate_across_customers_is_refused(db):
    northwind = Customer.objects.create(name="Northwind")
    fabrikam = Customer.objects.create(name="Fabrikam")
    CustomerDomain.objects.create(customer=northwind, domain="northwind.example")
    with pytest.raises(ValidationError, match="already belongs to Northwind"):
        domain_validate_for_customer("NORTHWIND.example", customer=fabrikam)
    with pytest.raises(ValidationError, match="overlaps northwind.example"):
        domain_validate_for_customer("eu.northwind.example", customer=fabrikam)
    # The same customer may list a subdomain of its own domain.
    assert domain_validate_for_customer("eu.northwind.example", customer=northwind) == "eu.northwind.example"


def test_parent_of_another_customers_domain_is_refused(db):
    northwind = Customer.objects.create(name="Northwind")
    CustomerDomain.objects.create(customer=northwind, domain="eu.northwind.example")
    with pytest.raises(ValidationError, match="overlaps"):
        domain_validate_for_customer("northwind.example", customer=Customer.objects.create(name="Other"))


def test_own_msp_domain_is_refused(db):
    OwnDomain.objects.create(domain="contoso-msp.example", source="mailboxes")
    with pytest.raises(ValidationError, match="your own"):
        domain_validate_for_customer("contoso-msp.example")
    with pytest.raises(ValidationError, match="your own"):
        domain_validate_for_customer("it.contoso-msp.example")


def test_address_matching_by_domain_and_subdomain_case_insensitive():
    index = DomainIndex({"fabrikam.example": 1, "xn--bcher-kva.example": 2})
    assert index.customer_for_address("Jane@FABRIKAM.example") == 1
    assert index.customer_for_address("jo@eu.fabrikam.example") == 1
    assert index.customer_for_address("jo@notfabrikam.example") is None
    assert index.customer_for_address("jo@fabrikam.example.evil.test") is None
    assert index.customer_for_address("anna@bücher.example") == 2
    assert index.customer_for_address("no-at-sign") is None
    assert address_domain("x@Bücher.example") == "xn--bcher-kva.example"


# ------------------------------------------------------------------ registrable domains only (hostile-mail issue)

NOT_REGISTRABLE = [
    ("co.uk", "public suffix"),
    ("com.au", "public suffix"),
    ("github.io", "public suffix"),  # the list's private section: anyone can have a name under it
    ("CO.UK.", "public suffix"),
    ("pаypal-support.com", "mixes alphabets"),  # Cyrillic а among Latin letters
    ("xn--pypal-support-w1k.com", "mixes alphabets"),  # the same look-alike typed as punycode
]


@pytest.mark.parametrize("raw,message", NOT_REGISTRABLE)
def test_refuses_what_cannot_identify_one_customer(raw, message):
    with pytest.raises(DomainError, match=message):
        domain_normalise(raw)


def test_refuses_a_parent_of_a_free_mail_domain(monkeypatch):
    """A name that holds a free-mail provider under it would capture all its mail."""
    from customers import domains

    monkeypatch.setattr(domains, "FREE_MAIL_DOMAINS", domains.FREE_MAIL_DOMAINS | {"mail.bigisp.example"})
    domains.domain_problem.cache_clear()
    try:
        with pytest.raises(DomainError, match="contains the free-mail provider mail.bigisp.example"):
            domain_normalise("bigisp.example")
    finally:
        domains.domain_problem.cache_clear()


def test_subdomains_of_registrable_domains_are_fine():
    assert domain_normalise("eu.fabrikam.co.uk") == "eu.fabrikam.co.uk"
    assert domain_normalise("contoso.github.io") == "contoso.github.io"
    assert domain_normalise("bücher.example") == "xn--bcher-kva.example"  # one alphabet: fine


@pytest.mark.parametrize("raw,message", NOT_REGISTRABLE + [("hotmail.co.uk", "free-mail")])
def test_customer_form_refuses_it_and_saves_nothing(admin_client, raw, message):
    from django.urls import reverse

    response = admin_client.post(reverse("customers:create"), {"name": "Capture all", "domains": raw, "notes": ""})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Customer.objects.exists() and not CustomerDomain.objects.exists()


def test_csv_preview_refuses_it_per_line_and_imports_nothing(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    text = "name,domains,notes\nGood,good.example,\n" + "".join(
        f"Bad {n},{raw},\n" for n, (raw, _message) in enumerate(NOT_REGISTRABLE)
    )
    response = admin_client.post(reverse("customers:import"),
                                 {"file": SimpleUploadedFile("c.csv", text.encode(), "text/csv")})
    body = response.content.decode()
    assert "Nothing was imported" in body
    table_rows = body.split("<tr")
    for line, (_raw, message) in enumerate(NOT_REGISTRABLE, start=3):
        row = next(r for r in table_rows if f"<td>{line}</td>" in r)
        assert message in row, (line, message)
    admin_client.post(reverse("customers:import"), {"confirm": "1"})
    assert not Customer.objects.exists() and not CustomerDomain.objects.exists()


@pytest.mark.parametrize("raw,normal", [
    ("Jane@Contoso-MSP.example", "jane@contoso-msp.example"),
    ("  jane@contoso-msp.example ", "jane@contoso-msp.example"),
    ("max@Bücher.example", "max@xn--bcher-kva.example"),
    (None, ""),
    # Look-alikes stay what they are: none of them is Jane's address (the access rule compares this form).
    ("ja\u200bne@contoso-msp.example", "ja\u200bne@contoso-msp.example"),  # zero-width space
    ("\u202ejane@contoso-msp.example", "\u202ejane@contoso-msp.example"),  # right-to-left override
    ("ｊane@contoso-msp.example", "ｊane@contoso-msp.example"),  # full-width letter
    ("jane＠contoso-msp.example", "jane＠contoso-msp.example"),  # full-width @
    ("jane@ｃontoso-msp.example", "jane@ｃontoso-msp.example"),  # full-width domain letter: not an IDN
    ("jane@contoso-msp.example.", "jane@contoso-msp.example."),  # trailing dot
])
def test_the_stored_form_changes_only_case_and_idn(raw, normal):
    from customers.domains import address_normalise

    assert address_normalise(raw) == normal


@pytest.mark.parametrize("raw", [
    "Nancy@NORTHWIND.example", "nancy@northwind.example.", "nancy@north\u200bwind.example", "nancy@ｎorthwind.example",
    "nancy＠northwind.example", "nancy@northwind\uff0eexample",
])
def test_customer_matching_sees_through_disguises(raw):
    from customers.domains import address_domain

    assert address_domain(raw) == "northwind.example"


def test_a_disguised_sender_matches_the_customer(db):
    index = DomainIndex({"northwind.example": 1})
    assert index.customer_for_address("Nancy@NORTHWIND.example.") == 1
    assert index.customer_for_address("nancy@north\u200bwind.example") == 1
    assert index.customer_for_address("nancy@ｎorthwind.example") == 1
    assert DomainIndex({"co.uk": 1}).customer_for_address("someone@hotmail.co.uk") is None  # stored before the rule
