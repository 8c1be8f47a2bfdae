"""Where data could leak to: every table, the cache, the logs. Tests search
these for strings that must never be kept (body sentinels, secrets, dropped
mail's addresses and subjects)."""

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
    cache = caches["default"]
    backend = type(cache).__name__
    if backend == "LocMemCache":
        return repr(list(cache._cache.items()))
    if backend == "RedisCache":
        client = cache._cache.get_client()
        return repr([(key, client.dump(key)) for key in client.scan_iter()])
    raise AssertionError(f"no scanner for {backend}")


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
