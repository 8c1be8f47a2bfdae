"""Privilege that /directoryRoles/{id}/members alone does not show, for
posture_sync: members of role-assignable groups (shown "via" the group,
nested groups included, each group read once per run) and PIM-eligible
assignments (optional permission RoleEligibilitySchedule.Read.Directory;
without it the run goes on and says so). A role record is
{"template_id", "name"} plus "via" (group name) and/or "assignment": "eligible".
"""

from security.privileged import privileged_role

from ..graph import errors, parse


def add_role(collected, user_id, role):
    """One role record per (role, how it is held): direct, via a group, PIM eligible."""
    roles = collected.roles_by_user.setdefault(user_id, [])
    key = (role["template_id"], role.get("via", ""), role.get("assignment", ""))
    if all((r["template_id"], r.get("via", ""), r.get("assignment", "")) != key for r in roles):
        roles.append(role)


def group_users(client, collected, group_id):
    """(name, user ids) of a role-assignable group, nested groups included; read once per run."""
    if group_id not in collected.role_groups:
        known = collected.enforcement.group_members.get(group_id)
        if known is not None:
            name = collected.enforcement.group_names.get(group_id, group_id)
            users = set(known)
        else:
            name = str(client.group_get(group_id).get("displayName") or group_id)
            users = {m.id for page in client.group_transitive_members(group_id)
                     for m in parse.role_members_page(page) if m.is_user and m.id}
        collected.role_groups[group_id] = {"name": name, "users": users}
    group = collected.role_groups[group_id]
    return group["name"], group["users"]


def collect_eligible(client, collected):
    """PIM-eligible privileged assignments of matched users (directly or through a group).
    Optional: without the permission the run goes on and says so."""
    try:
        instances = [item for page in client.role_eligibility_instances() for item in page if isinstance(item, dict)]
    except errors.PermissionDeniedError as error:
        collected.eligible_note = (f"PIM-eligible role assignments were not read ({error}): grant "
                                   "RoleEligibilitySchedule.Read.Directory to count eligible administrators.")
        return
    except errors.GraphError as error:
        collected.eligible_note = f"PIM-eligible role assignments could not be read this run ({error})."
        return
    counted = 0
    for item in instances:
        rule = privileged_role(item.get("roleDefinitionId") if isinstance(item.get("roleDefinitionId"), str) else "")
        principal = item.get("principalId")
        if rule is None or not isinstance(principal, str) or not principal:
            continue
        role = {"template_id": rule.template_id, "name": rule.name, "assignment": "eligible"}
        if principal in collected.customer_of:
            add_role(collected, principal, role)
            counted += 1
            continue
        try:
            name, users = group_users(client, collected, principal)
        except errors.NotFoundError:
            continue  # a service principal or a user of no customer
        for user_id in users & set(collected.customer_of):
            add_role(collected, user_id, {**role, "via": name})
            counted += 1
    collected.eligible_read = True
    collected.eligible_note = f"PIM-eligible assignments read: {len(instances)} in the tenant, {counted} privileged for customer users."
