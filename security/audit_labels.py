"""How audit rows about MFA exceptions and posture snapshots are named and linked (audit.readable)."""

from django.urls import reverse

from audit.readable import TargetLabel, target_describer_register

from .models import MfaException, PostureSnapshot


def _pks(ids):
    return {int(i) for i in ids if str(i).isdigit()}


def exceptions_describe(ids):
    rows = MfaException.objects.filter(pk__in=_pks(ids)).values_list("pk", "user_principal_name", "customer_id")
    return {str(pk): TargetLabel(f"MFA exception for {upn}", reverse("security:exceptions", args=[customer_id]))
            for pk, upn, customer_id in rows}


def snapshots_describe(ids):
    rows = PostureSnapshot.objects.filter(pk__in=_pks(ids)).values_list("pk", "taken_on", "customer_id")
    return {str(pk): TargetLabel(f"posture snapshot of {taken_on:%d %b %Y}", reverse("security:customer", args=[customer_id]))
            for pk, taken_on, customer_id in rows}


def register():
    target_describer_register(MfaException._meta.label_lower, exceptions_describe)
    target_describer_register(PostureSnapshot._meta.label_lower, snapshots_describe)
