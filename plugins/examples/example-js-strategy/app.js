// example-js-strategy: a Medic strategy in JavaScript.
//
// It gets the kill's facts (its numbers, the SIEM's and its module's
// history), the kill itself to read the rest from (`kill.report()`,
// `kill.context()`), the thresholds and the risk the scorer gave, and
// returns a verdict. Everything it may use is in its input: no clock, no
// randomness, no I/O. The host's guardrails still have the last word. Throw
// an Error to refuse.
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

export function decide(facts, kill, risk, values) {
  const why = ["example-js-strategy"];
  const level = risk.level;
  const minConfidence = read(READS, values, "auto_approve.min_confidence", 0.85);
  let outcome, confidence;
  if (level === "critical") {
    why.push("critical risk: do not resurrect");
    [outcome, confidence] = ["deny", risk.score];
  } else if ((level === "minimal" || level === "low") && facts.siem != null
             && strongestIndicator(facts.siem) < 0.8) {
    why.push(`${level} risk with SIEM context and no strong indicator`);
    [outcome, confidence] = ["approve-auto", Math.max(minConfidence, 1 - risk.score)];
  } else {
    why.push("not clearly safe: a human decides");
    [outcome, confidence] = ["pending-review", 0.5];
  }
  return {
    outcome, confidence: Math.min(Math.max(confidence, 0), 1), reasoning: why,
    recommendedAction: `${outcome} for ${facts.profile.module}`,
    constraints: [], timeoutMinutes: 60,
  };
}
