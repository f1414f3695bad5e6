// example-js-strategy: a Medic strategy in JavaScript.
//
// It gets the kill, the SIEM context, the module's history, the thresholds
// and the risk the scorer gave, and returns a verdict. Everything it may use
// is in its input: no clock, no randomness, no I/O. The host's guardrails
// still have the last word. Throw an Error to refuse.
import { read, strongestIndicator } from "./common.js";

// The named numbers it reads: each call's `values` holds them in this order.
const READS = ["auto_approve.min_confidence"];

export function describe() {
  return {
    name: "example-js-strategy", version: "0.1.0", kind: "strategy",
    description: "Approves low risk with SIEM context and no strong indicator; denies critical; a human decides the rest.",
    uses: ["risk", "context", "auto_approve.min_confidence"],
    reads: READS,
  };
}

export function decide(input) {
  const why = ["example-js-strategy"];
  const level = input.risk.level;
  const minConfidence = read(READS, input.values, "auto_approve.min_confidence", 0.85);
  let outcome, confidence;
  if (level === "critical") {
    why.push("critical risk: do not resurrect");
    [outcome, confidence] = ["deny", input.risk.score];
  } else if ((level === "minimal" || level === "low") && input.context != null
             && strongestIndicator(input.context) < 0.8) {
    why.push(`${level} risk with SIEM context and no strong indicator`);
    [outcome, confidence] = ["approve-auto", Math.max(minConfidence, 1 - input.risk.score)];
  } else {
    why.push("not clearly safe: a human decides");
    [outcome, confidence] = ["pending-review", 0.5];
  }
  return {
    outcome, confidence: Math.min(Math.max(confidence, 0), 1), reasoning: why,
    recommendedAction: `${outcome} for ${input.kill.targetModule}`,
    constraints: [], timeoutMinutes: 60,
  };
}
