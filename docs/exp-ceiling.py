# The best any judge could do on independent-corpus.py's `easy`, `hard` and
# `nocrit` variants: it knows every parameter of the generator (each
# module's true share of false positives, the distributions of the SIEM's
# risk, Smith's confidence, the indicators and the false positives on
# record) and reads each kill with Bayes' rule. Prints what share of the
# false positives it would bring back without a person, with no threat
# revived, and for a few cut-offs on the likelihood that the kill was a
# threat (critical modules, which the constitution puts to a person, left
# out).
#   python3 docs/exp-ceiling.py SEED VARIANT RECORDING   (SEED as generated)
import json, math, random, sys
seed = int(sys.argv[1]); variant = sys.argv[2]; path = sys.argv[3]
R = random.Random(seed)
mods = {}
for i in range(90):  # the same draws, in the same order, as the generator
    c = R.choices(['low', 'medium', 'high', 'critical'], [40, 30, 22, 8])[0]
    fp = min(0.97, max(0.2, R.betavariate(4, 1.6)))
    R.uniform(0.5, 2.0)
    mods[f"svc-{i:03d}"] = (c, fp)

def log_beta(x, mean, k):
    a, b = mean * k, (1 - mean) * k
    return (a - 1) * math.log(x) + (b - 1) * math.log(1 - x) \
        - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))

def log_normal(x, mean, sd):
    return -0.5 * ((x - mean) / sd) ** 2

threat_mean, fp_mean, k = (0.68, 0.3, 9) if variant == 'hard' else (0.78, 0.25, 12)
rows = []
for line in open(path):
    r = json.loads(line)
    if 'kill' not in r:
        continue
    kill, ctx = r['kill'], r['context']
    threat = r['label']['truth'] == 'true_threat'
    crit, fp = mods[kill['target_module']]
    lo = math.log((1 - fp) / fp)
    x = min(max(ctx['risk_score'], 1e-4), 1 - 1e-4)
    lo += log_beta(x, threat_mean, k) - log_beta(x, fp_mean, k)
    lo += log_normal(kill['confidence_score'], 0.8, 0.1) - log_normal(kill['confidence_score'], 0.7, 0.1)
    on_record = ctx['false_positive_history']
    lo += math.log({0: 0.8, 1: 0.2}.get(on_record, 1e-9) / {0: 2 / 6}.get(on_record, 1 / 6))
    if ctx['threat_indicators']:
        lo += math.log(0.55 / 0.05)
        for i in ctx['threat_indicators']:
            s = i['threat_score']
            lo += math.log((1 / 0.38 if 0.6 <= s <= 0.98 else 1e-9) / (1 / 0.55 if 0.3 <= s <= 0.85 else 1e-9))
    else:
        lo += math.log(0.45 / 0.95)
    rows.append((lo, threat, crit))
fps = sum(1 for r in rows if not r[1])
back = 0
for lo, threat, crit in sorted(rows):
    if crit == 'critical':
        continue
    if threat:
        break
    back += 1
print(f"{variant}: {100 * back / fps:.1f}% of false positives back before the first threat (in order of likelihood)")
for cut in [1e-2, 3e-3, 1e-3, 3e-4]:
    c = math.log(cut / (1 - cut))
    b = [r for r in rows if r[0] < c and r[2] != 'critical']
    print(f"likelihood of a threat under {cut}: {sum(1 for r in b if r[1])} threats back, "
          f"{100 * sum(1 for r in b if not r[1]) / fps:.1f}% of false positives back")
