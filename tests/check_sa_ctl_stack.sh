#!/usr/bin/env bash
# check_sa_ctl_stack.sh - reads the compiled sa_ctl (llvm-objdump of
# datapath.bpf.o, section "syscall") and shows that no copy of the AES key
# reaches the BPF stack, which is the kernel stack and is not cleared when the
# program returns (issue 13, item 7). The C source cannot show this: clang
# chooses where values live, and an earlier sa_ctl that zeroed its stack copy
# of the key still had a second, never wiped copy that clang had made.
#
# A taint analysis over the object code, along every control-flow path:
#   - the key is the 32 bytes at offset 16 of the syscall ctx (r1 on entry,
#     and every register copied from it);
#   - a register loaded from there is tainted, and so is anything computed
#     from a tainted register;
#   - fail if a tainted register is stored through r10 or a pointer derived
#     from r10 (the stack), or is live in a callee-saved register (r6-r9)
#     across a call, where the called kernel function may save it on the
#     kernel stack;
#   - and, so that the check cannot pass by seeing nothing: fail unless all
#     four key words are loaded and each reaches a store to non-stack memory
#     (the params_scratch map value that bpf_crypto_ctx_create reads).
#
# The section holds two programs, sa_ctl and sa_ctl_keyring (the same code
# behind the keyring gate; its ctx starts with the same request, so the key
# is at the same offset): PROG names the one checked (default sa_ctl).
#
# usage: check_sa_ctl_stack.sh DATAPATH_BPF_O [PROG]
set -u
OBJ=${1:?usage: check_sa_ctl_stack.sh datapath.bpf.o [prog]}
PROG=${2:-sa_ctl}
OBJDUMP=${OBJDUMP:-llvm-objdump-19}
command -v "$OBJDUMP" >/dev/null || { echo "FAIL: $OBJDUMP missing (apt install llvm-19)"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 missing"; exit 1; }
[ -r "$OBJ" ] || { echo "FAIL: cannot read $OBJ"; exit 1; }

"$OBJDUMP" -d --no-show-raw-insn --section=syscall --disassemble-symbols="$PROG" "$OBJ" |
	PROG="$PROG" python3 -c '
import os, re, sys
PROG = os.environ["PROG"]

KEY_OFF, KEY_LEN = 16, 32
insns = {}      # slot -> text
order = []
for line in sys.stdin:
    m = re.match(r"\s*(\d+):\s+(.*\S)\s*$", line)
    if m and "<" not in line.split(":")[0]:
        slot = int(m.group(1)); insns[slot] = m.group(2); order.append(slot)
if not order:
    print("FAIL: no %s code in the syscall section" % PROG); sys.exit(1)
BASE = order[0]   # jump targets are relative to the program symbol

REG = r"[rw](\d+)"
def succ(i, k):
    t = insns[order[i]]
    nxt = [order[i + 1]] if i + 1 < len(order) else []
    m = re.search(r"goto [+-]0x[0-9a-f]+ <\w+\+0x([0-9a-f]+)>", t)
    if t.startswith("exit"):
        return []
    if m:
        tgt = BASE + int(m.group(1), 16) // 8
        return [tgt] if t.startswith("goto") else [tgt] + nxt
    return nxt

# state: (ctx regs, stack-pointer regs, tainted regs -> set of key words)
def step(t, st):
    ctx, sp, taint = set(st[0]), set(st[1]), dict(st[2])
    viol, keystore = [], []
    def kill(d):
        ctx.discard(d); sp.discard(d); taint.pop(d, None)
    m = re.match(r"\*\(u\d+ \*\)\(r(\d+) ([+-]) 0x([0-9a-f]+)\) = " + REG + "$", t)
    if m:   # store register
        base, src = int(m.group(1)), int(m.group(4))
        if src in taint:
            if base == 10 or base in sp:
                viol.append("key word(s) %s stored on the stack" % sorted(taint[src]))
            elif base not in ctx:
                keystore.extend(taint[src])
        return (ctx, sp, taint), viol, keystore
    if re.match(r"\*\(u\d+ \*\)", t) or t.startswith("lock "):
        return (ctx, sp, taint), viol, keystore   # store of an immediate, atomics
    if t.startswith("call"):
        live = [r for r in (6, 7, 8, 9) if r in taint]
        if live:
            viol.append("key in r%s across a call" % live)
        for r in range(0, 6):
            kill(r)
        return (ctx, sp, taint), viol, keystore
    m = re.match(REG + r" = \*\(u\d+ \*\)\(r(\d+) ([+-]) 0x([0-9a-f]+)\)$", t)
    if m:   # load
        d, base = int(m.group(1)), int(m.group(2))
        off = int(m.group(4), 16) * (1 if m.group(3) == "+" else -1)
        kill(d)
        if base in ctx and KEY_OFF <= off < KEY_OFF + KEY_LEN:
            taint[d] = {(off - KEY_OFF) // 8}
        return (ctx, sp, taint), viol, keystore
    m = re.match(REG + r" = " + REG + r"$", t)
    if m:   # register move
        d, s = int(m.group(1)), int(m.group(2))
        was = (s in ctx, s in sp or s == 10, taint.get(s))
        kill(d)
        if was[0]: ctx.add(d)
        if was[1]: sp.add(d)
        if was[2]: taint[d] = set(was[2])
        return (ctx, sp, taint), viol, keystore
    m = re.match(REG + r" (\S+)= " + REG + r"$", t)
    if m:   # alu with a register source
        d, s = int(m.group(1)), int(m.group(3))
        if s in taint:
            taint[d] = taint.get(d, set()) | taint[s]
        ctx.discard(d)
        if d in sp and m.group(2) not in ("+", "-"): sp.discard(d)
        return (ctx, sp, taint), viol, keystore
    m = re.match(REG + r" (\S*)= ", t)
    if m:   # anything else writing a register: immediate, ld_imm64, alu imm
        d, op = int(m.group(1)), m.group(2)
        if op == "":
            kill(d)
        else:
            ctx.discard(d)
            if op not in ("+", "-"): sp.discard(d)
        return (ctx, sp, taint), viol, keystore
    return (ctx, sp, taint), viol, keystore

def freeze(st):
    return (frozenset(st[0]), frozenset(st[1]), frozenset((k, frozenset(v)) for k, v in st[2].items()))

idx = {s: i for i, s in enumerate(order)}
state_in = {order[0]: freeze(({1}, set(), {}))}
work = [order[0]]
viols, loaded, stored = set(), set(), set()
while work:
    s = work.pop()
    fr = state_in[s]
    st = (set(fr[0]), set(fr[1]), {k: set(v) for k, v in fr[2]})
    out, v, ks = step(insns[s], st)
    for x in v:
        viols.add("insn %d (%s): %s" % (s, insns[s], x))
    stored.update(ks)
    for r, w in out[2].items():
        loaded.update(w)
    for n in succ(idx[s], None):
        if n not in insns:
            continue
        old = state_in.get(n)
        new = freeze(out)
        if old is not None:   # join: union of every set
            new = (old[0] | new[0], old[1] | new[1],
                   frozenset({(k, frozenset(set().union(*[v for kk, v in list(old[2]) + list(new[2]) if kk == k])))
                              for k in {kk for kk, _ in list(old[2]) + list(new[2])}}))
        if new != old:
            state_in[n] = new
            work.append(n)

ok = True
for v in sorted(viols):
    print("FAIL:", v); ok = False
if loaded != {0, 1, 2, 3}:
    print("FAIL: the analysis saw key words %s loaded from the ctx, not all four: out of date" % sorted(loaded)); ok = False
if stored != {0, 1, 2, 3}:
    print("FAIL: key words stored to map memory: %s, not all four" % sorted(stored)); ok = False
if ok:
    print("PASS: %s (%d instructions): the four key words go from the ctx to map memory only; no stack store, no callee-saved register across a call" % (PROG, len(order)))
sys.exit(0 if ok else 1)
'
