"""The rollup's signals: a small registry, so a later connector can add its
own signal and /security shows it (column, average, change, sort, CSV)
without any change to the page.

A signal reads one number from a snapshot's metrics dict. To add one, call
`signal_register(Signal(...))` from the owning app's AppConfig.ready().
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from .posture import floor_1dp

HIGHER = "higher"
LOWER = "lower"
PCT = "pct"
COUNT = "count"


@dataclass(frozen=True)
class Signal:
    key: str  # also the ?sort= value and the CSV column name
    label: str
    compute: Callable[[dict], float | int | None]  # metrics -> value (None: not decidable)
    better: str  # HIGHER or LOWER
    fmt: str  # PCT or COUNT
    description: str = ""
    flag: Callable[[float | int | None], bool] | None = None  # True: show a warning flag
    flag_reason: Callable[[], str] | None = None
    # How many users the value leaves out because their state is unknown (shown beside it).
    unknown: Callable[[dict], int] | None = None
    # (numerator, denominator) behind a percentage, shown beside it: "57.1% (4/7)".
    fraction: Callable[[dict], tuple[int, int]] | None = None

    def value(self, metrics):
        try:
            return self.compute(metrics or {})
        except (KeyError, TypeError, ValueError):
            return None

    def fraction_display(self, metrics):
        """"(4/7)" for a percentage whose counts the metrics hold, else ""."""
        try:
            numerator, denominator = self.fraction(metrics or {}) if self.fraction else (None, None)
        except (KeyError, TypeError, ValueError):
            return ""
        if numerator is None or not denominator:
            return ""
        return f"({numerator}/{denominator})"

    def unknown_count(self, metrics):
        try:
            return self.unknown(metrics or {}) if self.unknown else 0
        except (KeyError, TypeError, ValueError):
            return 0

    def display(self, value):
        if value is None:
            return "—"
        if self.fmt == PCT:
            return f"{value:.1f}%"  # always one decimal, so 87.0% and 87.5% line up
        return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"

    def display_change(self, delta):
        if delta is None:
            return ""
        if delta == 0:
            return "\u00b10"  # ±0: shown, so "unchanged" is not mistaken for "no previous snapshot"
        sign = "+" if delta > 0 else "\u2212"
        return f"{sign}{abs(delta):.1f} pts" if self.fmt == PCT else f"{sign}{abs(delta):g}"

    def change(self, current, previous):
        if current is None or previous is None:
            return None
        return floor_1dp(float(Decimal(str(current)) - Decimal(str(previous))))

    def change_is_better(self, delta):
        return (delta > 0) if self.better == HIGHER else (delta < 0)

    def flagged(self, value):
        return bool(self.flag and self.flag(value))

    def worst_first_key(self, value):
        """Sort key putting the worst value first and customers without a value last."""
        if value is None:
            return (1, 0)
        return (0, value if self.better == HIGHER else -value)


_REGISTRY: dict[str, Signal] = {}


def signal_register(signal):
    if signal.key in _REGISTRY:
        raise ValueError(f"signal {signal.key!r} is already registered")
    if signal.better not in (HIGHER, LOWER) or signal.fmt not in (PCT, COUNT):
        raise ValueError(f"signal {signal.key!r}: better must be higher/lower and fmt pct/count")
    _REGISTRY[signal.key] = signal
    return signal


def signal_list():
    return list(_REGISTRY.values())


def signal_get(key):
    return _REGISTRY.get(key)


def signal_average(signal, values):
    """The summary row's figure: for a percentage, the mean of the known values
    (each customer counts once), rounded down to one decimal; for a count, the
    total across customers (an average of counts reads as nothing)."""
    known = [Decimal(str(v)) for v in values if v is not None]
    if not known:
        return None
    if signal.fmt == COUNT:
        return float(sum(known))
    return floor_1dp(float(sum(known) / len(known)))


def privileged_mfa_threshold():
    # Read per call, so a changed setting (or a test override) applies at once.
    return settings.VECTIS_PRIVILEGED_MFA_THRESHOLD


signal_register(Signal(
    key="mfa_coverage",
    label="MFA coverage",
    compute=lambda m: m["coverage_pct"],
    better=HIGHER,
    fmt=PCT,
    description="In-scope users with at least one MFA method registered.",
    unknown=lambda m: m["mfa_unknown"],
    fraction=lambda m: (m["mfa_registered"], m["mfa_registered"] + m["mfa_not_registered"]),
))
signal_register(Signal(
    key="privileged_mfa",
    label="Privileged MFA",
    compute=lambda m: m["privileged_mfa_pct"],
    better=HIGHER,
    fmt=PCT,
    description="In-scope users in a privileged role with MFA registered.",
    flag=lambda v: v is not None and v < privileged_mfa_threshold(),
    flag_reason=lambda: f"Privileged MFA below {privileged_mfa_threshold()}%",
    unknown=lambda m: m["privileged_mfa_unknown"],
    fraction=lambda m: (m["privileged_mfa_registered"], m["privileged_mfa_registered"] + m["privileged_mfa_not_registered"]),
))
signal_register(Signal(
    key="privileged_without_mfa",
    label="Privileged users without MFA",
    compute=lambda m: m["privileged_mfa_not_registered"],
    better=LOWER,
    fmt=COUNT,
    description="In-scope privileged users with no MFA method registered.",
))
signal_register(Signal(
    key="weak_method_share",
    label="Weak method share",
    compute=lambda m: m["weak_method_share_pct"],
    better=LOWER,
    fmt=PCT,
    description="In-scope users with MFA whose strongest method is SMS or voice.",
    fraction=lambda m: (m["strongest_weak"], m["mfa_registered"]),
))
signal_register(Signal(
    key="mfa_enforced",
    label="MFA enforced",
    compute=lambda m: m["enforced_pct"],
    better=HIGHER,
    fmt=PCT,
    description="In-scope users for whom sign-in requires MFA (Conditional Access, Security Defaults or per-user "
                "MFA). Needs Policy.Read.All: blank in registration-only mode.",
    fraction=lambda m: (m["enforced"], m["enforcement_denominator"]),
))
signal_register(Signal(
    key="mfa_protected",
    label="MFA protected",
    compute=lambda m: m["protected_pct"],
    better=HIGHER,
    fmt=PCT,
    description="In-scope users with an MFA method registered AND MFA enforced. Blank in registration-only mode.",
    fraction=lambda m: (m["protected"], m["enforcement_denominator"]),
))
signal_register(Signal(
    key="privileged_protected",
    label="Privileged protected",
    compute=lambda m: m["privileged_protected_pct"],
    better=HIGHER,
    fmt=PCT,
    description="In-scope privileged users with MFA registered AND enforced. Blank in registration-only mode.",
    fraction=lambda m: (m["privileged_protected"], m["privileged_enforcement_denominator"]),
    flag=lambda v: v is not None and v < privileged_mfa_threshold(),
    flag_reason=lambda: f"Privileged protected below {privileged_mfa_threshold()}%",
))
signal_register(Signal(
    key="exceptions_expired",
    label="Expired MFA exceptions",
    compute=lambda m: m["exceptions_expired"],
    better=LOWER,
    fmt=COUNT,
    description="Documented MFA exceptions past their expiry date: no longer applied, to be renewed or removed.",
    flag=lambda v: bool(v),
    flag_reason=lambda: "Expired MFA exception",
))


def signal_cell(signal, metrics, previous=None):
    """One signal as every page and export shows it: value, display, flag,
    the change since the `previous` snapshot's metrics, unknowns, fraction."""
    value = signal.value(metrics)
    delta = signal.change(value, signal.value(previous)) if previous is not None else None
    flagged = signal.flagged(value)
    return {
        "signal": signal, "value": value, "display": signal.display(value),
        "flagged": flagged, "flag_reason": signal.flag_reason() if flagged and signal.flag_reason else "",
        "delta": delta, "delta_display": signal.display_change(delta),
        "delta_class": "" if not delta else ("good" if signal.change_is_better(delta) else "bad"),
        "unknown": signal.unknown_count(metrics),
        "fraction": signal.fraction_display(metrics) if value is not None else "",
    }
