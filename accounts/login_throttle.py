"""Slow down password guessing without letting anyone lock everyone out.

Three counters, all in the shared cache (Redis in production, so every web
process sees the same counts; no password is ever kept):

- per username, on the name the sign-in form actually authenticates
  (NFKC-normalised as Django's AbstractBaseUser.normalize_username does, then
  case-folded), so look-alikes such as "ｔech2", "𝐭ech2" and "tech２" all count
  against "tech2";
- per user id when the name belongs to a user, so the account stays locked
  whatever spelling reaches it;
- per client address, with a higher limit: one address can lock at most a
  few accounts before it is refused itself. (Behind a proxy every user shares
  the proxy's address, so the limit is generous and per-account locks stay.)

A locked sign-in is answered exactly like a wrong password.
"""

import hashlib
import unicodedata

from django.core.cache import cache

MAX_FAILURES = 10
ADDRESS_MAX_FAILURES = 30
WINDOW_SECONDS = 15 * 60
USERNAME_MAX_LENGTH = 150


def username_canonical(raw):
    """The case-folded, NFKC-normalised username the form authenticates (or '' for unusable input)."""
    text = (raw or "").strip()
    if len(text) > USERNAME_MAX_LENGTH:
        return ""
    return unicodedata.normalize("NFKC", text).casefold()


def username_acceptable(raw):
    """False for input no account can have: empty, over-long, NUL or other control characters."""
    text = (raw or "").strip()
    if not text or len(text) > USERNAME_MAX_LENGTH:
        return False
    return not any(unicodedata.category(ch) == "Cc" for ch in text)


def _key(kind, value):
    return f"login-fail:{kind}:" + hashlib.sha256(str(value).encode()).hexdigest()[:32]


def _keys(*, username, user_id=None, address=None):
    keys = {"name": _key("name", username_canonical(username))}
    if user_id is not None:
        keys["user"] = _key("user", user_id)
    if address:
        keys["address"] = _key("address", address)
    return keys


def login_failure_count(*, username, user_id=None):
    """Failures so far in the window for this name (or its account, whichever is higher)."""
    keys = _keys(username=username, user_id=user_id)
    counts = cache.get_many(list(keys.values()))
    return max(counts.values(), default=0)


def login_locked(*, username, user_id=None):
    return login_failure_count(username=username, user_id=user_id) >= MAX_FAILURES


def address_locked(*, address):
    return bool(address) and (cache.get(_key("address", address)) or 0) >= ADDRESS_MAX_FAILURES


def _incr(key):
    if cache.add(key, 1, WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, WINDOW_SECONDS)
        return 1


def login_failure_record(*, username, user_id=None, address=None):
    """Count one failure on every counter; return the username's count in this window."""
    counts = {kind: _incr(key) for kind, key in _keys(username=username, user_id=user_id, address=address).items()}
    return max(counts.get("name", 0), counts.get("user", 0))


def address_failure_record(*, address):
    """Count a failure against the address alone (input no account can have)."""
    return _incr(_key("address", address)) if address else 0


def login_failures_clear(*, username, user_id=None):
    cache.delete_many(list(_keys(username=username, user_id=user_id).values()))


def address_lock_reported(*, address):
    """True after the first call in a window: the address lock is audited once."""
    return not cache.add(_key("address-reported", address), 1, WINDOW_SECONDS)
