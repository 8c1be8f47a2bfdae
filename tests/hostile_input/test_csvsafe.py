"""The one formula-neutralising function, and that every CSV we write uses it."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.csvsafe import cell
from audit.log import audit_log
from customers.models import Customer

DANGEROUS = [
    "=1+1", "+1", "-1+2", "@SUM(A1)", "＝1+1", "＋1", "－1", "＠SUM(A1)",
    " =1+1", "  +1", "\t=1+1", "\r=1+1", "\n=1", "\x00=1+1", "\u3000＝1", "\tplain", "\rplain", "\x00",
]


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_starts_are_neutralised(value):
    out = cell(value)
    assert out.startswith("'") and "\x00" not in out


@pytest.mark.parametrize("value", ["Northwind", "a=b", "1-2", "user@example.com", "", "Ｎorthwind"])
def test_plain_text_is_untouched(value):
    assert cell(value) == value


def test_numbers_stay_numbers():
    assert cell(-10.0) == -10.0 and cell(None) == ""


HOSTILE_NAME = "\t＝HYPERLINK(\"https://evil.example\")"


def test_the_audit_export_neutralises_full_width_and_tab_formulas(admin_client):
    audit_log(actor=None, action="x", details={"name": HOSTILE_NAME}, target_id=" =cmd")
    response = admin_client.get(reverse("audit:export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows if r["action"] == "x")
    assert row["target_id"] == "' =cmd"


def test_the_security_export_neutralises_full_width_formulas(member_client, db):
    from tests.factories import make_snapshot, population

    customer = Customer.objects.create(name=HOSTILE_NAME)
    make_snapshot(customer, population(members=10, mfa=9, privileged=1, privileged_mfa=1))
    response = member_client.get("/security/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["customer"] == "'" + HOSTILE_NAME
