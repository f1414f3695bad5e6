// Helpers for Medic plugins in JavaScript (part of the generated project).

/** A learner's named value `name` (a threshold or setting), or `fallback`. */
export function value(values, name, fallback) {
  const v = values.find((v) => v.name === name);
  return v === undefined ? fallback : v.value;
}

/**
 * The number named `name` in a scorer's or strategy's `values`, which hold
 * the numbers named in its `reads`, in that order; `fallback` when it is not
 * among them or the host had none (NaN).
 */
export function read(reads, values, name, fallback) {
  const v = values[reads.indexOf(name)];
  return v === undefined || !Number.isFinite(v) ? fallback : v;
}

/** The band thresholds, for a scorer's `reads` when it uses `riskLevel`. */
export const RISK_BANDS = ["risk.minimal", "risk.low", "risk.medium", "risk.high"];

/** The risk level of a score, banded by the host's thresholds. */
export function riskLevel(score, reads, values) {
  if (score < read(reads, values, "risk.minimal", 0.2)) return "minimal";
  if (score < read(reads, values, "risk.low", 0.4)) return "low";
  if (score < read(reads, values, "risk.medium", 0.6)) return "medium";
  if (score < read(reads, values, "risk.high", 0.8)) return "high";
  return "critical";
}

/** The strongest threat indicator's score (0 with no context): `strongestIndicator(facts.siem)`. */
export function strongestIndicator(siem) {
  return siem == null ? 0 : siem.strongestIndicator;
}
