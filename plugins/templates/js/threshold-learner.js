// {{name}}: a Medic threshold learner in JavaScript.
//
// It gets the thresholds in force and the outcomes since its last run, and
// proposes changes; the host applies them only within
// max_adjustment_percent and its own checks.
import { value } from "./common.js";

export function describe() {
  return {
    name: "{{name}}", version: "0.1.0", kind: "threshold-learner",
    description: "Lowers risk.low when more than 20% of low-risk resurrections are re-killed.",
    uses: ["risk.low", "max_adjustment_percent", "min_samples"],
    // A learner gets its thresholds and settings by name.
    reads: [],
  };
}

export function learn(input) {
  const minimum = value(input.settings, "min_samples", 50);
  const maxPct = value(input.settings, "max_adjustment_percent", 10);
  const low = input.samples.filter((s) => s.riskLevel === "low");
  if (low.length < minimum) return [];
  const rekilled = low.filter((s) => s.outcome === "re-killed").length;
  const rate = rekilled / low.length;
  if (rate <= 0.2) return [];
  const old = value(input.thresholds, "risk.low", 0.4);
  return [{
    name: "risk.low", oldValue: old, newValue: old * (1 - Math.min(maxPct, 5) / 100),
    reason: `${rekilled} of ${low.length} low-risk resurrections re-killed (${(rate * 100).toFixed(0)}%)`,
  }];
}
