"""Where data could leak to: every table, the cache, the logs. Tests search
these for strings that must never be kept (body sentinels, secrets, dropped
mail's addresses and subjects)."""

import pickle

from django.core.cache import caches
from django.db import connection


def all_database_text():
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks += [repr(row) for row in cursor.fetchall()]
    return "\n".join(chunks)


def all_cache_text():
    """Every cache entry, values unpickled (a pickle escapes non-ASCII text, so
    searching the raw bytes would miss it); on Redis every key of the database,
    Celery's included, non-cache values as Redis dumps them."""
    cache = caches["default"]
    backend = type(cache).__name__
    if backend == "LocMemCache":
        return repr([(key, _unpickle(value)) for key, value in list(cache._cache.items())])
    if backend == "RedisCache":
        client = cache._cache.get_client()
        entries = []
        for key in client.scan_iter():
            if client.type(key) == b"string":
                entries.append((key, _cache_value(cache, client.get(key))))
            else:
                entries.append((key, client.dump(key)))
        return repr(entries)
    raise AssertionError(f"no scanner for {backend}")


def _unpickle(data):
    try:
        return pickle.loads(data)
    except Exception:  # not a pickle: search the raw value
        return data


def _cache_value(cache, raw):
    try:
        return cache._cache._serializer.loads(raw)
    except Exception:  # not written by Django's cache: search the raw value
        return raw


def cache_keys_clear():
    """Remove the cache's own keys. On Redis only those (Django's ":1:" keys):
    the same Redis database may also hold Celery's broker queues."""
    cache = caches["default"]
    if type(cache).__name__ == "RedisCache":
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("*")))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


def assert_left_no_trace(needles, *, logs, ignore_case=False):
    """None of the needles is in any table, the cache or the logs (an AllLogs from the all_logs fixture)."""
    places = {"database": all_database_text(), "cache": all_cache_text(), "logs": logs.text}
    needles = [n for n in needles if n]
    assert needles, "nothing to look for"
    for where, text in places.items():
        haystack = text.lower() if ignore_case else text
        for needle in needles:
            assert (needle.lower() if ignore_case else needle) not in haystack, f"{needle!r} reached the {where}"
