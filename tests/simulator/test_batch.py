"""Simulator: batch."""

from __future__ import annotations

from .kit import (
    assert_graph_error,
    example,
)


def test_batch_dispatches_and_limits(live):
    users = live.tenant.users[:20]
    req = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{u.id}/authentication/methods"} for i, u in enumerate(users)]}
    body = live.post("/$batch", req).json()
    assert set(body) == set(example("batch-response.1.json"))
    assert [r["id"] for r in body["responses"]] == [str(i) for i in range(20)]
    for r, u in zip(body["responses"], users, strict=True):
        assert set(r) == set(example("batch-response.1.json")["responses"][0])
        assert r["status"] == 200 and r["body"]["value"] == live.tenant.auth_methods[u.id]
    assert sum(1 for r in live.sim.requests if r["via_batch"]) == 20
    too_many = {"requests": req["requests"] + [{"id": "20", "method": "GET", "url": "/organization"}]}
    assert_graph_error(live.post("/$batch", too_many), 400, "BadRequest")
    mixed = live.post("/$batch", {"requests": [
        {"id": "a", "method": "GET", "url": "/users/nobody@x.example"},
        {"id": "b", "method": "GET", "url": "organization"},
    ]}).json()["responses"]
    assert mixed[0]["status"] == 404 and mixed[0]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert mixed[1]["status"] == 200
    assert_graph_error(live.http.post(live.g + "/$batch", json=req), 401, "InvalidAuthenticationToken")


def test_batch_items_can_be_throttled(live):
    live.sim.faults.set("throttle", every=3, retry_after=7, path="/authentication/methods")
    req = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{u.id}/authentication/methods"} for i, u in enumerate(live.tenant.users[:9])]}
    resp = live.post("/$batch", req)
    assert resp.status_code == 200
    statuses = [r["status"] for r in resp.json()["responses"]]
    assert statuses == [200, 200, 429] * 3
    throttled = resp.json()["responses"][2]
    assert throttled["headers"]["Retry-After"] == "7" and throttled["body"]["error"]["code"] == "TooManyRequests"
