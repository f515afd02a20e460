# tunnel_report.py ENV_JSON REC_FILE CRYPTO_JSON|"" OUT_JSON OUT_MD - bench_tunnel.sh's
# report: summaries per scenario, ratios, the JSON document and the Markdown table.
import json, sys, statistics
envf, recf, cjf, outf, mdf = sys.argv[1:]
doc = json.load(open(envf))
recs = [json.loads(l) for l in open(recf) if l.strip()]
LABEL = {"veth": "plain veth", "bpftun-aft": "bpftun aes-fixed-time", "bpftun-gen": "bpftun aes-generic",
         "bpftun-aft-steer": "bpftun aes-fixed-time, steering on", "bpftun-gen-steer": "bpftun aes-generic, steering on",
         "bpftun-wg": "bpftun WireGuard suite (ChaCha20-Poly1305 in BPF)",
         "wireguard-go": "wireguard-go", "openvpn": "OpenVPN AES-256-GCM"}

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    f = int(k); c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

scen = []
failures = []
for name in doc["config"]["scenarios"]:
    rs = [r for r in recs if r["scenario"] == name]
    rounds = {}
    for r in rs:
        rounds.setdefault(r["round"], {})[r["test"]] = r
        if not r["ok"]:
            failures.append({"scenario": name, "round": r["round"], "test": r["test"], "error": r.get("error")})
    def ok(test):
        return [r[test] for r in rounds.values() if test in r and r[test]["ok"]]
    s = {}
    for t in ("tcp1", "tcp2"):
        v = ok(t)
        s[t + "_gbps"] = med([x["goodput_bps"] / 1e9 for x in v])
        s[t + "_retransmits"] = med([x["retransmits"] for x in v])
        s[t + "_busy_cores"] = med([x["cpu"]["busy_cores"] for x in v if x.get("cpu")])
        s[t + "_cpu_s_per_GB"] = med([x.get("cpu_s_per_GB") for x in v])
        s[t + "_daemon_cpu_s_per_GB"] = med([x.get("daemon_cpu_s_per_GB") for x in v])
        s[t + "_kernel_cpu_s_per_GB"] = med([x.get("kernel_cpu_s_per_GB") for x in v])
        s[t + "_user_cpu_s_per_GB"] = med([x.get("user_cpu_s_per_GB") for x in v])
        s[t + "_n"] = len(v)
    for t in ("udp1400", "udp64"):
        v = ok(t)
        s[t + "_goodput_gbps"] = med([x["goodput_bps"] / 1e9 for x in v])
        s[t + "_sent_gbps"] = med([x["sent_bps"] / 1e9 for x in v])
        s[t + "_delivered_pps"] = med([x["delivered_pps"] for x in v])
        s[t + "_sent_pps"] = med([x["sent_pps"] for x in v])
        s[t + "_lost_percent"] = med([x["lost_percent"] for x in v])
        s[t + "_busy_cores"] = med([x["cpu"]["busy_cores"] for x in v if x.get("cpu")])
        s[t + "_cpu_s_per_GB"] = med([x.get("cpu_s_per_GB") for x in v])
        s[t + "_n"] = len(v)
    for t in ("ping", "pingbusy"):
        samples = [y for x in ok(t) for y in x["rtt_us"]]
        s[t + "_n"] = len(samples)
        s[t + "_median_us"] = round(pct(samples, 50), 1) if samples else None
        s[t + "_p99_us"] = round(pct(samples, 99), 1) if samples else None
        s[t + "_sent"] = sum(x["sent"] or 0 for x in ok(t))
    sp = ok("sockperf")
    s["sockperf_median_us"] = med([x["median_us"] for x in sp])
    s["sockperf_p99_us"] = med([x["p99_us"] for x in sp])
    setups = ok("setup")
    s["setup_seconds"] = med([x.get("seconds") for x in setups])
    s["rounds_ok"] = len(setups)
    info = setups[0].get("info") if setups else None
    scen.append({"name": name, "label": LABEL[name], "info": info, "summary": s,
                 "rounds": [rounds[k] for k in sorted(rounds)]})
doc["scenarios"] = scen
doc["failures"] = failures
if cjf:
    doc["crypto"] = json.load(open(cjf))

S = {x["name"]: x["summary"] for x in scen}
def ratio(a, b):
    return round(a / b, 3) if a is not None and b not in (None, 0) else None
def g(n, k):
    return S.get(n, {}).get(k)
rat = {}
for t in ("tcp1", "tcp2"):
    for b in ("bpftun-gen", "bpftun-aft"):
        rat["%s_%s_steer_on_over_off" % (t, b.replace("-", "_"))] = ratio(g(b + "-steer", t + "_gbps"), g(b, t + "_gbps"))
        rat["%s_%s_steer_over_wireguard_go" % (t, b.replace("-", "_"))] = ratio(g(b + "-steer", t + "_gbps"), g("wireguard-go", t + "_gbps"))
        rat["%s_%s_over_wireguard_go" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("wireguard-go", t + "_gbps"))
        rat["%s_%s_over_openvpn" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("openvpn", t + "_gbps"))
        rat["%s_%s_over_veth" % (t, b.replace("-", "_"))] = ratio(g(b, t + "_gbps"), g("veth", t + "_gbps"))
    rat["%s_wireguard_go_over_veth" % t] = ratio(g("wireguard-go", t + "_gbps"), g("veth", t + "_gbps"))
    rat["%s_bpftun_wg_over_wireguard_go" % t] = ratio(g("bpftun-wg", t + "_gbps"), g("wireguard-go", t + "_gbps"))
    rat["%s_bpftun_wg_over_bpftun_aft" % t] = ratio(g("bpftun-wg", t + "_gbps"), g("bpftun-aft", t + "_gbps"))
for k in ("ping", "pingbusy", "sockperf"):
    base = g("veth", k + "_median_us")
    added = {}
    for n in ("bpftun-aft", "bpftun-gen", "wireguard-go", "openvpn"):
        v = g(n, k + "_median_us")
        added[n] = round(v - base, 1) if v is not None and base is not None else None
    rat["added_rtt_us_" + k] = added
    for b in ("bpftun-aft", "bpftun-gen"):
        rat["added_rtt_%s_%s_over_wireguard_go" % (k, b.replace("-", "_"))] = ratio(added[b], added["wireguard-go"])
cr = doc.get("crypto") or {}
for r in cr.get("results", []):
    if r.get("inner_len") == 1400:
        lab = r["driver"].replace("ecb(", "").rstrip(")")
        rat["crypto_1400_%s" % lab.replace("-", "_")] = dict(r["ratios"], seal_ns=r["ops"]["seal"]["median_ns"],
                                                               open_ns=r["ops"]["open"]["median_ns"], ecb_ns=r["ops"]["ecb"]["median_ns"])
doc["ratios"] = rat
doc["env"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
doc["ok"] = not failures and all(x["summary"]["rounds_ok"] == doc["config"]["rounds"] for x in scen)
json.dump(doc, open(outf, "w"), indent=1)

# ---- table
def f(v, fmt):
    return "-" if v is None else fmt % v
rows = []
hdr = ["scenario", "TCP x1 Gbit/s", "TCP x2 Gbit/s", "UDP 1400 B Gbit/s (loss)", "UDP 64 B kpps (loss)",
       "ping -i 0.01 RTT med / p99 µs", "ping -i 0.0002 RTT med / p99 µs", "UDP ping-pong RTT med / p99 µs",
       "TCP x1 CPU-s/GB: all / kernel / daemons"]
for x in scen:
    s = x["summary"]
    if s["rounds_ok"] == 0:
        rows.append([x["label"]] + ["FAILED"] + [""] * (len(hdr) - 2))
        continue
    rows.append([
        x["label"],
        f(s["tcp1_gbps"], "%.2f"), f(s["tcp2_gbps"], "%.2f"),
        "%s (%s)" % (f(s["udp1400_goodput_gbps"], "%.2f"), f(s["udp1400_lost_percent"], "%.1f%%")),
        "%s (%s)" % (f(s["udp64_delivered_pps"] and s["udp64_delivered_pps"] / 1e3, "%.0f"), f(s["udp64_lost_percent"], "%.1f%%")),
        "%s / %s" % (f(s["ping_median_us"], "%.0f"), f(s["ping_p99_us"], "%.0f")),
        "%s / %s" % (f(s["pingbusy_median_us"], "%.0f"), f(s["pingbusy_p99_us"], "%.0f")),
        "%s / %s" % (f(s["sockperf_median_us"], "%.0f"), f(s["sockperf_p99_us"], "%.0f")),
        "%s / %s / %s" % (f(s["tcp1_cpu_s_per_GB"], "%.1f"), f(s["tcp1_kernel_cpu_s_per_GB"], "%.1f"), f(s["tcp1_daemon_cpu_s_per_GB"], "%.1f")),
    ])
md = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|"]
md += ["| " + " | ".join(r) + " |" for r in rows]
def pr(v, fmt="%.2f"):
    return "-" if v is None else fmt % v
lines = ["", "Ratios (same run):"]
lines.append("- TCP x1 goodput, bpftun / wireguard-go: aes-generic %s, aes-fixed-time %s (x2 streams: %s, %s)" % (
    pr(rat.get("tcp1_bpftun_gen_over_wireguard_go")), pr(rat.get("tcp1_bpftun_aft_over_wireguard_go")),
    pr(rat.get("tcp2_bpftun_gen_over_wireguard_go")), pr(rat.get("tcp2_bpftun_aft_over_wireguard_go"))))
lines.append("- TCP goodput, bpftun steering on / off, same cipher: x1 aes-generic %s, aes-fixed-time %s; x2 %s, %s" % (
    pr(rat.get("tcp1_bpftun_gen_steer_on_over_off")), pr(rat.get("tcp1_bpftun_aft_steer_on_over_off")),
    pr(rat.get("tcp2_bpftun_gen_steer_on_over_off")), pr(rat.get("tcp2_bpftun_aft_steer_on_over_off"))))
lines.append("- TCP x1 goodput, bpftun steering on / wireguard-go: aes-generic %s, aes-fixed-time %s" % (
    pr(rat.get("tcp1_bpftun_gen_steer_over_wireguard_go")), pr(rat.get("tcp1_bpftun_aft_steer_over_wireguard_go"))))
lines.append("- TCP goodput, bpftun WireGuard suite / wireguard-go: x1 %s, x2 %s; / bpftun aes-fixed-time: x1 %s, x2 %s" % (
    pr(rat.get("tcp1_bpftun_wg_over_wireguard_go")), pr(rat.get("tcp2_bpftun_wg_over_wireguard_go")),
    pr(rat.get("tcp1_bpftun_wg_over_bpftun_aft")), pr(rat.get("tcp2_bpftun_wg_over_bpftun_aft"))))
lines.append("- TCP x1 goodput, bpftun / OpenVPN: aes-generic %s, aes-fixed-time %s" % (
    pr(rat.get("tcp1_bpftun_gen_over_openvpn")), pr(rat.get("tcp1_bpftun_aft_over_openvpn"))))
for k in sorted(rat):
    if k.startswith("crypto_1400_"):
        c = rat[k]
        lines.append("- bench_crypto, L = 1400 B, %s: (seal+open)/(2 ecb) = %.2f (seal/ecb %.2f, open/ecb %.2f; seal %d ns, open %d ns, ecb %d ns)" % (
            k[len("crypto_1400_"):].replace("_", "-"), c["seal_plus_open_over_2ecb"], c["seal_over_ecb"], c["open_over_ecb"],
            c["seal_ns"], c["open_ns"], c["ecb_ns"]))
for k in ("ping", "pingbusy", "sockperf"):
    a = rat["added_rtt_us_" + k]
    lines.append("- added median RTT over plain veth, %s: bpftun aes-fixed-time %s µs, aes-generic %s µs, wireguard-go %s µs, OpenVPN %s µs; bpftun/wireguard-go %s (aft), %s (generic)" % (
        {"ping": "ping -i 0.01", "pingbusy": "ping -i 0.0002", "sockperf": "UDP ping-pong"}[k], pr(a.get("bpftun-aft"), "%.0f"), pr(a.get("bpftun-gen"), "%.0f"), pr(a.get("wireguard-go"), "%.0f"), pr(a.get("openvpn"), "%.0f"),
        pr(rat.get("added_rtt_%s_bpftun_aft_over_wireguard_go" % k)), pr(rat.get("added_rtt_%s_bpftun_gen_over_wireguard_go" % k))))
if failures:
    lines.append("")
    lines.append("Failures:")
    for x in failures:
        lines.append("- round %d, %s, %s: %s" % (x["round"], x["scenario"], x["test"], x["error"]))
text = "\n".join(md + lines) + "\n"
open(mdf, "w").write(text)
print()
print(text)
