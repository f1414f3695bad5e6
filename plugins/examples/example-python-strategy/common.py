# Helpers for Medic plugins in Python (part of the generated project).


def value(values, name, default):
    """The named value `name` (a threshold, weight or setting), or `default`."""
    for v in values:
        if v.name == name:
            return v.value
    return default


def risk_level(types, score, thresholds):
    """The risk level of a score, banded by the host's thresholds."""
    if score < value(thresholds, "risk.minimal", 0.2):
        return types.RiskLevel.MINIMAL
    if score < value(thresholds, "risk.low", 0.4):
        return types.RiskLevel.LOW
    if score < value(thresholds, "risk.medium", 0.6):
        return types.RiskLevel.MEDIUM
    if score < value(thresholds, "risk.high", 0.8):
        return types.RiskLevel.HIGH
    return types.RiskLevel.CRITICAL


def strongest_indicator(context):
    """The strongest threat indicator's score (0 with no context)."""
    if context is None:
        return 0.0
    return max((i.threat_score for i in context.threat_indicators), default=0.0)
