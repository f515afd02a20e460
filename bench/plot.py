#!/usr/bin/env python3
"""plot.py - PNGs from a bench_tunnel JSON (bench/results/tunnel-<date>.json).

usage: plot.py TUNNEL_JSON PREFIX

Writes, with gnuplot (Debian: gnuplot-nox):
  PREFIX-throughput.png  TCP x1, TCP x2, UDP 1400 B goodput (Gbit/s, log scale),
                         and 64-byte UDP packets per second, per scenario
  PREFIX-latency.png     ping and UDP (sockperf) round trip, median and p99
  PREFIX-crypto.png      bench_crypto: ns per seal/open/bare ecb by inner packet
                         size, per cipher, and (seal+open)/(2 ecb) by size
                         (only if the JSON has a "crypto" section)
"""
import json
import os
import subprocess
import sys
import tempfile

SHORT = {"veth": "plain veth", "bpftun-aft": "bpftun\\naes-fixed-time", "bpftun-gen": "bpftun\\naes-generic",
         "bpftun-aft-steer": "bpftun aft\\nsteering", "bpftun-gen-steer": "bpftun gen\\nsteering", "bpftun-wg": "bpftun\\nWireGuard suite",
         "wireguard-go": "wireguard-go", "openvpn": "OpenVPN\\nAES-256-GCM"}


def num(v, scale=1.0):
    return "?" if v is None else "%.6g" % (v * scale)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1]))
    prefix = sys.argv[2]
    env = doc["env"]
    sub = "%s, %s x%s, bpftun %s, %s" % (env["kernel"], env["cpu_model"], env["cpus_online"],
                                         env["bpftun_commit"][:10], env["date"])
    cfg = doc["config"]
    runinfo = "iperf3 %d s per test, %d round(s), medians over rounds" % (cfg["iperf3_seconds"], cfg["rounds"])
    tmp = tempfile.mkdtemp(prefix="bench-plot-")
    scen = doc["scenarios"]

    # one row per scenario; labels are gnuplot strings (\n is a line break)
    with open(os.path.join(tmp, "tp.dat"), "w") as f:
        for i, x in enumerate(scen):
            s = x["summary"]
            f.write('%d "%s" %s %s %s %s %s\n' % (
                i, SHORT.get(x["name"], x["name"]), num(s["tcp1_gbps"]), num(s["tcp2_gbps"]),
                num(s["udp1400_goodput_gbps"]), num(s["udp64_delivered_pps"], 1e-3), num(s["udp64_sent_pps"], 1e-3)))
    with open(os.path.join(tmp, "lat.dat"), "w") as f:
        for i, x in enumerate(scen):
            s = x["summary"]
            f.write('%d "%s" %s %s %s %s %s %s\n' % (
                i, SHORT.get(x["name"], x["name"]), num(s["ping_median_us"]), num(s["ping_p99_us"]),
                num(s.get("pingbusy_median_us")), num(s.get("pingbusy_p99_us")),
                num(s["sockperf_median_us"]), num(s["sockperf_p99_us"])))

    gp = []
    gp.append("""
set datafile missing "?"
set encoding utf8
set terminal pngcairo size 1200,900 font "DejaVu Sans,11"
set output "%(prefix)s-throughput.png"
set multiplot layout 2,1 title "bpftun vs plain veth, wireguard-go, OpenVPN: throughput A -> B over one veth pair (MTU 1420)\\n{/*0.8 %(sub)s; %(runinfo)s}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics mytics
set key top right
set logscale y
set yrange [0.05:*]
set ylabel "Gbit/s (log scale)"
set xtics scale 0
set bmargin 3.5
set title "TCP goodput (1 and 2 streams) and UDP goodput with 1400-byte IP packets, iperf3 -b 0"
plot "%(tmp)s/tp.dat" using 3:xtic(2) title "TCP x1" lc rgb "#1f77b4", \\
     "" using 4 title "TCP x2" lc rgb "#6baed6", \\
     "" using 5 title "UDP 1400 B goodput" lc rgb "#ff7f0e", \\
     "" using ($1-0.25):3:(sprintf("%%.2f",$3)) with labels offset 0,0.7 font ",9" notitle, \\
     "" using ($1):4:(sprintf("%%.2f",$4)) with labels offset 0,0.7 font ",9" notitle, \\
     "" using ($1+0.25):5:(sprintf("%%.2f",$5)) with labels offset 0,0.7 font ",9" notitle
set title "64-byte UDP payloads (iperf3 -u -l 64 -b 0): packets per second sent and delivered"
set ylabel "thousand packets/s (log scale)"
set yrange [1:*]
plot "%(tmp)s/tp.dat" using 7:xtic(2) title "sent" lc rgb "#bdbdbd", \\
     "" using 6 title "delivered" lc rgb "#2ca02c", \\
     "" using ($1-0.167):7:(sprintf("%%.0f",$7)) with labels offset 0,0.7 font ",9" notitle, \\
     "" using ($1+0.167):6:(sprintf("%%.0f",$6)) with labels offset 0,0.7 font ",9" notitle
unset multiplot
""" % dict(prefix=prefix, tmp=tmp, sub=sub, runinfo=runinfo))

    gp.append("""
set output "%(prefix)s-latency.png"
set terminal pngcairo size 1200,700 font "DejaVu Sans,11"
set logscale y
set yrange [1:*]
set bmargin 4
set title "Round-trip time A -> B -> A, median and p99 (lower is better)\\n{/*0.8 ping -i 0.01: CPUs idle between packets (includes vCPU wake-up); ping -i 0.0002 and UDP ping-pong (sockperf, 64 B, back to back): CPUs busy}\\n{/*0.8 %(sub)s}"
set ylabel "µs (log scale)"
set key top left maxrows 3
set boxwidth 0.9
plot "%(tmp)s/lat.dat" using 3:xtic(2) title "ping -i 0.01 median" lc rgb "#1f77b4", \\
     "" using 4 title "ping -i 0.01 p99" lc rgb "#aec7e8", \\
     "" using 5 title "ping -i 0.0002 median" lc rgb "#2ca02c", \\
     "" using 6 title "ping -i 0.0002 p99" lc rgb "#98df8a", \\
     "" using 7 title "UDP ping-pong median" lc rgb "#d62728", \\
     "" using 8 title "UDP ping-pong p99" lc rgb "#ff9896", \\
     for [k=0:5] "" using ($1-0.357+k*0.143):(column(3+k)):(sprintf("%%.0f",column(3+k))) with labels offset 0,0.6 font ",8" notitle
""" % dict(prefix=prefix, tmp=tmp, sub=sub))

    cr = doc.get("crypto") or {}
    if cr.get("results"):
        drivers = []
        for r in cr["results"]:
            if r["driver"] not in drivers:
                drivers.append(r["driver"])
        for k, d in enumerate(drivers):
            with open(os.path.join(tmp, "c%d.dat" % k), "w") as f:
                rows = sorted((r for r in cr["results"] if r["driver"] == d), key=lambda r: r["inner_len"])
                for r in rows:
                    o = r["ops"]
                    f.write("%d %s %s %s %s %s %s %s %s %s %s\n" % (
                        r["inner_len"], o["seal"]["median_ns"], o["open"]["median_ns"], o["ecb"]["median_ns"],
                        r["ratios"]["seal_over_ecb"], r["ratios"]["open_over_ecb"], r["ratios"]["seal_plus_open_over_2ecb"],
                        o["seal"]["p10_ns"], o["seal"]["p90_ns"], o["ecb"]["p10_ns"], o["ecb"]["p90_ns"]))
        colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
        plots_ns, plots_r = [], []
        for k, d in enumerate(drivers):
            lab = d.replace("ecb(", "").rstrip(")")
            c = colors[k % len(colors)]
            fn = "%s/c%d.dat" % (tmp, k)
            plots_ns.append('"%s" using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "%s" title "%s seal"' % (fn, c, lab))
            plots_ns.append('"%s" using 1:3 with linespoints pt 6 ps 0.6 lw 1 dt 2 lc rgb "%s" title "%s open"' % (fn, c, lab))
            plots_ns.append('"%s" using 1:4 with linespoints pt 4 ps 0.6 lw 1 dt 3 lc rgb "%s" title "%s bare ecb"' % (fn, c, lab))
            plots_r.append('"%s" using 1:7 with linespoints pt 7 ps 0.6 lw 2 lc rgb "%s" title "%s (seal+open)/(2 ecb)"' % (fn, c, lab))
        ce = cr.get("env", {})
        gp.append("""
set output "%(prefix)s-crypto.png"
set terminal pngcairo size 1200,900 font "DejaVu Sans,11"
set multiplot layout 2,1 title "bench\\\\_crypto: cost per packet by inner IPv4 length (BPF\\\\_PROG\\\\_TEST\\\\_RUN, median of %(samples)s)\\n{/*0.8 %(ksub)s}"
set style data linespoints
unset logscale y
set xrange [0:1540]
set xtics 128
set yrange [0:*]
set grid
set key top left
set xlabel "inner packet length L (bytes)"
set ylabel "ns per packet"
set title "seal, open, and the bare keystream cipher call they are built on"
plot %(pns)s
set title "overhead over the bare cipher: (seal + open) / (2 x ecb), 1.0 = free"
set ylabel "ratio"
set yrange [1:*]
set arrow from 1400, graph 0 to 1400, graph 1 nohead dt 2 lc rgb "#7f7f7f"
set label "L = 1400" at 1400, graph 0.92 right offset -0.5,0 font ",9" tc rgb "#555555"
plot %(pr)s
unset arrow
unset label
unset multiplot
""" % dict(prefix=prefix, samples=cr.get("config", {}).get("samples"), pns=", ".join(plots_ns), pr=", ".join(plots_r),
           ksub="%s, %s, %s" % (ce.get("kernel"), ce.get("cpu_model"), ce.get("date"))))

    script = os.path.join(tmp, "plot.gp")
    open(script, "w").write("\n".join(gp))
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True, timeout=60)
    if r.returncode:
        sys.stderr.write(r.stderr)
        sys.exit("plot.py: gnuplot failed (script kept in %s)" % script)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
