"""Control rows for known snapshots: each row's figure and result, and the
rules behind them (threshold, unknown accounts, empty populations)."""

import pytest

from compliance.controls import CMMC, FRAMEWORKS, HIPAA, SOC2
from compliance.evaluate import FAILING, MET, NOT_EVIDENCED, NOT_MET, REVIEW, UNKNOWN, evaluate, pct
from compliance.population import SnapshotUnreadable
from tests.factories import (
    ENFORCED_PROVENANCE,
    GLOBAL_ADMIN,
    PROVENANCE,
    all_covered,
    enforcement,
    metrics_for,
    no_privileged,
    one_privileged_missing,
    user,
    with_unknowns,
)


def rows(framework, users, threshold=100, provenance=ENFORCED_PROVENANCE, metrics=None):
    evaluation = evaluate(framework, users=users, metrics=metrics_for(users) if metrics is None else metrics,
                          provenance=provenance, threshold=threshold)
    return {row.control.ref_id: row for row in evaluation.rows}


def upns(row, kind):
    return [a.upn for a in row.accounts_of(kind)]


def results(framework, users, **kwargs):
    return {ref: row.result for ref, row in rows(framework, users, **kwargs).items()}


# --- all covered ------------------------------------------------------------------

def test_all_covered_cmmc():
    r = rows(CMMC, all_covered())
    assert results(CMMC, all_covered()) == {
        "IA.L2-3.5.3": NOT_EVIDENCED,  # [b] local access is never evidenced by Microsoft 365 data
        "IA.L2-3.5.3[a]": MET,
        "IA.L2-3.5.3[b]": NOT_EVIDENCED,
        "IA.L2-3.5.3[c]": MET,
        "IA.L2-3.5.3[d]": MET,
        "AC.L2-3.1.5": NOT_EVIDENCED,
        "IA.L1-3.5.1[a]": MET,
        "IA.L1-3.5.2[a]": NOT_EVIDENCED,
    }
    assert r["IA.L2-3.5.3[c]"].figure.startswith("1 of 1 in-scope privileged account registered for MFA; 0 not registered; 0 unknown. Coverage 100.0%.")
    assert r["IA.L2-3.5.3[d]"].figure.startswith("2 of 2 in-scope non-privileged accounts registered for MFA; 0 not registered; 0 unknown. Coverage 100.0%.")
    assert "1 registered account relies on phone-network methods (SMS or voice)" in r["IA.L2-3.5.3[d]"].figure
    assert r["IA.L2-3.5.3[a]"].figure == ("1 privileged role holder: 1 in scope, 0 out of scope. "
                                          "Holders per role: Global Administrator 1.")
    assert upns(r["IA.L2-3.5.3[a]"], REVIEW) == ["alice@northwind.example"]
    assert r["IA.L1-3.5.1[a]"].figure == "5 accounts identified: 3 in scope (enabled members); out of scope: 1 disabled, 1 guest."
    assert "[b] is not evidenced" in r["IA.L2-3.5.3"].why
    assert "Objective [b]" in r["IA.L2-3.5.3"].why
    for row in r.values():
        assert row.accounts_of(FAILING) == []


def test_all_covered_hipaa_and_soc2():
    assert results(HIPAA, all_covered()) == {"164.312(d)": MET, "164.312(a)(2)(i)": MET, "164.308(a)(4)": NOT_EVIDENCED}
    assert results(SOC2, all_covered()) == {"CC6.1": MET, "CC6.2": NOT_EVIDENCED, "CC6.3": NOT_EVIDENCED, "CC6.6": MET}
    row = rows(SOC2, all_covered())["CC6.1"]
    assert row.figure.startswith("3 of 3 in-scope accounts registered for MFA; 0 not registered; 0 unknown. Coverage 100.0%.")
    assert row.why == "3 of 3 protected (100.0%), at or above the 100% threshold."
    # Guests and disabled accounts without MFA are out of scope: never failing, never counted.
    assert "guest_x@partner.example" not in upns(row, FAILING)


# --- one privileged user missing -------------------------------------------------------

def test_one_privileged_missing_cmmc():
    r = rows(CMMC, one_privileged_missing())
    assert r["IA.L2-3.5.3[c]"].result == NOT_MET
    assert r["IA.L2-3.5.3[c]"].figure.startswith("1 of 2 in-scope privileged accounts registered for MFA; 1 not registered; 0 unknown. Coverage 50.0%.")
    assert upns(r["IA.L2-3.5.3[c]"], FAILING) == ["erin@northwind.example"]
    assert r["IA.L2-3.5.3[c]"].accounts_of(FAILING)[0].label == "Erin Exchange (erin@northwind.example)"
    assert r["IA.L2-3.5.3[d]"].result == MET  # the non-privileged population is fully registered
    assert r["IA.L2-3.5.3"].result == NOT_MET
    assert r["IA.L2-3.5.3"].why == "Objective [c] is not met (see below)."
    assert r["IA.L2-3.5.3"].figure == "[a] met; [b] not evidenced; [c] not met; [d] met."
    assert upns(r["AC.L2-3.1.5"], REVIEW) == ["alice@northwind.example", "erin@northwind.example"]


def test_one_privileged_missing_hipaa_and_soc2_name_the_user():
    for framework, ref in ((HIPAA, "164.312(d)"), (SOC2, "CC6.1"), (SOC2, "CC6.6")):
        row = rows(framework, one_privileged_missing())[ref]
        assert row.result == NOT_MET
        assert row.figure.startswith("3 of 4 in-scope accounts registered for MFA; 1 not registered; 0 unknown. Coverage 75.0%.")
        assert "Privileged accounts among them: 1 of 2 registered." in row.figure
        assert upns(row, FAILING) == ["erin@northwind.example"]


# --- unknown MFA state -------------------------------------------------------------------

def test_unknown_accounts_make_an_mfa_row_not_evidenced_and_are_named():
    r = rows(SOC2, with_unknowns())
    row = r["CC6.1"]
    assert row.result == NOT_EVIDENCED
    assert row.figure.startswith("2 of 3 in-scope accounts registered for MFA; 0 not registered; 1 unknown. 100.0% of the 2 with a known state.")
    assert upns(row, UNKNOWN) == ["uma@northwind.example"]
    assert upns(row, FAILING) == []
    assert "unknown MFA state" in row.why and "depends on them" in row.why
    assert "counting accounts of unknown state as not protected" in row.rule
    cmmc = rows(CMMC, with_unknowns())
    assert cmmc["IA.L2-3.5.3[c]"].result == MET  # the unknown user is not privileged
    assert cmmc["IA.L2-3.5.3[d]"].result == NOT_EVIDENCED


def test_known_failures_outweigh_unknowns():
    users = with_unknowns() + [user("nina@northwind.example", "Nina None", mfa=False)]
    row = rows(HIPAA, users)["164.312(d)"]
    assert row.result == NOT_MET  # cannot reach 100% even if the unknown user were registered
    assert upns(row, FAILING) == ["nina@northwind.example"]
    assert upns(row, UNKNOWN) == ["uma@northwind.example"]


def test_threshold_setting_changes_the_rule_and_unknowns_can_decide_it():
    users = [user(f"u{i}@northwind.example") for i in range(8)] + [
        user("nina@northwind.example", mfa=False), user("uma@northwind.example", mfa=None)]
    # 8 of 10 registered: 80% reaches 80; not 90, and 90 would be reachable only if the unknown registered.
    assert rows(SOC2, users, threshold=80)["CC6.1"].result == MET
    assert rows(SOC2, users, threshold=90)["CC6.1"].result == NOT_EVIDENCED
    assert rows(SOC2, users, threshold=95)["CC6.1"].result == NOT_MET
    assert "at least 90% of in-scope accounts" in rows(SOC2, users, threshold=90)["CC6.1"].rule
    # Even a met row names the account that is not registered.
    assert upns(rows(SOC2, users, threshold=80)["CC6.1"], FAILING) == ["nina@northwind.example"]


def test_threshold_comes_from_the_framework_setting(settings):
    settings.VECTIS_MET_THRESHOLD_SOC2 = 75
    settings.VECTIS_MET_THRESHOLD_HIPAA = 100
    assert SOC2.threshold == 75 and HIPAA.threshold == 100
    from types import SimpleNamespace

    from compliance.evaluate import evaluate_snapshot
    users = one_privileged_missing()
    snapshot = SimpleNamespace(users=users, metrics=metrics_for(users), provenance=ENFORCED_PROVENANCE)
    assert evaluate_snapshot(snapshot, SOC2).rows[0].result == MET
    assert evaluate_snapshot(snapshot, HIPAA).rows[0].result == NOT_MET


# --- no privileged users -------------------------------------------------------------------

def test_no_privileged_users():
    r = rows(CMMC, no_privileged())
    assert r["IA.L2-3.5.3[a]"].result == NOT_EVIDENCED
    assert "no account of this customer holds a privileged role" in r["IA.L2-3.5.3[a]"].why
    assert r["IA.L2-3.5.3[c]"].result == NOT_EVIDENCED
    assert r["IA.L2-3.5.3[c]"].figure == "0 in-scope privileged accounts in this snapshot."
    assert r["IA.L2-3.5.3[c]"].why == "No in-scope privileged account in this snapshot, so there is nothing to measure."
    assert r["IA.L2-3.5.3[d]"].result == NOT_MET
    assert upns(r["IA.L2-3.5.3[d]"], FAILING) == ["frank@northwind.example"]
    assert r["AC.L2-3.1.5"].result == NOT_EVIDENCED and r["AC.L2-3.1.5"].named == ()
    assert r["AC.L2-3.1.5"].figure == "0 privileged role holders."
    soc2 = rows(SOC2, no_privileged())
    assert "No in-scope account holds a privileged role." in soc2["CC6.1"].figure


def test_privileged_identification_needs_the_recorded_role_rule():
    provenance = {k: v for k, v in PROVENANCE.items() if k != "privileged_role_rule"}
    row = rows(CMMC, all_covered(), provenance=provenance)["IA.L2-3.5.3[a]"]
    assert row.result == NOT_EVIDENCED
    assert "does not record which directory roles" in row.why
    assert upns(row, REVIEW) == ["alice@northwind.example"]  # the list is still attached


def test_out_of_scope_privileged_holders_are_named_not_counted():
    users = one_privileged_missing() + [
        user("gail@partner.example", "Gail Guest", mfa=False, user_type="guest", roles=[GLOBAL_ADMIN])]
    r = rows(CMMC, users)
    c = r["IA.L2-3.5.3[c]"]
    assert c.figure.startswith("1 of 2 in-scope privileged accounts")
    assert "Not counted: 1 privileged role holder out of scope" in c.figure
    assert upns(c, FAILING) == ["erin@northwind.example"]
    assert [a.upn for group in c.named if group.kind == "excluded" for a in group.accounts] == ["gail@partner.example"]
    assert upns(r["AC.L2-3.1.5"], REVIEW) == ["alice@northwind.example", "erin@northwind.example", "gail@partner.example"]
    cc62 = rows(SOC2, users)["CC6.2"]
    assert upns(cc62, REVIEW) == ["gail@partner.example"]
    assert "1 out-of-scope account (guest or disabled) still holds a privileged role." in cc62.figure


# --- identification ----------------------------------------------------------------------------

def test_duplicate_identifiers_fail_unique_identification():
    users = all_covered() + [user("ALICE@northwind.example", "Alice Again")]
    row = rows(HIPAA, users)["164.312(a)(2)(i)"]
    assert row.result == NOT_MET
    assert sorted(upns(row, FAILING)) == ["ALICE@northwind.example", "alice@northwind.example"]


def test_empty_snapshot_is_not_evidenced_everywhere_it_measures():
    for framework in FRAMEWORKS.values():
        for ref, row in rows(framework, []).items():
            assert row.result == NOT_EVIDENCED, ref


# --- data hygiene -------------------------------------------------------------------------------

def test_malformed_user_rows_are_refused_with_the_place():
    bad = all_covered()
    del bad[1]["in_scope"]
    with pytest.raises(SnapshotUnreadable, match=r"users\[1\] has no 'in_scope'"):
        rows(SOC2, bad, metrics={})
    bad = all_covered()
    bad[0]["mfa_registered"] = "yes"
    with pytest.raises(SnapshotUnreadable, match=r"mfa_registered is 'yes'"):
        rows(SOC2, bad, metrics={})


def test_stored_metrics_that_disagree_with_the_user_list_are_reported():
    users = one_privileged_missing()
    metrics = dict(metrics_for(users), mfa_registered=4, mfa_not_registered=0)
    evaluation = evaluate(SOC2, users=users, metrics=metrics, provenance=PROVENANCE, threshold=100)
    assert ("mfa_registered", 4, 3) in evaluation.metric_mismatches
    assert ("mfa_not_registered", 0, 1) in evaluation.metric_mismatches
    assert evaluation.rows[0].result == NOT_MET  # figures come from the named users, not the stored counts
    clean = evaluate(SOC2, users=users, metrics=metrics_for(users), provenance=PROVENANCE, threshold=100)
    assert clean.metric_mismatches == () and len(clean.compared_metrics) == 13  # every count a real snapshot stores


def test_without_enforcement_figures_say_registered_never_enforced():
    for framework in FRAMEWORKS.values():
        for row in rows(framework, one_privileged_missing() + with_unknowns(), provenance=PROVENANCE).values():
            text = " ".join([row.figure, row.why, row.rule]).lower()
            assert "enforced" not in text, row.control.ref_id


def test_percentages_round_down():
    assert pct(999, 1000) == "99.9"
    assert pct(19999, 20000) == "99.9"
    assert pct(2, 3) == "66.6"
    assert pct(1, 1) == "100.0"
    assert pct(3, 4) == "75.0"  # one decimal always, as the security pages print it


def test_control_ids_titles_and_urns_match_the_compliance_reference():
    import json
    from pathlib import Path

    # Identifiers, titles and node URNs extracted from the framework libraries
    # (the file names its source); kept in the repository so this always runs.
    reference = Path(__file__).resolve().parents[1] / "fixtures" / "compliance" / "reference-controls.json"
    entries = json.loads(reference.read_text(encoding="utf-8"))["controls"]
    official = {(e["ref_id"], e["name"]) for e in entries}
    ids = {ref for ref, _ in official}
    urns = {e["urn"] for e in entries} | {o["urn"] for e in entries for o in e.get("objectives", [])}
    objective_ids = {o["id"] for e in entries for o in e.get("objectives", [])}
    for framework in FRAMEWORKS.values():
        for control in framework.controls:
            assert control.ref_id.split("[")[0] in ids, control.ref_id
            if "[" in control.ref_id:
                assert control.ref_id in objective_ids, control.ref_id
            assert control.reference_urn in urns, control.ref_id
            if framework is CMMC or framework is HIPAA:
                assert (control.ref_id.split("[")[0], control.title.split(":")[0]) in official, control.ref_id


# --- MFA enforcement: rows on "protected" ------------------------------------------------

MFA_ROWS = {CMMC: ("IA.L2-3.5.3[c]", "IA.L2-3.5.3[d]"), HIPAA: ("164.312(d)",), SOC2: ("CC6.1", "CC6.6")}


def test_without_enforcement_mfa_rows_can_never_be_met():
    for framework, refs in MFA_ROWS.items():
        r = rows(framework, all_covered(), provenance=PROVENANCE)  # everyone registered
        for ref in refs:
            assert r[ref].result == NOT_EVIDENCED, ref
            assert "Enforcement could not be evidenced" in r[ref].why, ref
    # A registration failure is still a failure.
    assert rows(HIPAA, one_privileged_missing(), provenance=PROVENANCE)["164.312(d)"].result == NOT_MET


def test_registered_but_not_enforced_is_not_protected_and_fails_the_row():
    users = all_covered()
    report_only = enforcement("not_enforced", "report_only", "CA003: MFA pilot", "report-only")
    users[1] = user("bob@northwind.example", "Bob Builder", enforced=report_only)
    for framework, ref in ((SOC2, "CC6.1"), (HIPAA, "164.312(d)"), (CMMC, "IA.L2-3.5.3[d]")):
        row = rows(framework, users)[ref]
        assert row.result == NOT_MET, ref
        assert upns(row, FAILING) == ["bob@northwind.example"], ref
        assert "Protected (MFA registered AND enforced at sign-in): " in row.figure
    # Enforced but not registered is not protected either.
    users = all_covered()
    users[1] = user("bob@northwind.example", "Bob Builder", mfa=False)
    assert upns(rows(SOC2, users)["CC6.1"], FAILING) == ["bob@northwind.example"]
    # Conditional (e.g. only outside trusted locations) does not count as enforced.
    users = all_covered()
    users[1] = user("bob@northwind.example", enforced=enforcement("conditional", "conditional", "CA007", "locations"))
    assert rows(SOC2, users)["CC6.1"].result == NOT_MET
