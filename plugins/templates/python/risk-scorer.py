"""{{name}}: a Medic risk scorer in Python.

It gets the kill's facts (its numbers, the SIEM's and its module's history),
the kill itself to read the rest from (kill.report(), kill.context()) and the
thresholds, and returns a score in [0, 1] with its level and the factors behind it. No
clock, no randomness, no I/O.
"""
from typing import List

import wit_world
from wit_world.imports import types

from common import RISK_BANDS, risk_level

SEVERITY = {"CRITICAL": 1.0, "HIGH": 0.8, "MEDIUM": 0.6, "LOW": 0.4, "INFO": 0.2}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="{{name}}", version="0.1.0", kind=types.PluginKind.RISK_SCORER,
            description="Half Smith's confidence weighted by severity, half the SIEM's risk.",
            uses=RISK_BANDS,
            # The named numbers it reads: each call's `values` holds them in this order.
            reads=RISK_BANDS)

    def score(self, facts: types.KillFacts, kill: types.Kill,
              values: List[float]) -> types.RiskAssessment:
        smith = facts.confidence_score * SEVERITY[facts.severity.name]
        # Without SIEM context, assume the worst for its half.
        siem = 1.0 if facts.siem is None else facts.siem.risk_score
        factors = [
            types.RiskFactor(name="smith", value=smith, weight=0.5, contribution=0.5 * smith,
                             detail=f"confidence {facts.confidence_score:.2f} x severity"),
            types.RiskFactor(name="siem", value=siem, weight=0.5, contribution=0.5 * siem,
                             detail="SIEM risk" if facts.siem is not None else "no SIEM context"),
        ]
        score = min(max(0.5 * smith + 0.5 * siem, 0.0), 1.0)
        return types.RiskAssessment(level=risk_level(types, score, RISK_BANDS, values), score=score, factors=factors)
