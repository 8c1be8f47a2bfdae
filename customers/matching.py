"""The one rule for "is this address a customer's?": by domain (or a parent
domain) for everything, by listed contact address for meeting attendees.

The sync builds a matcher for every customer once per run; the hub builds
one for the customer on the page from the domains and contacts it already
read; the connection form asks it whether an MSP domain or mailbox is a
customer's. Lookups are dict reads, never queries.
"""

import hashlib
from dataclasses import dataclass, field

from .domains import DomainIndex, address_normalise
from .models import Contact, CustomerDomain

KNOWN_ADDRESSES_MAX = 100_000  # addresses a run's matcher remembers


@dataclass(frozen=True)
class CustomerMatcher:
    domains: DomainIndex
    contacts: dict  # lowercase address -> customer id
    fingerprint: str  # changes whenever the customer-domain set does
    # The same few thousand addresses recur on every page of a run: each is
    # matched once (bounded, so a flood of unique hostile addresses cannot grow it).
    known: dict = field(default_factory=dict, compare=False, repr=False)

    def customer_for_address(self, address):
        try:
            return self.known[address]
        except (KeyError, TypeError):
            customer_id = self.domains.customer_for_address(address)
        if len(self.known) < KNOWN_ADDRESSES_MAX and isinstance(address, str):
            self.known[address] = customer_id
        return customer_id

    def customer_for_attendee(self, address):
        customer_id = self.domains.customer_for_address(address)
        return customer_id if customer_id is not None else self.contacts.get(address_normalise(address))

    def is_customer_domain(self, domain):
        return self.domains.customer_for_domain(domain) is not None

    def overlaps_customer_domain(self, domain):
        """The domain is a customer's, inside one, or holds one (so it cannot be the MSP's own)."""
        return self.is_customer_domain(domain) or any(stored.endswith("." + domain) for stored in self.domains.domains())


def _matcher(pairs, contacts):
    pairs = sorted(pairs)
    fingerprint = hashlib.sha256("\n".join(domain for domain, _ in pairs).encode()).hexdigest()
    return CustomerMatcher(domains=DomainIndex(pairs), contacts=contacts, fingerprint=fingerprint)


def customer_matcher_build():
    """Every customer's domains and contacts, in two queries."""
    contacts = {
        address_normalise(email): customer_id for email, customer_id in Contact.objects.values_list("email", "customer_id")
    }
    return _matcher(CustomerDomain.objects.values_list("domain", "customer_id"), contacts)


def customer_matcher_for(customer, domains, contacts):
    """One customer's rule from rows already read (the hub): no query."""
    return _matcher([(d.domain, customer.pk) for d in domains], {address_normalise(c.email): customer.pk for c in contacts})
