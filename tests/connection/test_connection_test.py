"""The connector's Test button, driven through the simulator's faults: each outcome
names its cause and fix, and the secret appears in no response, log record or audit row."""


import pytest

from audit.models import AuditEvent
from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integrations.setup.connection import connection_get

URL = "/admin/integrations/microsoft-365/"


@pytest.fixture
def test_button(admin_client, graph_sim, all_logs):
    """Press Test with the simulator's tenant; returns (page text, audit row)."""
    spec = graph_sim.simulator.tenant.spec

    def press(*, secret=DEMO_CLIENT_SECRET, client_id=DEMO_CLIENT_ID, tenant_id=spec.tenant_id, mailboxes=None, htmx=True):
        data = {"tenant_id": tenant_id, "client_id": client_id, "client_secret": secret,
                "mailboxes": ", ".join(mailboxes or spec.technician_upns()), "action": "test"}
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = admin_client.post(URL, data, **headers)
        assert response.status_code == 200
        text = response.content.decode()
        row = AuditEvent.objects.filter(action="m365.test").latest("id")
        for haystack in (text, str(row.details), all_logs.text):
            assert secret not in haystack
        assert connection_get() is None  # Test never saves
        return text, row

    return press


def test_success_names_tenant_and_mailbox_count_with_all_permissions(test_button):
    text, row = test_button()
    assert "Connected to Contoso MSP Ltd — 4 mailboxes configured" in text
    assert text.count('class="tag tag-granted"') == 6 and "tag-missing" not in text
    assert text.count(">found<") == 4
    assert row.details["ok"] is True


def test_full_page_post_shows_the_same_result(test_button):
    text, _ = test_button(htmx=False)
    assert "Connected to Contoso MSP Ltd — 4 mailboxes configured" in text
    assert 'name="client_secret"' in text and DEMO_CLIENT_SECRET not in text


def test_wrong_secret(test_button, graph_sim):
    text, row = test_button(secret="not-the-right-secret-value")
    assert "client secret is wrong (AADSTS7000215)" in text
    assert "Certificates &amp; secrets" in text
    # Both of Entra's ids, labelled: support asks for the trace id and the correlation id.
    assert "trace id " in text and "correlation id " in text and row.details["request_id"]
    assert row.details["ok"] is False


def test_expired_secret(test_button, graph_sim):
    graph_sim.simulator.faults.set("expired_secret")
    text, _ = test_button()
    assert "client secret has expired (AADSTS7000222)" in text
    assert "Create a new client secret" in text


def test_unknown_client_id(test_button):
    text, _ = test_button(client_id="99999999-8888-7777-6666-555555555555")
    assert "App Client ID is not known in this tenant (AADSTS700016)" in text


def test_unknown_tenant(test_button):
    text, _ = test_button(tenant_id="00000000-1111-2222-3333-444444444444")
    assert "Tenant ID does not resolve" in text
    assert "not a subscription or user GUID" in text


def test_no_admin_consent(test_button, graph_sim):
    graph_sim.simulator.faults.set("no_admin_consent")
    text, _ = test_button()
    assert "admin consent has not been granted" in text
    assert "Grant admin consent" in text


def test_missing_permissions_are_named_with_consequences(test_button, graph_sim):
    graph_sim.simulator.faults.set("missing_permissions", missing=["Calendars.Read", "Reports.Read.All"])
    text, row = test_button()
    assert "missing permissions: Calendars.Read, Reports.Read.All" in text
    assert text.count('class="tag tag-missing"') == 2
    assert "Upcoming meetings on customer pages stop working." in text
    assert row.details["missing_permissions"] == ["Calendars.Read", "Reports.Read.All"]


def test_directory_permission_missing_is_a_403_with_fix(test_button, graph_sim):
    graph_sim.simulator.faults.set("missing_permissions", missing=["Directory.Read.All"])
    text, _ = test_button()
    assert "403 Forbidden" in text and "Directory.Read.All" in text
    assert "For Microsoft support:" in text and "request-id " in text


def test_each_mailbox_problem_is_told_apart(test_button, graph_sim):
    spec = graph_sim.simulator.tenant.spec
    jane, jack = spec.technician_upns()[:2]
    graph_sim.simulator.faults.set("access_policy_block", mailboxes=[jack])
    text, row = test_button(mailboxes=[jane, jack, "frontdesk@contoso-msp.example", "nobody@contoso-msp.example"])
    assert "2 mailboxes not usable" not in text  # three of four fail
    assert "3 mailboxes not usable" in text
    assert row.details["mailboxes"] == {jane: "found", jack: "blocked", "frontdesk@contoso-msp.example": "no_mailbox",
                                        "nobody@contoso-msp.example": "not_found"}
    assert "Exchange application access policy" in text
    assert "no Exchange Online mailbox" in text
    # Each failure names its step: the user was found, and then what failed about its mailbox.
    assert text.count("User found (") == 2 and "no such user" in text
    assert "MailboxNotEnabledForRESTAPI" in text


def test_network_failure(test_button, settings):
    settings.VECTIS_LOGIN_BASE_URL = "https://127.0.0.1:9"  # nothing listens on the discard port
    settings.VECTIS_GRAPH_BASE_URL = "https://127.0.0.1:9/v1.0"
    text, _ = test_button()
    assert "Could not reach Microsoft" in text


def test_test_of_saved_values_is_remembered(admin_client, graph_sim):
    spec = graph_sim.simulator.tenant.spec
    save = {"tenant_id": spec.tenant_id, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "mailboxes": ", ".join(spec.technician_upns()), "action": "save"}
    admin_client.post(URL, save)
    admin_client.post(URL, {**save, "client_secret": "", "action": "test"}, HTTP_HX_REQUEST="true")
    connection = connection_get()
    assert connection.last_test_ok is True and connection.tenant_name == "Contoso MSP Ltd"
    page = admin_client.get("/admin/integrations/").content.decode()
    assert "Connected" in page and "Contoso MSP Ltd" in page


def test_policy_read_all_is_listed_as_optional_and_its_absence_is_no_problem(test_button):
    text, row = test_button()
    assert "Policy.Read.All" in text and "optional — without it, posture shows registration only" in text
    assert 'class="tag tag-optional"' in text and "tag-missing" not in text
    assert row.details["ok"] is True and "missing permission" not in text


def test_policy_read_all_granted_shows_as_granted(test_button, graph_sim):
    from graphsim import WITH_POLICY_READ

    graph_sim.simulator.faults.set("missing_permissions", granted=list(WITH_POLICY_READ))
    text, row = test_button()
    assert text.count('class="tag tag-granted"') == 7 and text.count("tag-optional") == 1
    assert "enforcement evidence on" in text and row.details["ok"] is True
    # The other optional permission is named with what its absence costs.
    assert "RoleEligibilitySchedule.Read.Directory" in text and "PIM-eligible role assignments are not read" in text


def test_pim_permission_counts_as_granted_through_its_alternative(test_button, graph_sim):
    from graphsim import WITH_POLICY_READ

    graph_sim.simulator.faults.set("missing_permissions", granted=[*WITH_POLICY_READ, "RoleManagement.Read.Directory"])
    text, row = test_button()
    assert text.count('class="tag tag-granted"') == 8 and "tag-optional" not in text and row.details["ok"] is True
