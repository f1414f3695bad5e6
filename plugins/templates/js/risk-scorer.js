// {{name}}: a Medic risk scorer in JavaScript.
//
// It gets the kill's facts (its numbers, the SIEM's and its module's
// history), the kill itself to read the rest from (`kill.report()`,
// `kill.context()`) and the thresholds, and returns a score in [0, 1] with its level and the factors
// behind it. No clock, no randomness, no I/O.
import { RISK_BANDS, riskLevel } from "./common.js";

const SEVERITY = { critical: 1.0, high: 0.8, medium: 0.6, low: 0.4, info: 0.2 };

export function describe() {
  return {
    name: "{{name}}", version: "0.1.0", kind: "risk-scorer",
    description: "Half Smith's confidence weighted by severity, half the SIEM's risk.",
    uses: RISK_BANDS,
    // The named numbers it reads: each call's `values` holds them in this order.
    reads: RISK_BANDS,
  };
}

export function score(facts, kill, values) {
  const smith = facts.confidenceScore * SEVERITY[facts.severity];
  // Without SIEM context, assume the worst for its half.
  const siem = facts.siem == null ? 1.0 : facts.siem.riskScore;
  const factors = [
    { name: "smith", value: smith, weight: 0.5, contribution: 0.5 * smith,
      detail: `confidence ${facts.confidenceScore.toFixed(2)} x severity` },
    { name: "siem", value: siem, weight: 0.5, contribution: 0.5 * siem,
      detail: facts.siem == null ? "no SIEM context" : "SIEM risk" },
  ];
  const s = Math.min(Math.max(0.5 * smith + 0.5 * siem, 0), 1);
  return { level: riskLevel(s, RISK_BANDS, values), score: s, factors };
}
