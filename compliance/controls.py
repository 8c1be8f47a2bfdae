"""The frameworks and control rows an evidence pack covers, as data.

Identifiers and titles are the official ones, as listed in the CISO Assistant
framework libraries (tests/fixtures/compliance/reference-controls.json holds
the identifiers, titles and node URNs the tests check these rows against).
CMMC objective text is quoted from the CMMC library (CC BY 4.0); HIPAA titles
are the CFR's (public). SOC 2 criteria carry no title in the reference and
their wording is AICPA copyright, so SOC 2 rows cite the identifier only and
every `summary` here is our own short wording, never the criterion text.

`check` names the function in evaluate.py that measures the row, so the
mapping from control to measurement is readable in one place.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Control:
    ref_id: str  # official identifier, e.g. "IA.L2-3.5.3[c]" or "164.312(d)"
    title: str  # official title (or, for SOC 2, our own label: the reference has none)
    summary: str  # our own one-sentence reading of what the control asks
    check: str  # evaluate.py function that measures it
    reference_urn: str  # node in the reference library, so a reader can find the source text


@dataclass(frozen=True)
class Framework:
    key: str
    label: str
    short_label: str
    threshold_setting: str  # settings name holding the "met" threshold (whole percent)
    reference: str  # where the identifiers and titles come from
    controls: tuple

    @property
    def threshold(self):
        return getattr(settings, self.threshold_setting)


CMMC_URN = "urn:intuitem:risk:req_node:cmmc-2.0:"
HIPAA_URN = "urn:intuitem:risk:req_node:nist-sp-800-66-rev2:"
SOC2_URN = "urn:intuitem:risk:req_node:soc2-2017-rev-2022:"

CMMC = Framework(
    key="cmmc",
    label="CMMC 2.0 Level 2 (NIST SP 800-171 Rev. 2)",
    short_label="CMMC 2.0 Level 2",
    threshold_setting="VECTIS_MET_THRESHOLD_CMMC",
    reference="CMMC 2.0 library (DoD; CC BY 4.0), urn:intuitem:risk:library:cmmc-2.0 version 6",
    controls=(
        Control(
            "IA.L2-3.5.3", "Multifactor Authentication",
            "Use MFA for local and network access to privileged accounts and for network access to "
            "non-privileged accounts. The requirement is met only when all four objectives below are met.",
            "requirement_rollup", CMMC_URN + "ia.l2-3.5.3"),
        Control(
            "IA.L2-3.5.3[a]", "Multifactor Authentication: privileged accounts are identified",
            "The accounts holding privileged roles are known and listed.",
            "privileged_identified", CMMC_URN + "ia.l2-3.5.3:question:1"),
        Control(
            "IA.L2-3.5.3[b]", "Multifactor Authentication: MFA for local access to privileged accounts",
            "Signing in at the device itself (console, not over a network) to a privileged account needs MFA.",
            "local_access", CMMC_URN + "ia.l2-3.5.3:question:2"),
        Control(
            "IA.L2-3.5.3[c]", "Multifactor Authentication: MFA for network access to privileged accounts",
            "Privileged accounts signing in over a network use MFA.",
            "mfa_privileged", CMMC_URN + "ia.l2-3.5.3:question:3"),
        Control(
            "IA.L2-3.5.3[d]", "Multifactor Authentication: MFA for network access to non-privileged accounts",
            "Ordinary (non-privileged) accounts signing in over a network use MFA.",
            "mfa_non_privileged", CMMC_URN + "ia.l2-3.5.3:question:4"),
        Control(
            "AC.L2-3.1.5", "Least Privilege",
            "Accounts hold only the privileges their work needs, including for security functions "
            "and privileged accounts.",
            "privileged_review", CMMC_URN + "ac.l2-3.1.5"),
        # Only objective [a] (users) of the two identification controls can be
        # measured from directory users; [b] processes and [c] devices are not
        # collected, so the row names the objective its result applies to.
        Control(
            "IA.L1-3.5.1[a]", "Identification: system users are identified",
            "Every system user is identified. Objectives [b] (processes acting for users) and [c] "
            "(devices) are outside this pack.",
            "user_inventory", CMMC_URN + "ia.l1-3.5.1:question:1"),
        Control(
            "IA.L1-3.5.2[a]", "Authentication: each user is authenticated before access",
            "Each user's identity is authenticated or verified before system access. Objectives [b] "
            "(processes) and [c] (devices) are outside this pack.",
            "authentication_inventory", CMMC_URN + "ia.l1-3.5.2:question:1"),
    ),
)

HIPAA = Framework(
    key="hipaa",
    label="HIPAA Security Rule (45 CFR Part 164, Subpart C)",
    short_label="HIPAA Security Rule",
    threshold_setting="VECTIS_MET_THRESHOLD_HIPAA",
    reference="NIST SP 800-66 Rev. 2 library, urn:intuitem:risk:library:nist-sp-800-66-rev2 version 2",
    controls=(
        Control(
            "164.312(d)", "Person or Entity Authentication",
            "Verify that whoever seeks access to ePHI is who they claim to be. HIPAA does not name MFA; "
            "this pack measures MFA registration against the configured threshold.",
            "mfa_all", HIPAA_URN + "164.312(d)"),
        Control(
            "164.312(a)(2)(i)", "Unique User Identification (Required)",
            "Every user has a unique name or number so activity can be traced to one person.",
            "unique_identification", HIPAA_URN + "node207"),
        Control(
            "164.308(a)(4)", "Information Access Management",
            "Access to ePHI is authorised by policy; the privileged accounts are an input to that access review.",
            "privileged_review", HIPAA_URN + "164.308(a)(4)"),
    ),
)

SOC2 = Framework(
    key="soc2",
    label="SOC 2 Trust Services Criteria (2017, revised points of focus 2022)",
    short_label="SOC 2",
    threshold_setting="VECTIS_MET_THRESHOLD_SOC2",
    reference="Identifiers only: AICPA TSC 2017 (rev. 2022). Summaries are Vectis's own wording, not AICPA text.",
    controls=(
        Control(
            "CC6.1", "Logical access: identification and authentication",
            "Access to protected systems is controlled; the point of focus on identifying and "
            "authenticating users names MFA.",
            "mfa_all", SOC2_URN + "cc6.1"),
        Control(
            "CC6.2", "Logical access: user registration and removal",
            "Accounts are approved before credentials are issued and are removed when no longer approved.",
            "registration_review", SOC2_URN + "cc6.2"),
        Control(
            "CC6.3", "Logical access: role-based access and least privilege",
            "Access is granted, changed and withdrawn by role, keeping privilege to what the work needs.",
            "privileged_review", SOC2_URN + "cc6.3"),
        Control(
            "CC6.6", "Logical access: protection at the system boundary",
            "Access from outside the system boundary is protected, for example by an additional "
            "authentication factor.",
            "mfa_all_external", SOC2_URN + "cc6.6"),
    ),
)

FRAMEWORKS = {framework.key: framework for framework in (CMMC, HIPAA, SOC2)}


def framework_by_key(key):
    """The Framework for a key, or None for anything else (never a default)."""
    return FRAMEWORKS.get(key)
