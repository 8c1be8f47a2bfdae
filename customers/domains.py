"""What counts as a customer domain, and whether an address is at one.

Domains are stored lowercase in their ASCII (punycode) form, so an address
written in Unicode and one written in punycode match the same customer.
"""

import re

import idna

# Consumer mail providers: a customer is never identified by these, or
# every stranger's mail would match.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com",
        "msn.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.net", "gmx.de",
        "mail.com", "yandex.com", "yandex.ru", "zoho.com", "fastmail.com", "hey.com",
        "web.de", "tutanota.com", "qq.com", "163.com",
    }
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class DomainError(ValueError):
    pass


def domain_normalise(raw):
    """Return the canonical ASCII form of `raw` or raise DomainError with a clear message."""
    text = (raw or "").strip().rstrip(".")
    if text.startswith("@"):
        text = text[1:]
    if not text:
        raise DomainError("Enter a domain, for example fabrikam.com.")
    if "@" in text or "/" in text or " " in text or ":" in text:
        raise DomainError(f"“{raw.strip()}” is not a domain: enter only the part after the @, such as fabrikam.com.")
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        raise DomainError(f"“{text}” is not a valid domain name.") from None
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2:
        raise DomainError(f"“{text}” is not a full domain name: it needs a dot, like fabrikam.com.")
    if not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise DomainError(f"“{text}” is not a valid domain name.")
    if is_free_mail(ascii_form):
        raise DomainError(
            f"{ascii_form} is a free-mail provider: it cannot identify a customer. "
            "Add the customer's own domain instead."
        )
    return ascii_form


def is_free_mail(domain):
    return any(domain == free or domain.endswith("." + free) for free in FREE_MAIL_DOMAINS)


def domain_display(ascii_domain):
    """Unicode form for people to read; stored form stays ASCII."""
    try:
        return idna.decode(ascii_domain)
    except idna.IDNAError:
        return ascii_domain


def address_domain(address):
    """The normalised domain of an email address, or '' when it has none."""
    address = (address or "").strip().lower()
    if "@" not in address:
        return ""
    domain = address.rsplit("@", 1)[1].rstrip(".")
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return ""


def domain_candidates(domain):
    """The domain and every parent of it: eu.fabrikam.com -> eu.fabrikam.com, fabrikam.com, com."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


class DomainIndex:
    """Maps addresses to customer ids by exact domain or any parent domain.

    Built once per sync run from the database so the filter costs a few dict
    lookups per address, not a query.
    """

    def __init__(self, domain_to_customer):
        self._by_domain = dict(domain_to_customer)

    def __bool__(self):
        return bool(self._by_domain)

    def customer_for_domain(self, domain):
        for candidate in domain_candidates(domain):
            customer_id = self._by_domain.get(candidate)
            if customer_id is not None:
                return customer_id
        return None

    def customer_for_address(self, address):
        domain = address_domain(address)
        return self.customer_for_domain(domain) if domain else None
