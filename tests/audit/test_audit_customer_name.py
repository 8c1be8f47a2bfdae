"""Audit rows carry the customer's name as it was when they were written: the
audit app never reads the customers table, and the name outlives a deletion."""

from django.urls import reverse

from audit.chain import chain_verify
from audit.models import AuditEvent
from customers.models import Customer
from tests.audit.test_audit_chain import tamper


def test_a_deleted_customers_rows_still_name_it(admin_client):
    admin_client.post(reverse("customers:create"), {"name": "Northwind", "domains": "northwind.example", "notes": ""})
    customer = Customer.objects.get()
    admin_client.post(reverse("customers:edit", args=[customer.pk]), {"name": "Northwind Traders", "domains": "northwind.example", "notes": ""})
    admin_client.post(reverse("customers:delete", args=[customer.pk]), {"confirm_name": "Northwind Traders"})
    assert not Customer.objects.exists()
    names = list(AuditEvent.objects.filter(customer_id=customer.pk).order_by("id").values_list("action", "customer_name"))
    assert names == [("customer.create", "Northwind"), ("domain.add", "Northwind"),
                     ("customer.update", "Northwind Traders"), ("customer.delete", "Northwind Traders")]
    page = admin_client.get(reverse("audit:list")).content.decode()
    assert 'data-label="Customer">Northwind Traders</td>' in page and "(deleted)" not in page
    # The filter offers the customer by its newest name, though it no longer exists.
    assert f'<option value="{customer.pk}">Northwind Traders</option>' in page
    assert chain_verify(AuditEvent).ok


def test_the_stored_name_is_part_of_the_hashed_row(admin_client, owner_database_role):
    admin_client.post(reverse("customers:create"), {"name": "Northwind", "domains": "", "notes": ""})
    tamper("UPDATE audit_auditevent SET customer_name = %s WHERE action = %s", ["Someone Else", "customer.create"])
    report = chain_verify(AuditEvent)
    assert not report.ok and "altered" in report.problem
