"""Long account lists in the PDF: drawn row by row (fpdf2's table() was most
of a 10,000-user pack's build time), every account still named, the column
headings repeated on each page the list continues on, the pack byte-identical
on rebuild."""

import io

import pytest
from pypdf import PdfReader

from compliance.controls import FRAMEWORKS
from compliance.packs import build_pack, pack_source
from customers.models import Customer
from security.models import PostureSnapshot
from tests.factories import make_snapshot, population

pytestmark = pytest.mark.django_db


def test_a_list_of_hundreds_is_named_in_full_on_pages_that_repeat_the_headings():
    customer = Customer.objects.create(name="Contoso")
    snapshot = make_snapshot(customer, population(members=320, mfa=20, privileged=2, privileged_mfa=1))
    fresh = PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk)

    pack = build_pack(pack_source(fresh, FRAMEWORKS["soc2"]))

    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pack.files["report.pdf"])).pages]
    text = "\n".join(pages)
    missing = [f"user{n:04}@northwind.example" for n in range(21, 320) if f"user{n:04}@northwind.example" not in text]
    assert missing == []
    listing = [page for page in pages if "user0200@northwind.example" in page or "user0300@northwind.example" in page]
    assert listing and all("User principal name" in page for page in listing)
    again = build_pack(pack_source(PostureSnapshot.objects.select_related("customer").get(pk=snapshot.pk), FRAMEWORKS["soc2"]))
    assert again.data == pack.data
