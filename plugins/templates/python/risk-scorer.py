"""{{name}}: a Medic risk scorer in Python.

It gets the kill, the SIEM context, the module's history and the thresholds,
and returns a score in [0, 1] with its level and the factors behind it. No
clock, no randomness, no I/O.
"""
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

    def score(self, input: types.ScoreInput) -> types.RiskAssessment:
        smith = input.kill.confidence_score * SEVERITY[input.kill.severity.name]
        # Without SIEM context, assume the worst for its half.
        siem = 1.0 if input.context is None else input.context.risk_score
        factors = [
            types.RiskFactor(name="smith", value=smith, weight=0.5, contribution=0.5 * smith,
                             detail=f"confidence {input.kill.confidence_score:.2f} x severity"),
            types.RiskFactor(name="siem", value=siem, weight=0.5, contribution=0.5 * siem,
                             detail="SIEM risk" if input.context is not None else "no SIEM context"),
        ]
        score = min(max(0.5 * smith + 0.5 * siem, 0.0), 1.0)
        return types.RiskAssessment(level=risk_level(types, score, RISK_BANDS, input.values), score=score, factors=factors)
