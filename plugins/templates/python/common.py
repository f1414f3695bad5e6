# Helpers for Medic plugins in Python (part of the generated project).


import math


def value(values, name, default):
    """A learner's named value `name` (a threshold or setting), or `default`."""
    for v in values:
        if v.name == name:
            return v.value
    return default


def read(reads, values, name, default):
    """The number named `name` in a scorer's or strategy's `values`, which
    hold the numbers named in its `reads`, in that order; `default` when it
    is not among them or the host had none (NaN)."""
    if name in reads:
        i = reads.index(name)
        if i < len(values) and math.isfinite(values[i]):
            return values[i]
    return default


# The band thresholds, for a scorer's `reads` when it uses `risk_level`.
RISK_BANDS = ["risk.minimal", "risk.low", "risk.medium", "risk.high"]


def risk_level(types, score, reads, values):
    """The risk level of a score, banded by the host's thresholds."""
    if score < read(reads, values, "risk.minimal", 0.2):
        return types.RiskLevel.MINIMAL
    if score < read(reads, values, "risk.low", 0.4):
        return types.RiskLevel.LOW
    if score < read(reads, values, "risk.medium", 0.6):
        return types.RiskLevel.MEDIUM
    if score < read(reads, values, "risk.high", 0.8):
        return types.RiskLevel.HIGH
    return types.RiskLevel.CRITICAL


def strongest_indicator(siem):
    """The strongest threat indicator's score (0 with no context):
    strongest_indicator(facts.siem)."""
    return 0.0 if siem is None else siem.strongest_indicator
