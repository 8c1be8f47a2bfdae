"""Graph client: a real TLS socket."""

import json
from datetime import datetime, timezone

import pytest
import requests

from integrations.graph import errors

from .kit import assert_secret_absent, make_client, make_jwt


def _self_signed(tmp_path):
    """A throwaway CA-less certificate for 127.0.0.1, written as cert + key files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # OpenSSL checks validity against the machine's clock, not the test's
        # (tests/clock.py), so the certificate is valid whatever either says.
        .not_valid_before(datetime(2000, 1, 1, tzinfo=timezone.utc))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=timezone.utc))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sim.pem", tmp_path / "sim.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert, key = _self_signed(tmp_path)
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen.append(("GET", self.path))
            base = f"https://127.0.0.1:{self.server.server_port}"
            if self.path.endswith("/.well-known/openid-configuration"):
                tenant = self.path.split("/")[1]
                self._answer({"authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize", "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token"})
            else:
                self._answer({"value": [{"id": "org", "displayName": "Sim Tenant"}]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            seen.append(("POST", self.path, self.rfile.read(length).decode()))
            self._answer({"access_token": make_jwt({"roles": ["Directory.Read.All"]}), "token_type": "Bearer", "expires_in": 3599})

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", cert, seen
    server.shutdown()
    server.server_close()


def test_real_tls_with_a_ca_bundle_despite_requests_ca_bundle_env(tls_server, tenant, monkeypatch, all_logs):
    base, cert, seen = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())  # the usual roots only: would fail if it won
    client = make_client(tenant, login_base_url=base, graph_base_url=f"{base}/v1.0", ca_bundle=cert)

    assert client.organization_get()["displayName"] == "Sim Tenant"

    assert [s[0] for s in seen] == ["GET", "POST", "GET"]
    assert "client_secret=" in seen[1][2]  # the secret did go on the wire, in the POST body
    assert any(r.name.startswith("urllib3") for r in all_logs.records)  # urllib3 logged at DEBUG...
    assert_secret_absent(all_logs.text)  # ...without the secret


def test_real_tls_without_the_bundle_fails_verification(tls_server, tenant, monkeypatch):
    base, _cert, seen = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = make_client(tenant, login_base_url=base, graph_base_url=f"{base}/v1.0")
    with pytest.raises(errors.NetworkError) as caught:
        client.organization_get()
    assert_secret_absent(str(caught.value), repr(caught.value))
    assert not any(s[0] == "POST" for s in seen)  # the handshake failed before anything was sent
