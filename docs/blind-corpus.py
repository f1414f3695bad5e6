# A third labelled corpus generator, written without looking at how the
# evidence scorer reads its evidence: a check that Medic's judgement holds
# up on a fleet it was not shaped by (docs/decision-quality.md, "A third
# generator"). Usage: python3 docs/blind-corpus.py SEED KILLS VARIANT OUT
#
# The fleet: 150 modules (1,000 in `sparse`) whose kill rates follow a
# Pareto law (a few modules take most kills), each with its own share of
# false positives drawn from Beta(6, 2) (a quarter of kills real threats
# on average), a kill every 150 s on average. The SIEM's risk is normal
# around 0.72 for threats and 0.28 for false positives (sd 0.16); threat
# indicators on 35% of threats and 8% of false positives; the SIEM's false
# positives on record 0 or 1 for threats, 0 to 3 for false positives;
# Smith's confidence barely higher for threats; 5% of kills without SIEM
# context. Variants:
#   plain       as above
#   sparse      1,000 modules: little history per module
#   bursty      now and then a module comes under attack for 1-12 hours,
#               and 90% of its kills then are real threats
#   compressed  the SIEM's risk squeezed: 0.5 for threats, 0.35 for false
#               positives (sd 0.1)
#   inverted    a SIEM that scores this fleet's threats lower than its
#               false positives (0.35 against 0.45, sd 0.15)
#   missing     30% of kills without SIEM context
import json, random, sys
from datetime import datetime, timedelta, timezone

VARIANTS = ["plain", "sparse", "bursty", "compressed", "inverted", "missing"]
clip = lambda x: min(1.0, max(0.0, x))
REASONS = ["anomaly_behavior", "threat_detected", "policy_violation", "resource_exhaustion", "dependency_cascade"]
# How often each reason is given for a real threat and for a false positive.
REASON_WEIGHTS = {True: [3, 2, 2, 2, 1], False: [4, 1, 2, 3, 2]}
# The SIEM's risk: (mean for a threat, mean for a false positive, sd), by variant.
RISK = {"compressed": (0.5, 0.35, 0.1), "inverted": (0.35, 0.45, 0.15)}
RISK_OTHERWISE = (0.72, 0.28, 0.16)
# Smith's confidence: (mean for a threat, mean for a false positive, sd).
CONFIDENCE = (0.75, 0.7, 0.12)
# A threat indicator: how often one comes with a threat and with a false
# positive, and its score (mean for a threat, for a false positive, sd).
INDICATOR_RATE = {True: 0.35, False: 0.08}
INDICATOR_SCORE = (0.8, 0.6, 0.12)
# The SIEM's false positives on record, each value equally likely.
ON_RECORD = {True: [0, 0, 0, 1], False: [0, 1, 1, 2, 3]}


def mean(params, threat):
    """The mean of a (threat mean, false positive mean, sd) triple."""
    return params[0] if threat else params[1]


def fleet(R, variant):
    """The modules: (name, criticality, share of false positives, kill rate).
    blind-ceiling.py draws the same fleet from the same seed."""
    mods = []
    for i in range(1000 if variant == "sparse" else 150):
        c = R.choices(["low", "medium", "high", "critical"], [25, 45, 25, 5])[0]
        fp = R.betavariate(6, 2)
        mods.append((f"m{i:04d}", c, fp, R.paretovariate(1.5)))
    return mods


if __name__ == "__main__":
    seed = int(sys.argv[1]); n = int(sys.argv[2]); variant = sys.argv[3]; out = sys.argv[4]
    if variant not in VARIANTS:
        sys.exit(f"variant must be one of {', '.join(VARIANTS)}")
    R = random.Random(seed)
    mods = fleet(R, variant)
    w = [m[3] for m in mods]
    t = datetime(2026, 7, 1, tzinfo=timezone.utc)
    attacked_until = {}
    with open(out, "w") as f:
        f.write(json.dumps({"medic_recording": 1, "generator": "blind-" + variant, "seed": seed}) + "\n")
        for k in range(n):
            t += timedelta(seconds=R.expovariate(1 / 150))
            name, c, fp, _ = R.choices(mods, w)[0]
            p_threat = 1 - fp
            if variant == "bursty":
                if name in attacked_until and attacked_until[name] > t:
                    p_threat = 0.9
                elif R.random() < 0.01:
                    attacked_until[name] = t + timedelta(hours=R.uniform(1, 12))
                    p_threat = 0.9
            threat = R.random() < p_threat
            reason = R.choices(REASONS, REASON_WEIGHTS[threat])[0]
            risk_params = RISK.get(variant, RISK_OTHERWISE)
            risk = clip(R.gauss(mean(risk_params, threat), risk_params[2]))
            conf = clip(R.gauss(mean(CONFIDENCE, threat), CONFIDENCE[2]))
            ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            inds = []
            if R.random() < INDICATOR_RATE[threat]:
                score = clip(R.gauss(mean(INDICATOR_SCORE, threat), INDICATOR_SCORE[2]))
                inds.append({"indicator_type": "domain", "value": f"d{k}",
                             "threat_score": round(score, 3),
                             "source": "feed", "last_seen": ts})
            missing = R.random() < (0.3 if variant == "missing" else 0.05)
            fph = R.choice(ON_RECORD[threat])
            kill = {"kill_id": f"g-{k}", "timestamp": ts, "target_module": name,
                    "target_instance_id": f"{name}-a", "kill_reason": reason,
                    "severity": R.choice(["low", "medium", "high", "critical"]),
                    "confidence_score": round(conf, 4), "source_agent": "smith-g"}
            rec = {"kill": kill,
                   "label": {"truth": "true_threat" if threat else "false_positive",
                             "outcome": "re_killed" if threat else "success"},
                   "profile": {"criticality": c}}
            if not missing:
                rec["context"] = {"query_id": f"q-{k}", "kill_id": f"g-{k}", "timestamp": ts,
                                  "threat_indicators": inds, "false_positive_history": fph,
                                  "risk_score": round(risk, 4)}
            f.write(json.dumps(rec) + "\n")
