"""Simulator: request log and controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import msal
import pytest

from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SENTINEL_PREFIX,
    GraphSimulator,
    build_tenant,
)

from .kit import (
    JANE,
    ROOT,
    SPEC,
    VerifySession,
    assert_graph_error,
    delta_url,
)


def test_request_log_records_what_was_asked(live):
    token = live.new_token()
    live.get(delta_url(), token=token, headers={"Prefer": "odata.maxpagesize=3"})
    live.http.get(live.g + "/organization")  # no token
    log = live.sim.requests
    delta = next(r for r in log if r["path"].endswith("/messages/delta"))
    assert delta["method"] == "GET" and delta["user"] == JANE and delta["status"] == 200
    assert delta["query"] == {"$select": "subject,from,receivedDateTime"}
    assert delta["prefer"] == "odata.maxpagesize=3" and delta["authorization"] is True
    assert log[-1]["authorization"] is False and log[-1]["status"] == 401
    assert any(r["path"].endswith("/oauth2/v2.0/token") for r in log)
    assert not any("body" in (r["query"].get("$select") or "") for r in log)
    live.sim.clear_requests()
    assert live.sim.requests == []


def test_control_endpoints(fresh):
    base = fresh.running.login_base_url
    http = fresh.http
    info = http.get(f"{base}/_sim/info").json()
    assert info["tenant_id"] == fresh.tenant.spec.tenant_id and info["client_id"] == DEMO_CLIENT_ID
    assert http.post(f"{base}/_sim/faults", json={"name": "throttle", "params": {"count": 1}}).json()["active"] == {"throttle": {"count": 1}}
    assert fresh.get("/organization").status_code == 429
    assert http.post(f"{base}/_sim/faults", json={"name": "bogus"}).status_code == 400
    http.post(f"{base}/_sim/faults", json={"name": "slow", "params": {"delay": 0}})
    assert http.post(f"{base}/_sim/faults", json={"clear": "all"}).json()["active"] == {}
    log = http.get(f"{base}/_sim/requests").json()["requests"]
    assert log and not any(r["path"].startswith("/_sim") for r in log)
    since = log[-1]["seq"]
    fresh.get("/organization")
    assert [r["path"] for r in http.get(f"{base}/_sim/requests?since={since}").json()["requests"]] == ["/v1.0/organization"]
    added = http.post(f"{base}/_sim/messages", json={"mailbox": JANE, "folder": "inbox", "subject": "From a browser test"}).json()
    assert fresh.tenant.find_message(JANE, added["id"]).graph["subject"] == "From a browser test"
    assert added["sentinel"].startswith(SENTINEL_PREFIX)
    http.post(f"{base}/_sim/messages/remove", json={"mailbox": JANE, "folder": "inbox", "id": added["id"]})
    assert fresh.tenant.find_message(JANE, added["id"]) is None
    http.post(f"{base}/_sim/faults", json={"name": "wrong_secret"})
    assert http.post(f"{base}/_sim/reset", json={"tenant": True}).json()["active"] == {}
    assert fresh.sim.requests == [] and fresh.token_response().status_code == 200


def test_wsgi_app_without_a_server():
    """The simulator is a plain WSGI app: usable in-process too."""
    import io
    from wsgiref.util import setup_testing_defaults

    sim = GraphSimulator(build_tenant(SPEC))
    environ = {"PATH_INFO": f"/{SPEC.tenant_id}/v2.0/.well-known/openid-configuration", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen = {}
    body = b"".join(sim(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"].startswith("200") and b"token_endpoint" in body


def test_management_command_serves_and_writes_info(tmp_path):
    info_file = tmp_path / "sim.json"
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "vectis.settings"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "m365_simulator", "--port", "0", "--info-file", str(info_file),
         "--messages-per-mailbox", "5", "--fault", "throttle:count=1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not info_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"simulator did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.1)
        info = json.loads(info_file.read_text())
        assert info["client_id"] == DEMO_CLIENT_ID and info["client_secret"] == DEMO_CLIENT_SECRET
        http = VerifySession(info["ca_path"])
        assert http.get(f"{info['login_base_url']}/_sim/info").json()["tenant_id"] == info["tenant_id"]
        app = msal.ConfidentialClientApplication(
            info["client_id"], client_credential=info["client_secret"], authority=info["authority"],
            instance_discovery=False, http_client=http,
        )
        token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
        statuses = [http.get(info["graph_base_url"] + "/organization", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(2)]
        assert statuses == [429, 200]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "graph base url" in out and "VECTIS_GRAPH_CA_BUNDLE=" in out
    assert not info_file.exists(), "removed on shutdown"
    assert not Path(info["ca_path"]).exists(), "certificate directory cleaned up"



def test_mail_folder_get_proves_mailbox_access(live):
    """The connector's Test reads /mailFolders/inbox: it answers for a real mailbox,
    and with Exchange's codes for a mailbox-less user or an access-policy block."""
    resp = live.get(f"/users/{JANE}/mailFolders/inbox?$select=id")
    assert resp.status_code == 200 and resp.json()["id"]
    assert_graph_error(live.get("/users/frontdesk@contoso-msp.example/mailFolders/inbox"), 404, "MailboxNotEnabledForRESTAPI")
    live.sim.faults.set("access_policy_block", mailboxes=[JANE])
    assert_graph_error(live.get(f"/users/{JANE}/mailFolders/inbox"), 403, "ErrorAccessDenied")
