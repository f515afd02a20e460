# tunnel_env.py COMMIT DIRTY T ROUNDS QUICK PING_N SP_T SCEN PINGB_N PIN - bench_tunnel.sh's
# environment probe: the machine, versions and run configuration as JSON on stdout.
import json, os, platform, subprocess, sys, datetime
def run(*c):
    try:
        return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"
def sysctl(k):
    try:
        return int(open("/proc/sys/" + k.replace(".", "/")).read())
    except Exception:
        return None
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
commit, dirty, t, rounds, quick, ping_n, sp_t, scen, pingb_n, pin = sys.argv[1:]
print(json.dumps({
    "env": {
        "kernel": platform.release(),
        "cpu_model": cpu,
        "cpus_online": os.cpu_count(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "bpftun_commit": commit,
        "bpftun_dirty_files": dirty.split(),
        "versions": {
            "wireguard-go": run("wireguard-go", "--version"),
            "wireguard-tools": run("dpkg-query", "-W", "-f=${Version}", "wireguard-tools"),
            "openvpn": run("openvpn", "--version"),
            "openssl": run("openssl", "version"),
            "iperf3": run("iperf3", "--version"),
            "sockperf": run("sockperf", "--version"),
            "ping": run("ping", "-V"),
        },
        "socket_buffers": {k: sysctl(k) for k in ("net.core.rmem_max", "net.core.wmem_max", "net.core.rmem_default", "net.core.wmem_default")},
        "socket_buffers_note": "net.core.{r,w}mem_{max,default} cannot be written inside a network namespace on this kernel (EINVAL); namespaces inherit the values above. OpenVPN gets --sndbuf/--rcvbuf 4194304 (= rmem_max). wireguard-go 0.0.20220316 has no such option and sets no buffer sizes itself, so bench_sockbuf makes the same SO_RCVBUF/SO_SNDBUF 4194304 calls on its UDP sockets (pidfd_getfd) after it binds them.",
    },
    "config": {
        "quick": quick == "1", "iperf3_seconds": int(t), "tcp_omit_seconds": 1, "rounds": int(rounds),
        "ping_count": int(ping_n), "ping_interval_s": 0.01,
        "pingbusy_count": int(pingb_n), "pingbusy_interval_s": 0.0002,
        "latency_note": "ping -i 0.01 leaves the CPUs idle between packets, so its RTT includes the VM's vCPU wake-up latency; pingbusy (-i 0.0002) and sockperf (back-to-back ping-pong) keep them busy and show the path's own cost",
        "sockperf_seconds": int(sp_t), "sockperf_msg_bytes": 64,
        "scenarios": scen.split(),
        "tunnel_mtu": 1420, "udp_large_payload": 1372, "udp_large_ip_packet": 1400, "udp_small_payload": 64,
        "underlay": "one veth pair between two namespaces, default offloads, MTU 1500, 10.77.0.0/24",
        "direction": "client (iperf3 -c, ping, sockperf pp) in A, server in B",
        "pinned": pin == "1",
        "pinning": "every process of A on CPU 0, of B on CPU 1 (taskset); softirq not pinned; steering scenarios steer to the receiving side's own CPU (SteeringCPUs = 0 on A, 1 on B)" if pin == "1" else "not pinned; steering to every online CPU",
        "summary": "median over rounds of each figure; latency percentiles over the pooled ping samples of all rounds",
    },
}))
