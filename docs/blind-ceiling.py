# The best any judge could do on blind-corpus.py's recordings: it knows the
# generator's parameters (each module's true share of false positives, how
# the SIEM's risk, the indicators, the false positives on record, Smith's
# confidence and the reason are drawn for threats and for false positives)
# and reads each kill with Bayes' rule. In `bursty` it does not know which
# module is under attack at the moment (nor does anyone looking at one
# kill). Prints, for a cut-off on the likelihood that the kill was a
# threat, how many threats and what share of all false positives it would
# bring back without a person (critical modules' never: the constitution
# puts them to a person).
#   python3 docs/blind-ceiling.py SEED VARIANT RECORDING [CUT-OFF, default 0.001]
import importlib.util, json, math, os, random, sys

spec = importlib.util.spec_from_file_location(
    "blind_corpus", os.path.join(os.path.dirname(os.path.abspath(__file__)), "blind-corpus.py"))
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

seed = int(sys.argv[1]); variant = sys.argv[2]; path = sys.argv[3]
cut = float(sys.argv[4]) if len(sys.argv) > 4 else 0.001
mods = {name: (c, fp) for name, c, fp, _ in corpus.fleet(random.Random(seed), variant)}


def log_normal(x, mean, sd):
    return -0.5 * ((x - mean) / sd) ** 2


def reason_share(threat, reason):
    w = corpus.REASON_WEIGHTS[threat]
    return w[corpus.REASONS.index(reason)] / sum(w)


def log_ratio(x, params):
    """Log-likelihood ratio, threat against false positive, of `x` drawn
    from one of the generator's (threat mean, false positive mean, sd)."""
    return log_normal(x, params[0], params[2]) - log_normal(x, params[1], params[2])


def on_record_share(threat, count):
    values = corpus.ON_RECORD[threat]
    return values.count(count) / len(values)


risk_params = corpus.RISK.get(variant, corpus.RISK_OTHERWISE)
rate = corpus.INDICATOR_RATE
false_positives = fp_back = threats_back = 0
for line in open(path):
    r = json.loads(line)
    if "kill" not in r:
        continue
    kill = r["kill"]
    threat = r["label"]["truth"] == "true_threat"
    false_positives += not threat
    criticality, fp = mods[kill["target_module"]]
    if criticality == "critical":
        continue
    lo = math.log((1 - fp) / fp)
    lo += math.log(reason_share(True, kill["kill_reason"]) / reason_share(False, kill["kill_reason"]))
    lo += log_ratio(kill["confidence_score"], corpus.CONFIDENCE)
    ctx = r.get("context")
    if ctx:
        lo += log_ratio(ctx["risk_score"], risk_params)
        if ctx["threat_indicators"]:
            s = ctx["threat_indicators"][0]["threat_score"]
            lo += math.log(rate[True] / rate[False]) + log_ratio(s, corpus.INDICATOR_SCORE)
        else:
            lo += math.log((1 - rate[True]) / (1 - rate[False]))
        h = ctx["false_positive_history"]
        pt, pf = on_record_share(True, h), on_record_share(False, h)
        lo = -math.inf if pt == 0 else lo + math.log(pt / pf)
    likelihood = 0.0 if lo == -math.inf else 1 / (1 + math.exp(-lo))
    if likelihood < cut:
        threats_back += threat
        fp_back += not threat
print(f"{path}: likelihood of a threat under {cut}: {threats_back} threat(s) back, "
      f"{fp_back} of {false_positives} false positives back ({100 * fp_back / false_positives:.1f}%)")
