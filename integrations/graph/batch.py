"""Per-user authentication methods through POST /$batch (the fallback when
the registration report is unavailable). Microsoft discourages iterating a
tenant user by user, so requests go 20 to a batch, and an item answered 429
(or 503/504) is sent again in a later batch after the largest Retry-After
seen, within the client's retry policy."""

from __future__ import annotations

from requests.structures import CaseInsensitiveDict

from . import errors
from .parse import auth_method_type, parse_batch, parse_retry_after
from .transport import RETRY_STATUSES, error_from_response

BATCH_SIZE = 20


def run_get_batch(client, ids: list[str], *, kind, batch_url, url_for, on_success) -> dict:
    """GET url_for(id) for each id through POST batch_url, 20 at a time, with
    per-item 429/503/504 retried as described above. Values are on_success(body)
    for a 2xx item, else the item's GraphError."""
    transport = client._transport
    policy, counters = transport.retry, transport.counters
    results: dict = {}
    for start in range(0, len(ids), BATCH_SIZE):
        pending = ids[start : start + BATCH_SIZE]
        rounds, waited = 0, 0.0
        last_answer = {}
        while pending:
            throttled, waits = [], []
            answer = transport.request(
                "batch", "POST", batch_url, json_body=_batch_body(pending, url_for)
            )
            counters.batch_items += len(pending)
            items = parse_batch(answer)
            for index, user_id in enumerate(pending):
                item = items.get(str(index))
                if item is None:
                    results[user_id] = errors.MalformedResponseError(kind=kind, message="missing from the $batch answer")
                elif item.status in RETRY_STATUSES:
                    throttled.append(user_id)
                    waits.append(parse_retry_after(item.headers.get("retry-after")))
                    last_answer[user_id] = item
                elif item.status is not None and 200 <= item.status < 300:
                    results[user_id] = on_success(item.body)
                else:
                    results[user_id] = error_from_response(
                        item.status or 0, item.body, CaseInsensitiveDict(item.headers), kind, transport._granted_or_none()
                    )
            if not throttled:
                break
            counters.throttled += len(throttled)
            known = [w for w in waits if w is not None]
            wait = max(known) if known else transport.backoff(rounds)
            if rounds >= policy.max_retries or wait > policy.max_wait or waited + wait > policy.max_total_wait:
                for user_id in throttled:  # 429 -> ThrottledError, 503/504 -> TransientError
                    item = last_answer[user_id]
                    results[user_id] = error_from_response(
                        item.status, item.body, CaseInsensitiveDict(item.headers), kind, None
                    )
                break
            rounds += 1
            waited += wait
            transport._wait(wait, throttled=True)
            pending = throttled
    return results


def _batch_body(ids: list[str], url_for) -> dict:
    return {"requests": [{"id": str(index), "method": "GET", "url": url_for(item)} for index, item in enumerate(ids)]}


def auth_methods_follow(client, body) -> list[dict] | errors.GraphError:
    """Reduce each method to its @odata.type; follow a nextLink if Graph paged."""
    methods = []
    seen_links = set()
    while True:
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, list):
            return errors.MalformedResponseError(kind="auth_methods", message="a method list without value")
        for item in value:
            if auth_method_type(item):
                methods.append({"@odata.type": item["@odata.type"]})
        link = body.get("@odata.nextLink")
        if not isinstance(link, str) or not link or link in seen_links:
            return methods
        seen_links.add(link)
        try:
            client._check_link(link)
            body = client._get("auth_methods", link)
        except errors.GraphError as error:
            return error
