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


risk_means, risk_sd = {"compressed": ((0.5, 0.35), 0.1), "inverted": ((0.35, 0.45), 0.15)}.get(
    variant, ((0.72, 0.28), 0.16))
# The SIEM's false positives on record: 0-1 for threats, 0-3 for false positives.
ON_RECORD = {True: {0: 0.75, 1: 0.25}, False: {0: 0.2, 1: 0.4, 2: 0.2, 3: 0.2}}
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
    x = kill["confidence_score"]
    lo += log_normal(x, 0.75, 0.12) - log_normal(x, 0.7, 0.12)
    ctx = r.get("context")
    if ctx:
        x = ctx["risk_score"]
        lo += log_normal(x, risk_means[0], risk_sd) - log_normal(x, risk_means[1], risk_sd)
        if ctx["threat_indicators"]:
            s = ctx["threat_indicators"][0]["threat_score"]
            lo += math.log(0.35 / 0.08) + log_normal(s, 0.8, 0.12) - log_normal(s, 0.6, 0.12)
        else:
            lo += math.log(0.65 / 0.92)
        h = ctx["false_positive_history"]
        pt, pf = ON_RECORD[True].get(h, 0.0), ON_RECORD[False].get(h, 0.0)
        lo = -math.inf if pt == 0 else lo + math.log(pt / pf)
    likelihood = 0.0 if lo == -math.inf else 1 / (1 + math.exp(-lo))
    if likelihood < cut:
        threats_back += threat
        fp_back += not threat
print(f"{path}: likelihood of a threat under {cut}: {threats_back} threat(s) back, "
      f"{fp_back} of {false_positives} false positives back ({100 * fp_back / false_positives:.1f}%)")
