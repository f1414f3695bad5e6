# An independent labelled corpus generator (not from config/scenarios): used
# only to check that judgement generalises.
import json, random, sys, math
from datetime import datetime, timedelta, timezone
# Variants: easy | hard | nocrit (one model of a fleet), overlap (another:
# see overlap() below).
seed=int(sys.argv[1]); n=int(sys.argv[2]); variant=sys.argv[3]; out=sys.argv[4]
R=random.Random(seed)

def overlap():
    """A fleet shaped differently: 120 modules, most of them almost always
    killed wrongly and the rest about half the time; SIEM risk and Smith's
    confidence normal and overlapping widely; indicators on 40% of threats
    and 10% of false positives; the SIEM's false positives on record
    Poisson; the kill's reason telling a little. Even a judge that knew
    every parameter of this model would bring back only about a quarter of
    the false positives with no threat revived (an outline of that
    computation is in docs/decision-quality.md)."""
    mods=[]
    for i in range(120):
        c=R.choices(['low','medium','high','critical'],[30,40,20,10])[0]
        fp = R.betavariate(9,1) if R.random()<0.7 else R.betavariate(2,2)
        mods.append((f"app-{i:03d}",c,fp,R.lognormvariate(0,0.6)))
    w=[m[3] for m in mods]
    t=datetime(2026,5,1,tzinfo=timezone.utc)
    clip=lambda x: min(1.0,max(0.0,x))
    def poisson(l):
        k=0; p=R.random(); q=math.exp(-l); s=q
        while p>s:
            k+=1; q*=l/k; s+=q
        return k
    kinds=['threat_detected','anomaly_behavior','policy_violation','resource_exhaustion','dependency_cascade']
    with open(out,'w') as f:
        f.write(json.dumps({"medic_recording":1,"generator":"exp-gen-overlap","seed":seed})+"\n")
        for k in range(n):
            t+=timedelta(seconds=R.expovariate(1/180))
            name,c,fp,_=R.choices(mods,w)[0]
            threat = R.random() > fp
            if threat:
                reason=R.choices(kinds,[4,4,2,1,0.5])[0]
                risk=clip(R.gauss(0.66,0.17)); conf=clip(R.gauss(0.82,0.09))
            else:
                reason=R.choices(kinds,[1,4,2,3,2])[0]
                risk=clip(R.gauss(0.32,0.15)); conf=clip(R.gauss(0.74,0.1))
            ts=t.strftime('%Y-%m-%dT%H:%M:%SZ')
            inds=[]
            if R.random() < (0.4 if threat else 0.1):
                for j in range(R.randint(1,2)):
                    inds.append({"indicator_type":R.choice(["ip","domain","hash"]),"value":f"v{j}-{k}","threat_score":round(clip(R.gauss(0.75 if threat else 0.55,0.15)),3),"source":"feed","last_seen":ts})
            ctx={"query_id":f"q-{k}","kill_id":f"a-{k}","timestamp":ts,"threat_indicators":inds,"false_positive_history":poisson(0.3 if threat else 1.5),"risk_score":round(risk,4)}
            kill={"kill_id":f"a-{k}","timestamp":ts,"target_module":name,"target_instance_id":f"{name}-0","kill_reason":reason,"severity":R.choice(['low','medium','high','critical']),"confidence_score":round(conf,4),"source_agent":"smith"}
            rec={"kill":kill,"context":ctx,"label":{"truth":"true_threat" if threat else "false_positive","outcome":("re_killed" if threat else "success")},"profile":{"criticality":c}}
            f.write(json.dumps(rec)+"\n")

if variant=='overlap':
    overlap()
    sys.exit(0)
crit=['low','medium','high','critical']
mods=[]
for i in range(90):
    c=R.choices(crit,[40,30,22,8])[0]
    fp=min(0.97,max(0.2,R.betavariate(4,1.6)))  # mean ~0.71
    mods.append((f"svc-{i:03d}",c,fp,R.uniform(0.5,2.0)))
w=[m[3] for m in mods]
reasons=['anomaly_behavior','threat_detected','policy_violation','resource_exhaustion','dependency_cascade']
t=datetime(2026,3,1,tzinfo=timezone.utc)
def beta_mean(m,k):
    return R.betavariate(m*k,(1-m)*k)
with open(out,'w') as f:
    f.write(json.dumps({"medic_recording":1,"generator":"exp-gen","seed":seed})+"\n")
    for k in range(n):
        t+=timedelta(seconds=R.expovariate(1/200))
        name,c,fp,_=R.choices(mods,w)[0]
        threat = R.random() > fp
        reason=R.choices(reasons,[5,2,2,2,1])[0]
        if variant=='hard':
            risk = beta_mean(0.68 if threat else 0.3, 9)
        else:
            risk = beta_mean(0.78 if threat else 0.25, 12)
        conf = min(1,max(0,R.gauss(0.8 if threat else 0.7, 0.1)))
        inds=[]
        if R.random() < (0.55 if threat else 0.05):
            for j in range(R.randint(1,3)):
                inds.append({"indicator_type":"ip","value":f"10.0.{j}.{k%250}","threat_score":round(R.uniform(0.6,0.98) if threat else R.uniform(0.3,0.85),3),"source":"intel","last_seen":t.strftime('%Y-%m-%dT%H:%M:%SZ')})
        fph = (R.choice([0,0,1,2,3,4]) if not threat else R.choice([0,0,0,0,1]))
        ctx={"query_id":f"q-{k}","kill_id":f"x-{k}","timestamp":t.strftime('%Y-%m-%dT%H:%M:%SZ'),"threat_indicators":inds,"false_positive_history":fph,"risk_score":round(risk,4)}
        kill={"kill_id":f"x-{k}","timestamp":t.strftime('%Y-%m-%dT%H:%M:%SZ'),"target_module":name,"target_instance_id":f"{name}-1","kill_reason":reason,"severity":R.choice(['low','medium','high']),"confidence_score":round(conf,4),"source_agent":"smith-exp"}
        rec={"kill":kill,"context":ctx,"label":{"truth":"true_threat" if threat else "false_positive","outcome":("re_killed" if threat else "success")}}
        if variant!='nocrit': rec["profile"]={"criticality":c}
        f.write(json.dumps(rec)+"\n")
