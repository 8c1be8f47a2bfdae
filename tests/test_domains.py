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
