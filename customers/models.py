"""Customers, the email domains that identify them, and their contacts."""

from django.db import models
from django.db.models.functions import Lower

from .domains import domain_problem


class Customer(models.Model):
    name = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="customer_name_unique_ci")]

    def __str__(self):
        return self.name


class CustomerDomain(models.Model):
    # Stored lowercase ASCII (punycode); unique across all customers so an
    # address can only ever belong to one customer.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain

    @property
    def problem(self):
        """Why this stored domain matches no mail (saved before a rule existed), or ""."""
        return domain_problem(self.domain)


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(fields=["customer", "email"], name="contact_email_unique_per_customer")]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class OwnDomain(models.Model):
    """A domain of the MSP itself, learned from the tenant and the technician
    mailboxes. It can never be a customer domain, or all internal mail would
    be kept as customer mail."""

    domain = models.CharField(max_length=253, unique=True)
    source = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return self.domain


from .communications import (  # noqa: E402,F401  (models must be importable from models.py)
    Direction,
    Event,
    EventCustomer,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
