#!/usr/bin/env python3
# wg_flood.py - WireGuard handshake load for tests/netns_wg_timers.sh,
# written independently of keymgmt/: BLAKE2s from Python's hashlib, the
# cookie reply's XChaCha20-Poly1305 from libsodium (ctypes).
#
#   wg_flood.py load SRC DST PORT RPUB SECS PPS
#       From SRC (one UDP socket), PPS initiations a second for SECS seconds
#       to DST:PORT, each with a valid mac1 for RPUB (base64) and random
#       contents (no handshake ever completes). Cookie replies are decrypted
#       (key HASH("cookie--" || RPUB), the mac1 of the answered message as
#       associated data) and the cookie is put in mac2 of the next messages,
#       so that, under load, the responder passes them to its per-source
#       rate limit, which keeps it under load (WireGuard's rules).
#   wg_flood.py burst SRC DST PORT RPUB SECS BURST GAP_MS
#       Initiations as above but without mac2 (up to 1024 made in advance),
#       BURST at once every GAP_MS: a deep handshake queue is how
#       wireguard-go measures load.
#   Prints "sent N, cookie replies C (decrypted D), mac2 M" at the end, or
#   when stopped with SIGTERM.
import base64
import ctypes
import ctypes.util
import hashlib
import os
import signal
import socket
import sys
import time


def blake2s(data, key=b"", size=32):
    return hashlib.blake2s(data, key=key, digest_size=size).digest()


def main():
    mode, src, dst, port, rpub_b64, secs = sys.argv[1:7]
    rpub = base64.b64decode(rpub_b64)
    if len(rpub) != 32 or mode not in ("load", "burst"):
        print("usage: see the header of wg_flood.py", file=sys.stderr)
        return 2
    secs = float(secs)
    if mode == "load":
        pps = int(sys.argv[7])
        burst, gap = 1, 1.0 / pps
    else:
        burst, gap = int(sys.argv[7]), int(sys.argv[8]) / 1000.0
    if not 0 < secs <= 60 or not 0 < burst <= 5000 or gap < 0.0001:
        print("wg_flood.py: want 0 < SECS <= 60, BURST <= 5000", file=sys.stderr)
        return 2
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    if sodium.sodium_init() < 0:
        return 1
    mac1_key = blake2s(b"mac1----" + rpub)
    cookie_key = blake2s(b"cookie--" + rpub)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    sent_mac1 = {}  # sender index -> mac1 (the AD of its cookie reply)
    cookie = None
    n = replies = good = with_mac2 = 0
    end = time.monotonic() + secs
    nxt = time.monotonic()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    pool = []  # burst: messages made in advance, so that a burst is fast
    if mode == "burst":
        for _ in range(min(burst, 1024)):
            body = b"\x01\x00\x00\x00" + os.urandom(4 + 32 + 48 + 28)
            mac1 = blake2s(body, mac1_key, 16)
            sent_mac1[body[4:8]] = mac1
            pool.append(body + mac1 + bytes(16))
    while time.monotonic() < end and not stop:
        for k in range(burst if pool else 0):
            try:
                s.sendto(pool[k % len(pool)], (dst, int(port)))
                n += 1
            except OSError:
                pass
        for _ in range(0 if pool else burst):
            idx = os.urandom(4)
            body = b"\x01\x00\x00\x00" + idx + os.urandom(32 + 48 + 28)
            mac1 = blake2s(body, mac1_key, 16)
            mac2 = blake2s(body + mac1, cookie, 16) if cookie else bytes(16)
            with_mac2 += cookie is not None
            try:
                s.sendto(body + mac1 + mac2, (dst, int(port)))
                n += 1
            except OSError:
                pass
            sent_mac1[idx] = mac1
            if len(sent_mac1) > 20000:
                sent_mac1.clear()
        nxt += gap
        while True:
            try:
                m = s.recv(256)
            except BlockingIOError:
                break
            if len(m) != 64 or m[0] != 3:
                continue
            replies += 1
            ad = sent_mac1.get(m[4:8])
            if ad is None:
                continue
            out = ctypes.create_string_buffer(16)
            outlen = ctypes.c_ulonglong(0)
            if sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                out, ctypes.byref(outlen), None, m[32:64], ctypes.c_ulonglong(32),
                ad, ctypes.c_ulonglong(16), m[8:32], cookie_key) == 0 and outlen.value == 16:
                good += 1
                cookie = out.raw
        pause = nxt - time.monotonic()
        if pause > 0 and not stop:
            time.sleep(pause)
    print(f"sent {n}, cookie replies {replies} (decrypted {good}), mac2 {with_mac2}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
