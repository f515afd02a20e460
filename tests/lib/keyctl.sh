# keyctl.sh - keyctl for the keyring tests, through python's ctypes
# (keyutils is not a dependency). Sourced by netns_keyring*.sh.
#   keyctl_py find DESC | read SERIAL | revoke SERIAL | timeout SERIAL SECS | unlink SERIAL
# revoke needs possession (BT_KR_PERM gives only possessors write/setattr):
# it joins a new session keyring that links @u first.
keyctl_py() { # (exported for check's bash -c)
	python3 -c '
import ctypes, os, platform, sys
nr = {"x86_64": 250, "aarch64": 219}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
op, arg = sys.argv[1], sys.argv[2]
def k(*a):
    r = libc.syscall(nr, *a)
    if r < 0:
        sys.exit(op + ": " + os.strerror(ctypes.get_errno()))
    return r
if op == "find":
    print(k(10, ctypes.c_long(-4), b"user", arg.encode(), 0))
elif op == "read":
    buf = ctypes.create_string_buffer(128)
    n = k(11, int(arg), buf, 128, 0)
    print(buf.raw[:n].decode().strip())
elif op in ("revoke", "timeout"):
    k(1, None)                                   # KEYCTL_JOIN_SESSION_KEYRING
    k(8, ctypes.c_long(-4), ctypes.c_long(-3))   # link @u into @s
    if op == "revoke":
        import time
        t = time.time()
        k(3, int(arg))                           # KEYCTL_REVOKE
        print("%.6f" % t)                        # when, for revoke-to-silence
    else:
        k(15, int(arg), int(sys.argv[3]))        # KEYCTL_SET_TIMEOUT
else:
    k(9, int(arg), ctypes.c_long(-4))' "$@"
}

export -f keyctl_py
