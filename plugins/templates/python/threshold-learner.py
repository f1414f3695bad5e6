"""{{name}}: a Medic threshold learner in Python.

It gets the thresholds in force and the outcomes since its last run, and
proposes changes; the host applies them only within max_adjustment_percent
and its own checks.
"""
import wit_world
from wit_world.imports import types

from common import value


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="{{name}}", version="0.1.0", kind=types.PluginKind.THRESHOLD_LEARNER,
            description="Lowers risk.low when more than 20% of low-risk resurrections are re-killed.",
            uses=["risk.low", "max_adjustment_percent", "min_samples"],
            # A learner gets its thresholds and settings by name.
            reads=[])

    def learn(self, input: types.LearnInput) -> list[types.ThresholdAdjustment]:
        minimum = value(input.settings, "min_samples", 50.0)
        max_pct = value(input.settings, "max_adjustment_percent", 10.0)
        low = [s for s in input.samples if s.risk_level == types.RiskLevel.LOW]
        if len(low) < minimum:
            return []
        rekilled = sum(1 for s in low if s.outcome == types.OutcomeResult.RE_KILLED)
        rate = rekilled / len(low)
        if rate <= 0.2:
            return []
        old = value(input.thresholds, "risk.low", 0.4)
        new = old * (1.0 - min(max_pct, 5.0) / 100.0)
        return [types.ThresholdAdjustment(
            name="risk.low", old_value=old, new_value=new,
            reason=f"{rekilled} of {len(low)} low-risk resurrections re-killed ({rate * 100:.0f}%)")]
