"""403 and 404 are pages of Vectis: the navigation stays, and they say what happened."""

from django.urls import reverse


def test_404_is_a_styled_page_with_navigation(member_client):
    response = member_client.get(reverse("customers:hub", args=[999999]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "Nothing here" in html and 'class="topbar"' in html and reverse("customers:list") in html


def test_403_names_the_role_and_keeps_navigation(member_client):
    response = member_client.get(reverse("audit:list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You don't have access" in html and "Member" in html and 'class="topbar"' in html
