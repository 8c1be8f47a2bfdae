"""The posture arithmetic (security.posture, strength, privileged, signals):
pure functions, no database."""

import pytest

from security import posture, strength
from security.metrics import Signal, signal_average, signal_get, signal_list, signal_register
from security.posture import ObservedUser, pct, posture_metrics, snapshot_user_row
from security.privileged import PRIVILEGED_ROLES, privileged_role

GA = {"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"}
EXA = {"template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de", "name": "Exchange Administrator"}


def user(n, *, mfa=True, methods=None, roles=(), user_type="member", enabled=True):
    if methods is None:
        methods = ("microsoftAuthenticatorPush",) if mfa else ()
    return ObservedUser(
        graph_id=f"id-{n}", upn=f"u{n}@northwind.example", display_name=f"User {n}", user_type=user_type,
        account_enabled=enabled, mfa_registered=mfa, method_types=tuple(methods), mfa_source="report",
        privileged_roles=tuple(roles),
    )


# ------------------------------------------------------------------ coverage


def test_zero_users_gives_no_percentages_rather_than_zero_or_a_crash():
    m = posture_metrics([])
    assert m["users_total"] == m["in_scope"] == 0
    assert m["coverage_pct"] is None
    assert m["privileged_mfa_pct"] is None
    assert m["weak_method_share_pct"] is None


def test_all_out_of_scope_counts_the_reasons_and_decides_nothing():
    users = [user(1, user_type="guest"), user(2, enabled=False), user(3, user_type="guest", enabled=False, mfa=False),
             user(4, enabled=False, roles=[GA], mfa=False)]
    m = posture_metrics(users)
    assert m["in_scope"] == 0
    assert m["excluded_guests"] == 2  # a disabled guest is counted once, as a guest
    assert m["excluded_disabled"] == 2
    assert m["coverage_pct"] is None
    assert m["privileged_in_scope"] == 0 and m["privileged_mfa_pct"] is None
    assert m["privileged_total"] == 1 and m["privileged_out_of_scope"] == 1
    assert [snapshot_user_row(u)["scope_reason"] for u in users] == ["guest", "disabled", "guest", "disabled"]


def test_coverage_counts_only_in_scope_users():
    users = [user(1), user(2), user(3, mfa=False), user(4, user_type="guest", mfa=False), user(5, enabled=False, mfa=False)]
    m = posture_metrics(users)
    assert (m["in_scope"], m["mfa_registered"], m["mfa_not_registered"]) == (3, 2, 1)
    assert m["coverage_pct"] == 66.6  # rounded down, never up


def test_unknowns_are_neither_covered_nor_uncovered():
    users = [user(1), user(2, mfa=False), user(3, mfa=None), user(4, mfa=None)]
    m = posture_metrics(users)
    assert (m["mfa_registered"], m["mfa_not_registered"], m["mfa_unknown"]) == (1, 1, 2)
    assert m["coverage_pct"] == 50.0  # over the 2 decided users, not 4
    assert posture_metrics([user(1, mfa=None)])["coverage_pct"] is None
    assert snapshot_user_row(user(9, mfa=None))["strongest"] == "unknown"


def test_a_user_in_several_privileged_roles_is_one_privileged_user():
    users = [user(1, roles=[GA, EXA]), user(2, roles=[EXA], mfa=False), user(3)]
    m = posture_metrics(users)
    assert m["privileged_in_scope"] == 2
    assert (m["privileged_mfa_registered"], m["privileged_mfa_not_registered"]) == (1, 1)
    assert m["privileged_mfa_pct"] == 50.0


def test_privileged_unknown_is_shown_and_not_counted():
    users = [user(1, roles=[GA]), user(2, roles=[GA], mfa=None)]
    m = posture_metrics(users)
    assert m["privileged_mfa_unknown"] == 1
    assert m["privileged_mfa_pct"] == 100.0


def test_role_members_that_are_not_users_never_reach_the_arithmetic():
    # posture_sync keeps groups and service principals out of the user list
    # (see test_posture_sync); here: a record without roles is not privileged.
    assert posture_metrics([user(1)])["privileged_in_scope"] == 0


def test_weak_method_share_uses_the_strongest_method():
    users = [
        user(1, methods=("mobilePhone",)),  # weak only
        user(2, methods=("mobilePhone", "microsoftAuthenticatorPush")),  # standard wins
        user(3, methods=("fido2", "mobilePhone")),  # phishing-resistant wins
        user(4, mfa=False, methods=()),  # no MFA: not in the denominator
    ]
    m = posture_metrics(users)
    assert (m["strongest_weak"], m["strongest_standard"], m["strongest_phishing_resistant"]) == (1, 1, 1)
    assert m["weak_method_share_pct"] == 33.3


@pytest.mark.parametrize("num,den,expected", [(0, 3, 0.0), (1, 3, 33.3), (2, 3, 66.6), (1999, 2000, 99.9),
                                              (19999, 20000, 99.9), (5, 5, 100.0), (0, 0, None)])
def test_percentages_round_down_to_one_decimal(num, den, expected):
    assert pct(num, den) == expected


def test_floor_helper_avoids_float_surprises():
    assert posture.floor_1dp(99.95) == 99.9
    assert posture.floor_1dp(0.3 + 0.6) == 0.9
    assert posture.floor_1dp(None) is None


# ------------------------------------------------------------------ strength


@pytest.mark.parametrize("method,expected", [
    ("fido2", "phishing_resistant"), ("passKeyDeviceBound", "phishing_resistant"),
    ("windowsHelloForBusiness", "phishing_resistant"), ("platformCredential", "phishing_resistant"),
    ("microsoftAuthenticatorPush", "standard"), ("microsoftAuthenticatorPasswordless", "standard"),
    ("microsoftAuthenticator", "standard"), ("softwareOneTimePasscode", "standard"), ("softwareOath", "standard"),
    ("hardwareOneTimePasscode", "standard"), ("mobilePhone", "weak"), ("phone", "weak"), ("sms", "weak"),
    ("voice", "weak"), ("email", "not_mfa"), ("password", "not_mfa"), ("temporaryAccessPass", "not_mfa"),
    ("somethingNew", "unrecognised"),
])
def test_method_strength(method, expected):
    assert strength.method_strength(method) == expected


def test_email_tap_and_unknown_types_are_not_mfa():
    assert posture.mfa_decision(["email"]) is False
    assert posture.mfa_decision(["temporaryAccessPass"]) is False
    assert posture.mfa_decision(["somethingNew"]) is False
    assert posture.mfa_decision([]) is False
    assert posture.mfa_decision(["email", "mobilePhone"]) is True


# ------------------------------------------------------------------ privileged roles


def test_privileged_roles_cover_the_required_list_by_template_id():
    names = {r.name for r in PRIVILEGED_ROLES}
    for required in ("Global", "Privileged Role", "Privileged Authentication", "Security", "User", "Exchange",
                     "SharePoint", "Application", "Cloud Application", "Authentication", "Conditional Access",
                     "Helpdesk", "Intune", "Billing", "Password", "Hybrid Identity", "Teams"):
        assert f"{required} Administrator" in names
    assert len({r.template_id for r in PRIVILEGED_ROLES}) == len(PRIVILEGED_ROLES)
    assert privileged_role("62E90394-69F5-4237-9190-012177145E10").name == "Global Administrator"
    assert privileged_role("88d8e3e3-8f55-4a1e-953a-9b9898b8876b") is None  # Directory Readers


# ------------------------------------------------------------------ signals


def test_signal_registry_has_the_four_rollup_signals():
    assert [s.key for s in signal_list()][:4] == ["mfa_coverage", "privileged_mfa", "privileged_without_mfa", "weak_method_share"]
    with pytest.raises(ValueError):
        signal_register(Signal(key="mfa_coverage", label="x", compute=lambda m: 1, better="higher", fmt="pct"))


def test_signal_values_changes_and_flags(settings):
    settings.VECTIS_PRIVILEGED_MFA_THRESHOLD = 100
    priv = signal_get("privileged_mfa")
    assert priv.value({"privileged_mfa_pct": 99.9}) == 99.9
    assert priv.value({}) is None  # a snapshot without the key does not crash the page
    assert priv.flagged(99.9) and not priv.flagged(100.0) and not priv.flagged(None)
    settings.VECTIS_PRIVILEGED_MFA_THRESHOLD = 90
    assert not priv.flagged(95.0)
    assert priv.change(80.0, 90.5) == -10.5
    assert not priv.change_is_better(-10.5)
    weak = signal_get("weak_method_share")
    assert weak.change_is_better(-2.0)
    assert priv.display(87.0) == "87.0%" and priv.display(None) == "—"
    assert signal_get("privileged_without_mfa").display(3) == "3"


def test_signal_average_counts_each_customer_once_and_skips_unknowns():
    s = signal_get("mfa_coverage")
    assert signal_average(s, [100.0, 50.0, None, 33.3]) == 61.1
    assert signal_average(s, [None]) is None
