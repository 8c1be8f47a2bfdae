"""Which directory roles count as privileged: Microsoft's built-in role
template ids (stable across tenants, unlike role object ids and display names).

The first group is the roles Microsoft itself marks privileged; the second is
high-impact roles an MSP treats as privileged too. The list is shown on the
posture pages so an auditor can read the rule, and copied into every
snapshot's provenance so evidence cites the rule that produced it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PrivilegedRole:
    template_id: str
    name: str
    why: str  # "microsoft" = marked privileged by Microsoft; "msp" = high impact for an MSP


PRIVILEGED_ROLES = (
    PrivilegedRole("62e90394-69f5-4237-9190-012177145e10", "Global Administrator", "microsoft"),
    PrivilegedRole("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator", "microsoft"),
    PrivilegedRole("7be44c8a-adaf-4e2a-84d6-ab2649e08a13", "Privileged Authentication Administrator", "microsoft"),
    PrivilegedRole("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator", "microsoft"),
    PrivilegedRole("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "microsoft"),
    PrivilegedRole("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", "microsoft"),
    PrivilegedRole("158c047a-c907-4556-b7ef-446551a6b5f7", "Cloud Application Administrator", "microsoft"),
    PrivilegedRole("c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator", "microsoft"),
    PrivilegedRole("b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator", "microsoft"),
    PrivilegedRole("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "microsoft"),
    PrivilegedRole("966707d0-3269-4727-9be2-8c3a10f19b9d", "Password Administrator", "microsoft"),
    PrivilegedRole("8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", "Hybrid Identity Administrator", "microsoft"),
    PrivilegedRole("3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator", "microsoft"),
    PrivilegedRole("29232cdf-9323-42fd-ade2-1d097af3e4de", "Exchange Administrator", "msp"),
    PrivilegedRole("f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator", "msp"),
    PrivilegedRole("69091246-20e8-4a56-aa4d-066075b2a7a8", "Teams Administrator", "msp"),
    PrivilegedRole("b0f54661-2d74-4c50-afa3-1ec803f12efe", "Billing Administrator", "msp"),
)

_BY_TEMPLATE = {role.template_id: role for role in PRIVILEGED_ROLES}


def privileged_role(template_id):
    """The PrivilegedRole for a roleTemplateId, or None when the role is not privileged."""
    return _BY_TEMPLATE.get((template_id or "").strip().lower())


def privileged_role_rule():
    """The rule as plain data, for snapshot provenance: [{template_id, name, why}]."""
    return [{"template_id": r.template_id, "name": r.name, "why": r.why} for r in PRIVILEGED_ROLES]


def role_label(role):
    """How a held role reads on pages and in packs: its name, and how it is held
    when that is not a direct, active assignment."""
    name = str(role.get("name") or role.get("template_id") or "")
    if role.get("via"):
        name += f" (via {role['via']})"
    if role.get("assignment") == "eligible":
        name += " (PIM eligible, not active)"
    return name
