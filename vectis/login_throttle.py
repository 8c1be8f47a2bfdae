"""Slow down password guessing: after too many failed sign-ins for one username
within the window, refuse further attempts for it until the window passes.

Counted per username, not per address: behind a proxy every user shares one
address, and locking that would lock everyone out. Counts live in the cache
(Redis in production, shared by every web process) under a hash of the
username; no password is ever kept."""

import hashlib

from django.core.cache import cache

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60


def _key(username):
    return "login-fail:" + hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]


def login_locked(*, username):
    return (cache.get(_key(username)) or 0) >= MAX_FAILURES


def login_failure_record(*, username):
    key = _key(username)
    if cache.add(key, 1, WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, WINDOW_SECONDS)


def login_failures_clear(*, username):
    cache.delete(_key(username))
