"""Is a 403 from the registration report really "no Entra ID P1/P2"?

Graph answers the report with 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant
when the tenant lacks a premium licence, but the same answer has been seen
transiently on licensed tenants. So before the pages say "no P1", the
tenant's subscribed SKUs (GET /subscribedSkus) are read: an enabled SKU with
an Entra ID P1 or P2 service plan (servicePlanName AAD_PREMIUM or
AAD_PREMIUM_P2) makes the 403 a transient failure, retried on the next run.
"""

from . import errors

PREMIUM_PLAN_NAMES = frozenset({"AAD_PREMIUM", "AAD_PREMIUM_P2"})
NO_PREMIUM = "no_premium"  # confirmed: no P1/P2 service plan
TRANSIENT = "transient"  # the tenant has P1/P2: the 403 is not a licence verdict
UNCONFIRMED = "unconfirmed"  # the SKUs could not be read


def premium_plans(skus):
    """Sorted names of enabled Entra ID P1/P2 service plans in subscribedSkus JSON."""
    found = set()
    for sku in skus if isinstance(skus, list) else []:
        if not isinstance(sku, dict) or sku.get("capabilityStatus") not in ("Enabled", "Warning"):
            continue
        for plan in sku.get("servicePlans") or []:
            if (isinstance(plan, dict) and plan.get("servicePlanName") in PREMIUM_PLAN_NAMES
                    and plan.get("provisioningStatus") != "Disabled"):
                found.add(f"{plan['servicePlanName']} in {sku.get('skuPartNumber') or sku.get('skuId')}")
    return sorted(found)


def licence_check(client):
    """{"verdict", "premium_plans", "note"} after a licence 403 from the report."""
    try:
        plans = premium_plans(client.subscribed_skus())
    except errors.GraphError as error:
        return {"verdict": UNCONFIRMED, "premium_plans": [],
                "note": f"The tenant's subscribed SKUs could not be read to confirm the licence ({error})."}
    if plans:
        return {"verdict": TRANSIENT, "premium_plans": plans,
                "note": ("The tenant does have Entra ID P1/P2 (" + ", ".join(plans) + "), so this 403 is treated as a "
                         "transient Microsoft failure, not a licence verdict; the report is tried again on the next run.")}
    return {"verdict": NO_PREMIUM, "premium_plans": [],
            "note": "Confirmed: the tenant's subscribed SKUs include no Entra ID P1 or P2 service plan."}
