"""{{name}}: a Medic strategy in Python.

It gets the kill's facts (its numbers, the SIEM's and its module's history),
the kill itself to read the rest from (kill.report(), kill.context()), the
thresholds and the risk the scorer gave, and returns a verdict. Everything it
may use is in its input: no clock, no randomness, no I/O. The host's
guardrails still have the last word. Raise componentize_py_types.Err("why") to refuse.
"""
from typing import List

import wit_world
from wit_world.imports import types

from common import read, strongest_indicator

# The named numbers it reads: each call's `values` holds them in this order.
READS = ["auto_approve.min_confidence"]


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="{{name}}", version="0.1.0", kind=types.PluginKind.STRATEGY,
            description="Approves low risk with SIEM context and no strong indicator; denies critical; a human decides the rest.",
            uses=["risk", "context", "auto_approve.min_confidence"],
            reads=READS)

    def decide(self, facts: types.KillFacts, kill: types.Kill,
               risk: types.RiskAssessment, values: List[float]) -> types.Verdict:
        why = ["{{name}}"]
        level = risk.level
        min_confidence = read(READS, values, "auto_approve.min_confidence", 0.85)
        if level == types.RiskLevel.CRITICAL:
            why.append("critical risk: do not resurrect")
            outcome, confidence = types.DecisionOutcome.DENY, risk.score
        elif level in (types.RiskLevel.MINIMAL, types.RiskLevel.LOW) \
                and facts.siem is not None and strongest_indicator(facts.siem) < 0.8:
            why.append(f"{level.name.lower()} risk with SIEM context and no strong indicator")
            outcome, confidence = types.DecisionOutcome.APPROVE_AUTO, max(min_confidence, 1.0 - risk.score)
        else:
            why.append("not clearly safe: a human decides")
            outcome, confidence = types.DecisionOutcome.PENDING_REVIEW, 0.5
        return types.Verdict(
            outcome=outcome, confidence=min(max(confidence, 0.0), 1.0), reasoning=why,
            recommended_action=f"{outcome.name.lower()} for {facts.profile.module}",
            constraints=[], timeout_minutes=60)
