# The best any judge could do on independent-corpus.py's `overlap` variant:
# it knows every parameter of the generator (each module's true share of
# false positives, the distributions of every piece of evidence) and reads
# each kill with Bayes' rule. Prints, for a few cut-offs on the likelihood
# that the kill was a threat, how many threats and what share of the false
# positives it would bring back without a person (critical modules, which
# the constitution puts to a person, left out).
#   python3 docs/overlap-ceiling.py SEED RECORDING   (SEED as generated)
import json, math, random, sys
seed=int(sys.argv[1]); path=sys.argv[2]
R=random.Random(seed)
mods={}
for i in range(120):  # the same draws, in the same order, as overlap()
    c=R.choices(['low','medium','high','critical'],[30,40,20,10])[0]
    fp = R.betavariate(9,1) if R.random()<0.7 else R.betavariate(2,2)
    R.lognormvariate(0,0.6)
    mods[f"app-{i:03d}"]=(c,fp)
def normal(x,m,s): return math.exp(-0.5*((x-m)/s)**2)/s
def poisson(k,l): return math.exp(-l)*l**k/math.factorial(k)
threat_reasons={'threat_detected':4,'anomaly_behavior':4,'policy_violation':2,'resource_exhaustion':1,'dependency_cascade':0.5}
fp_reasons={'threat_detected':1,'anomaly_behavior':4,'policy_violation':2,'resource_exhaustion':3,'dependency_cascade':2}
st=sum(threat_reasons.values()); sf=sum(fp_reasons.values())
rows=[]
for line in open(path):
    r=json.loads(line)
    if 'kill' not in r: continue
    k=r['kill']; c=r['context']; threat=r['label']['truth']=='true_threat'
    crit,fp=mods[k['target_module']]
    lo=math.log((1-fp)/fp)
    lo+=math.log(normal(c['risk_score'],0.66,0.17)/normal(c['risk_score'],0.32,0.15))
    lo+=math.log(normal(k['confidence_score'],0.82,0.09)/normal(k['confidence_score'],0.74,0.1))
    lo+=math.log((threat_reasons[k['kill_reason']]/st)/(fp_reasons[k['kill_reason']]/sf))
    lo+=math.log(poisson(c['false_positive_history'],0.3)/poisson(c['false_positive_history'],1.5))
    if c['threat_indicators']:
        lo+=math.log(0.4/0.1)
        for i in c['threat_indicators']:
            lo+=math.log(normal(i['threat_score'],0.75,0.15)/normal(i['threat_score'],0.55,0.15))
    else:
        lo+=math.log(0.6/0.9)
    rows.append((lo,threat,crit))
fps=sum(1 for r in rows if not r[1])
for cut in [1e-2,3e-3,1e-3,3e-4]:
    c=math.log(cut/(1-cut))
    back=[r for r in rows if r[0]<c and r[2]!='critical']
    print(f"likelihood of a threat under {cut}: {sum(1 for r in back if r[1])} threats back, "
          f"{100*sum(1 for r in back if not r[1])/fps:.1f}% of false positives back")
