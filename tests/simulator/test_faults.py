"""Simulator: faults."""

from __future__ import annotations

import time

import pytest
import requests

from .kit import (
    JANE,
    assert_graph_error,
    delta_url,
    example,
)


def test_throttle_every_count_and_path(live):
    live.sim.faults.set("throttle", every=2)
    statuses = [live.get("/organization").status_code for _ in range(6)]
    assert statuses == [200, 429] * 3
    live.sim.faults.set("throttle", count=2, retry_after=3, path=r"/messages/delta")
    assert live.get("/organization").status_code == 200
    first = live.get(delta_url())
    err = assert_graph_error(first, 429, "TooManyRequests")
    assert first.headers["Retry-After"] == "3"
    assert set(example("error-TooManyRequests.json")["error"]["innerError"]) <= set(err["innerError"])
    assert live.get(delta_url()).status_code == 429
    assert live.get(delta_url()).status_code == 200, "count=2 then it clears itself"
    assert "throttle" not in live.sim.faults.active()


def test_unavailable_and_slow(live):
    live.sim.faults.set("unavailable", count=1, retry_after=2)
    resp = live.get("/organization")
    assert_graph_error(resp, 503, "ServiceUnavailable")
    assert resp.headers["Retry-After"] == "2"
    live.sim.faults.set("slow", delay=0.4, count=1)
    t0 = time.monotonic()
    assert live.get("/organization").status_code == 200
    assert time.monotonic() - t0 >= 0.4


def test_truncated_json_and_connection_reset(live):
    live.sim.faults.set("truncated_json", count=1)
    resp = live.get("/organization")
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    assert live.get("/organization").json()["value"]
    live.sim.faults.set("connection_reset", count=1, path="/directoryRoles")
    with pytest.raises(requests.ConnectionError):
        live.get("/directoryRoles")
    assert live.get("/directoryRoles").status_code == 200
    assert [r["note"] for r in live.sim.requests if r["path"] == "/v1.0/directoryRoles"] == ["connection_reset", None]


def test_faults_reach_entra_only_with_a_path(live):
    live.sim.faults.set("unavailable")
    assert live.token_response().status_code == 200, "no path: Graph only"
    live.sim.faults.set("unavailable", path="/oauth2/")
    assert live.token_response().status_code == 503


def test_expired_delta_token_then_resync(fresh):
    _, _, old_link = fresh.follow(delta_url())
    fresh.sim.faults.set("delta_expired")
    err = assert_graph_error(fresh.get(old_link), 410, "syncStateNotFound")
    assert "resync" in err["message"].lower()
    items, _, new_link = fresh.follow(delta_url())
    assert len(items) == len(fresh.tenant.messages(JANE, "inbox"))
    assert fresh.follow(new_link)[0] == []


def test_empty_pages_with_next_link(live):
    live.sim.faults.set("empty_pages")
    items, pages, delta_link = live.follow(delta_url(), headers={"Prefer": "odata.maxpagesize=20"})
    assert len(items) == len(live.tenant.messages(JANE, "inbox"))
    assert any(p["value"] == [] and "@odata.nextLink" in p for p in pages) and delta_link


def test_unknown_fault_is_refused(live):
    with pytest.raises(ValueError):
        live.sim.faults.set("made_up")
