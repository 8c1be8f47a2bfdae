"""Where data could leak to: every table, the cache. Tests search these for
strings that must never be stored (body sentinels, secrets, phone numbers)."""

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
