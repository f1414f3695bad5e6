// Helpers for Medic plugins in JavaScript (part of the generated project).

/** The named value `name` (a threshold, weight or setting), or `fallback`. */
export function value(values, name, fallback) {
  const v = values.find((v) => v.name === name);
  return v === undefined ? fallback : v.value;
}

/** The risk level of a score, banded by the host's thresholds. */
export function riskLevel(score, thresholds) {
  if (score < value(thresholds, "risk.minimal", 0.2)) return "minimal";
  if (score < value(thresholds, "risk.low", 0.4)) return "low";
  if (score < value(thresholds, "risk.medium", 0.6)) return "medium";
  if (score < value(thresholds, "risk.high", 0.8)) return "high";
  return "critical";
}

/** The strongest threat indicator's score (0 with no context). */
export function strongestIndicator(context) {
  if (context == null) return 0;
  return context.threatIndicators.reduce((m, i) => Math.max(m, i.threatScore), 0);
}
