"""The evidence pack and the pages say the same thing the same way: one decimal
on every percentage, the overall MFA figure in every framework's pack (CMMC
included), and whose tenant the posture came from."""

import io
import re

import pytest
from pypdf import PdfReader

from compliance.controls import CMMC, SOC2
from compliance.packs import build_pack, pack_source
from customers.models import Customer
from security.models import PostureSnapshot
from tests.factories import PROVENANCE, make_snapshot, one_privileged_missing


def pdf_text(snapshot, framework):
    fresh = PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk)
    data = build_pack(pack_source(fresh, framework)).files["report.pdf"]
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


@pytest.fixture
def northwind(db):
    customer = Customer.objects.create(name="Northwind Traders")
    make_snapshot(customer, one_privileged_missing())  # 3 of 4 in-scope accounts registered
    return customer


@pytest.mark.parametrize("framework", [CMMC, SOC2])
def test_every_pack_states_the_overall_figure_as_the_security_page_prints_it(viewer_client, northwind, framework):
    page = viewer_client.get(f"/security/customers/{northwind.pk}/").content.decode()
    shown = re.search(r"MFA coverage.*?(\d+\.\d)%", page, re.S).group(1)
    assert shown == "75.0"
    text = pdf_text(northwind.posture_snapshots.get(), framework)
    assert f"MFA coverage, all in-scope accounts {shown}% (3 of 4 in-scope accounts with a known state registered)" in text
    assert not re.search(r"(?<![\d.])\d+%\s*\(", text)  # no "75%" beside a count anywhere


def test_the_pack_names_the_msps_tenant_as_the_msps(db):
    customer = Customer.objects.create(name="Northwind Traders")
    plain = make_snapshot(customer, one_privileged_missing())
    assert "the MSP's own tenant" not in pdf_text(plain, SOC2)
    msp = make_snapshot(customer, one_privileged_missing(), taken_on=plain.taken_on.replace(day=2),
                        provenance={**PROVENANCE, "tenant_name": "Contoso MSP", "tenant_owner": "msp"})
    text = pdf_text(msp, SOC2)
    assert "Contoso MSP (tenant id 6f1c2d3e-0000-4000-8000-00000000c0de) — the MSP's own tenant, not the customer's" in text


def test_a_collected_snapshot_records_that_it_came_from_the_msp_tenant(m365_connected):
    from integrations.posture.posture_sync import posture_sync
    from integrations.setup.connection import connection_get, graph_client_for

    with graph_client_for(connection_get()) as client:
        assert posture_sync(client=client).outcome == "success"
    assert {s.provenance.get("tenant_owner") for s in PostureSnapshot.objects.all()} == {"msp"}
