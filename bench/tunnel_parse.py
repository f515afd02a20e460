# tunnel_parse.py KIND REC_FILE META_JSON ARGS... - bench_tunnel.sh's parser: one raw
# output (iperf3, ping, sockperf, ...) -> one JSON record appended to REC_FILE,
# and a one-line summary on stdout.
import json, sys, re, statistics

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)

def snap(path):
    """/proc/stat cpu line + daemon pids' utime/stime, as written by cpu_snap."""
    d = {"t": None, "cpu": None, "pids": {}}
    for line in open(path):
        w = line.split()
        if not w:
            continue
        if w[0] == "wall":
            d["t"] = float(w[1])
        elif w[0] == "cpu":
            d["cpu"] = [int(x) for x in w[1:]]
        elif w[0] == "pid" and len(w) >= 5:
            d["pids"][w[1]] = (int(w[2]) + int(w[3]), w[4])
    return d

def cpu_delta(p0, p1, hz):
    a, b = snap(p0), snap(p1)
    if a["cpu"] is None or b["cpu"] is None:
        return None
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    d = {n: (b["cpu"][i] - a["cpu"][i]) / hz for i, n in enumerate(names)}
    wall = b["t"] - a["t"]
    busy = d["user"] + d["nice"] + d["system"] + d["irq"] + d["softirq"]
    daemons = {}
    for pid, (ticks, comm) in b["pids"].items():
        if pid in a["pids"]:
            daemons.setdefault(comm, 0.0)
            daemons[comm] += (ticks - a["pids"][pid][0]) / hz
    return {
        "wall_s": round(wall, 3),
        "busy_cpu_s": round(busy, 3),
        "busy_cores": round(busy / wall, 3) if wall > 0 else None,
        "user_s": round(d["user"] + d["nice"], 3),
        "system_s": round(d["system"], 3),
        "softirq_s": round(d["softirq"] + d["irq"], 3),
        "steal_s": round(d["steal"], 3),
        "idle_s": round(d["idle"] + d["iowait"], 3),
        "daemon_cpu_s": round(sum(daemons.values()), 3),
        "daemons": {k: round(v, 3) for k, v in daemons.items()},
    }

def tail(path, n=4):
    try:
        lines = [l.strip() for l in open(path, errors="replace") if l.strip()]
        return " | ".join(lines[-n:])
    except OSError:
        return ""

def main():
    kind, rec_path, meta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    args = sys.argv[4:]
    r = dict(meta)
    if kind == "iperf":
        out, err, c0, c1, rc, hz = args
        r["ok"] = False
        try:
            j = json.load(open(out))
        except Exception:
            j = None
        if j is None or "error" in (j or {}) or rc != "0":
            msg = (j or {}).get("error") or tail(err) or "no iperf3 output"
            r["error"] = "iperf3 exit %s: %s" % (rc, msg)
        else:
            e = j["end"]
            s, rv = e.get("sum_sent", {}), e.get("sum_received", {})
            r["ok"] = True
            if r["test"].startswith("tcp"):
                r["goodput_bps"] = rv.get("bits_per_second")
                r["sent_bps"] = s.get("bits_per_second")
                r["retransmits"] = s.get("retransmits")
                r["bytes"] = rv.get("bytes")
                r["seconds"] = rv.get("seconds")
            else:
                secs = rv.get("seconds") or s.get("seconds") or 1
                pk, lost = rv.get("packets", 0), rv.get("lost_packets", 0)
                r["goodput_bps"] = rv.get("bits_per_second")
                r["sent_bps"] = s.get("bits_per_second")
                r["sent_pps"] = s.get("packets", 0) / (s.get("seconds") or secs)
                r["delivered_pps"] = (pk - lost) / secs
                r["lost_packets"] = lost
                r["packets"] = pk
                r["lost_percent"] = rv.get("lost_percent")
                r["bytes"] = rv.get("bytes")
                r["seconds"] = secs
                if pk - lost <= 0:
                    r["ok"] = False
                    r["error"] = "no datagram delivered"
            r["iperf3_cpu_percent"] = e.get("cpu_utilization_percent")
        cpu = cpu_delta(c0, c1, float(hz))
        r["cpu"] = cpu
        if cpu and r.get("bytes") and r.get("seconds"):
            # busy cores averaged over the run x measured seconds, per GB delivered
            r["cpu_s_per_GB"] = round(cpu["busy_cores"] * r["seconds"] / (r["bytes"] / 1e9), 3)
            per_gb = lambda x: round(x / cpu["wall_s"] * r["seconds"] / (r["bytes"] / 1e9), 3)
            r["daemon_cpu_s_per_GB"] = per_gb(cpu["daemon_cpu_s"])
            r["kernel_cpu_s_per_GB"] = per_gb(cpu["system_s"] + cpu["softirq_s"])
            r["user_cpu_s_per_GB"] = per_gb(cpu["user_s"])
    elif kind == "ping":
        out, rc = args
        txt = open(out, errors="replace").read()
        rtts = [float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", txt)]
        m = re.search(r"(\d+) packets transmitted, (\d+) received", txt)
        r["sent"], r["received"] = (int(m.group(1)), int(m.group(2))) if m else (None, len(rtts))
        r["rtt_us"] = [round(x, 1) for x in rtts]
        r["ok"] = len(rtts) > 0
        if rtts:
            r["median_us"] = round(pct(rtts, 50), 1)
            r["p99_us"] = round(pct(rtts, 99), 1)
            r["min_us"] = round(min(rtts), 1)
            r["mean_us"] = round(statistics.mean(rtts), 1)
        else:
            r["error"] = "no reply (ping exit %s): %s" % (rc, tail(out, 3))
    elif kind == "sockperf":
        out, rc = args
        txt = open(out, errors="replace").read()
        ps = {float(a): float(b) for a, b in re.findall(r"percentile\s+([0-9.]+)\s*=\s*([0-9.]+)", txt)}
        m = re.search(r"avg-rtt=([0-9.]+)", txt)
        n = re.search(r"ReceivedMessages=(\d+)", txt)
        r["ok"] = 50.0 in ps and 99.0 in ps
        if r["ok"]:
            r["median_us"], r["p99_us"] = ps[50.0], ps[99.0]
            r["p999_us"] = ps.get(99.9)
            r["avg_us"] = float(m.group(1)) if m else None
            r["messages"] = int(n.group(1)) if n else None
        else:
            r["error"] = "sockperf exit %s: %s" % (rc, tail(out, 3))
    elif kind == "event":
        r["ok"] = args[0] == "ok"
        if args[1]:
            r["error" if not r["ok"] else "info"] = args[1]
        if len(args) > 2 and args[2]:
            r["seconds"] = float(args[2])
    with open(rec_path, "a") as f:
        f.write(json.dumps(r) + "\n")
    # progress line
    t = r["test"]
    if not r["ok"]:
        print("FAILED: %s" % r.get("error", "?"))
    elif kind == "iperf":
        c = r.get("cpu") or {}
        cores = "cpu %.2f cores (%.2f daemons)" % (c.get("busy_cores") or 0, (c.get("daemon_cpu_s") or 0) / (c.get("wall_s") or 1))
        if t.startswith("tcp"):
            print("%7.3f Gbit/s  retr %s  %s" % (r["goodput_bps"] / 1e9, r["retransmits"], cores))
        else:
            print("%7.3f Gbit/s  %8.0f pps delivered  loss %.1f%%  %s" % (r["goodput_bps"] / 1e9, r["delivered_pps"], r["lost_percent"] or 0, cores))
    elif kind in ("ping", "sockperf"):
        print("median %.1f us  p99 %.1f us" % (r["median_us"], r["p99_us"]))
    else:
        print(r.get("info", "ok"))

main()
