#!/usr/bin/env bash
# test_cli.sh - the bpftun command line against its documentation: every
# subcommand that `bpftun help` lists has a section in bpftun(8), a
# completion, and a working --help; usage errors exit 2; genkey/pubkey round
# trip; every configuration key the parser accepts is in bpftun.conf(5); every
# drop reason is in bpftun(8); every bpftun-keymgmt option is in its page; the
# bash completion is valid and completes what it should.
#
# Needs no root and changes nothing on the host.
#
# usage: test_cli.sh BUILD_DIR
set -u

BUILD=$(cd "${1:?usage: test_cli.sh BUILD_DIR}" && pwd) || exit 2
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BT=$BUILD/tunnel/bpftun
KM=$BUILD/tunnel/bpftun-keymgmt
MAN8=$SRC/docs/bpftun.8
MAN5=$SRC/docs/bpftun.conf.5
KMMAN=$SRC/docs/bpftun-keymgmt.8
COMP=$SRC/scripts/completion/bpftun
TMP=$(mktemp -d /tmp/bt-cli-XXXXXX)

cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"

# status WANT command...: the command exits with status WANT.
status() {
	local want=$1 rc
	shift
	"$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$rc" = "$want" ] && return 0
	echo "exit status $rc, want $want: $*"
	sed 's/^/    stderr: /' "$TMP/err" | head -5
	return 1
}

# section_text PAGE SECTION: the troff source of one .SH section.
section_text() {
	awk -v want="$2" '
		/^\.SH / { sec = $0; sub(/^\.SH +/, "", sec); gsub(/"/, "", sec); inside = (sec == want); next }
		inside' "$1"
}

# An item header for WORD: ".B word", ".BI "word " ARG", ".BR word ...".
has_item() { # has_item WORD < troff source
	grep -Eq "^\.(B|BI|BR) +\"?$1( |\"|\$)"
}

for f in "$BT" "$KM"; do
	[ -x "$f" ] || { echo "FAIL: $f not built"; echo "0 passed, 1 failed"; exit 1; }
done
for f in "$MAN8" "$MAN5" "$KMMAN" "$COMP"; do
	[ -r "$f" ] || { echo "FAIL: $f missing"; echo "0 passed, 1 failed"; exit 1; }
done

# ------------------------------------------------------------ subcommands

"$BT" help >"$TMP/help" 2>&1
CMDS=$(sed -n 's/^  \([a-z][a-z]*\)[ :].*/\1/p' "$TMP/help")
check "bpftun help lists the subcommands" test -n "$CMDS"
check "bpftun help exits 0" status 0 "$BT" help
check "bpftun with no command exits 2" status 2 "$BT"
check "bpftun -v with no command exits 2" status 2 "$BT" -v

section_text "$MAN8" COMMANDS >"$TMP/commands.8"
for c in $CMDS; do
	check "bpftun.8 has a COMMANDS entry for '$c'" has_item "$c" <"$TMP/commands.8"
	check "'bpftun $c --help' exits 0 with usage on stdout" bash -c \
		"'$BT' $c --help >'$TMP/h' 2>/dev/null && grep -q . '$TMP/h'"
done
check "bpftun.8 documents -v" has_item '\\-v' <"$MAN8"

check "an unknown command exits 2" status 2 "$BT" frobnicate
check "an unknown command is named on stderr" bash -c \
	"'$BT' frobnicate 2>&1 >/dev/null | grep -q frobnicate"

# ------------------------------------------------------------ usage errors

check "'bpftun up' with no CONFIG exits 2" status 2 "$BT" up
check "'bpftun up a b' exits 2" status 2 "$BT" up a.conf b.conf
check "'bpftun up --bogus' exits 2" status 2 "$BT" up --bogus
check "'bpftun down' with no IFNAME exits 2" status 2 "$BT" down
check "'bpftun down a b' exits 2" status 2 "$BT" down a b
check "'bpftun show a b' exits 2" status 2 "$BT" show a b
check "'bpftun show bt0 dump x' exits 2" status 2 "$BT" show bt0 dump x
check "'bpftun version x' exits 2" status 2 "$BT" version x
# the version is project(VERSION) of the top CMakeLists.txt
VER=$(sed -n 's/^project(bpftun VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../CMakeLists.txt")
check "'bpftun --version' prints project()'s version ($VER)" bash -c "[ -n '$VER' ] && [ \"\$('$BT' --version)\" = 'bpftun $VER' ] && [ \"\$('$BT' version)\" = 'bpftun $VER' ]"
check "'bpftun show --bogus' exits 2" status 2 "$BT" show --bogus
check "'bpftun rekey' with no IFNAME exits 2" status 2 "$BT" rekey
check "'bpftun set bt0' with no peer exits 2" status 2 "$BT" set bt0
check "'bpftun syncconf bt0' with no FILE exits 2" status 2 "$BT" syncconf bt0
check "'bpftun addconf a b c' exits 2" status 2 "$BT" addconf a b c
check "'bpftun cleanup extra' exits 2" status 2 "$BT" cleanup extra
check "'bpftun genkey extra' exits 2" status 2 "$BT" genkey extra
check "'bpftun pubkey extra' exits 2" status 2 "$BT" pubkey extra
check "'bpftun genpsk extra' exits 2" status 2 "$BT" genpsk extra
check "'bpftun-keymgmt' with no options exits 2" status 2 "$KM"
check "'bpftun-keymgmt --rekey-after 0' exits 2" status 2 \
	"$KM" --ifname x --config x.conf --rekey-after 0
for v in 0 3601 12x x ""; do
	check "'bpftun-keymgmt --rekey-attempt $v' exits 2, naming the option" bash -c "
		'$KM' --ifname x --config x.conf --rekey-attempt '$v' </dev/null >/dev/null 2>'$TMP/ra'
		[ \$? = 2 ] && grep -q -- '--rekey-attempt' '$TMP/ra'"
done
check "'bpftun-keymgmt --help' exits 0" status 0 "$KM" --help

# ------------------------------------------------------------------ keys

roundtrip() {
	local priv pub
	priv=$("$BT" genkey) || return 1
	pub=$(printf '%s\n' "$priv" | "$BT" pubkey) || return 1
	[ ${#priv} = 44 ] || { echo "private key is ${#priv} characters"; return 1; }
	[ ${#pub} = 44 ] || { echo "public key is ${#pub} characters"; return 1; }
	[[ $pub =~ ^[A-Za-z0-9+/]{43}=$ ]] || { echo "not base64: $pub"; return 1; }
	[ "$pub" != "$priv" ] || { echo "public key equals private key"; return 1; }
	# deterministic: the same private key gives the same public key
	[ "$(printf '%s\n' "$priv" | "$BT" pubkey)" = "$pub" ]
}
check "bpftun genkey | bpftun pubkey gives a 44-character key" roundtrip
# genkey --keyring: the private key goes into @u (keyctl read with python's
# ctypes: keyutils is not a build dependency), only the public key is printed.
keyctl_py() { # keyctl_py read|unlink SERIAL
	python3 -c '
import ctypes, os, platform, sys
nr = {"x86_64": 250, "aarch64": 219}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
op, serial = sys.argv[1], int(sys.argv[2], 16)
if op == "read":
    buf = ctypes.create_string_buffer(128)
    n = libc.syscall(nr, 11, serial, buf, 128, 0)
    sys.exit(os.strerror(ctypes.get_errno())) if n < 0 else print(buf.raw[:n].decode())
else:
    sys.exit(libc.syscall(nr, 9, serial, ctypes.c_long(-4), 0, 0) != 0)' "$@"
}
genkey_keyring() {
	local desc="bpftun:kc$$" pub line serial priv rc=1
	pub=$("$BT" genkey --keyring "user:$desc" 2>/dev/null) || return 1
	line=$(grep " user *$desc: 44\$" /proc/keys) || { echo "no user key $desc in /proc/keys"; return 1; }
	serial=${line%% *}
	if [[ $line == *" perm 3f030000 "* ]] && priv=$(keyctl_py read "$serial") &&
		[ "$(printf '%s\n' "$priv" | "$BT" pubkey)" = "$pub" ]; then
		rc=0
	else
		echo "key $serial: $line; public key does not match"
	fi
	priv=
	keyctl_py unlink "$serial"
	return $rc
}
check "genkey --keyring user:bpftun:NAME: the key in @u (perm 3f030000), its public key printed" genkey_keyring
check "genkey --keyring with a logon key exits 2" status 2 "$BT" genkey --keyring logon:bpftun:bt0
check "genkey --keyring without bpftun: exits 2" status 2 "$BT" genkey --keyring user:bt0
check "two genkey calls differ" bash -c "[ \"\$('$BT' genkey)\" != \"\$('$BT' genkey)\" ]"
check "pubkey of garbage exits 1" bash -c "echo 'not a key' | '$BT' pubkey >/dev/null 2>&1; [ \$? = 1 ]"
check "pubkey of garbage names stdin" bash -c "echo 'not a key' | '$BT' pubkey 2>&1 >/dev/null | grep -q stdin"
check "pubkey of garbage prints nothing on stdout" bash -c "[ -z \"\$(echo 'not a key' | '$BT' pubkey 2>/dev/null)\" ]"
check "pubkey of empty input exits 1 naming stdin" bash -c \
	"'$BT' pubkey </dev/null 2>'$TMP/e' >/dev/null; [ \$? = 1 ] && grep -q stdin '$TMP/e'"

# ---------------------------------------------------- configuration keys

KEYS=$(grep -oE '\{"[A-Za-z]+", k_[a-z_]+' "$SRC/tunnel/config.c" | sed -E 's/^\{"([A-Za-z]+)".*/\1/')
check "the key tables of tunnel/config.c were found" test "$(printf '%s\n' $KEYS | wc -l)" -ge 8
for k in $KEYS; do
	check "bpftun.conf.5 documents $k" has_item "$k" <"$MAN5"
done
for s in Interface Peer; do
	check "bpftun.conf.5 has a [$s] section" grep -q "^\.SH \"\[$s\]\"" "$MAN5"
done

# ---------------------------------------------------------- drop reasons

REASONS=$(sed -n 's/.*X([A-Z_]*, *"\([a-z_]*\)").*/\1/p' "$SRC/bpf/bpftun_shared.h")
check "BPFTUN_DROP_REASONS was found" test -n "$REASONS"
section_text "$MAN8" "DROP REASONS" >"$TMP/drops.8"
for r in $REASONS; do
	check "bpftun.8 explains drop reason $r" has_item "$r" <"$TMP/drops.8"
done

# ------------------------------------------------------ key manager options

OPTS=$(grep -oE '\{"[a-z-]+", [01], 0, ' "$SRC/keymgmt/keymgmt.c" | sed -E 's/^\{"([a-z-]+)".*/\1/')
check "the options of keymgmt/keymgmt.c were found" test -n "$OPTS"
for o in $OPTS; do
	check "bpftun-keymgmt.8 documents --$o" grep -qF -- "\\-\\-${o//-/\\-}" "$KMMAN"
done

# ------------------------------------------------------------ completion

check "the completion script is valid bash" bash -n "$COMP"

# complete WORD...: run the completion with the last word as the current
# one; prints COMPREPLY one a line. Runs in a subshell with a fake `ip`.
mkdir -p "$TMP/bin" "$TMP/files/sub"
cat >"$TMP/bin/ip" <<'EOF'
#!/bin/sh
# fake `ip -o link show type veth`: two tunnels, a hidden end, plain veths
cat <<'OUT'
3: bt0-s@bt0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1420 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
4: bt0@bt0-s: <BROADCAST,MULTICAST,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
5: va@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff link-netns other
6: vx@vy: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:04 brd ff:ff:ff:ff:ff:ff
7: vy@vx: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:05 brd ff:ff:ff:ff:ff:ff
8: btsa1b2c3d4@averylongname1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1420 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:06 brd ff:ff:ff:ff:ff:ff
9: averylongname1@btsa1b2c3d4: <BROADCAST,MULTICAST,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 02:00:00:00:00:07 brd ff:ff:ff:ff:ff:ff
OUT
EOF
chmod +x "$TMP/bin/ip"
touch "$TMP/files/bt0.conf" "$TMP/files/wg1.conf" "$TMP/files/notes.txt"

complete_words() {
	(
		cd "$TMP/files" || exit 1
		PATH=$TMP/bin:$PATH
		# shellcheck source=/dev/null
		source "$COMP" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_bpftun bpftun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
	)
}

# expect "WANT (sorted, space-separated)" WORD...
expect() {
	local want=$1 got
	shift
	got=$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] && return 0
	echo "completing '$*': got '$got', want '$want'"
	return 1
}

check "the completion registers for bpftun" bash -c \
	"source '$COMP' && complete -p bpftun | grep -q -- '-F _bpftun'"
# set/syncconf/addconf: completed before this branch's bpftun has them (the
# live-changes work of issue 11 adds them); once `bpftun help` lists them the
# union changes nothing and this stays an exact check.
want_cmds=$(printf '%s\n' $CMDS set syncconf addconf | sort -u | tr '\n' ' ' | sed 's/ $//')
check "completes every subcommand of bpftun help" expect "$want_cmds" bpftun ""
offers() { # offers WANT WORD...: WANT is among the completions
	local want=$1
	shift
	complete_words "$@" | grep -qxF -- "$want" && return 0
	echo "completing '$*': '$want' not among: $(complete_words "$@" | tr '\n' ' ')"
	return 1
}
for c in $CMDS; do
	check "completes '$c' from '${c:0:2}'" offers "$c" bpftun "${c:0:2}"
done
check "completes subcommands after -v" expect "$want_cmds" bpftun -v ""
check "up completes *.conf files and directories" expect "bt0.conf sub wg1.conf" bpftun up ""
check "up completes one CONFIG only" expect "" bpftun up bt0.conf ""
check "down completes bpftun tunnels only" expect "averylongname1 bt0" bpftun down ""
check "rekey completes bpftun tunnels only" expect "averylongname1 bt0" bpftun rekey ""
check "rekey completes a tunnel from a prefix" expect "bt0" bpftun rekey b
check "down completes one IFNAME only" expect "" bpftun down bt0 ""
check "show completes --json from --j" expect "--json" bpftun show --j
check "show does not offer --json twice" expect "all averylongname1 bt0" bpftun show --json ""
check "show completes tunnels, all and --json" expect "--json all averylongname1 bt0" bpftun show ""
check "show IFNAME completes dump and --json" expect "--json dump" bpftun show bt0 ""
check "show IFNAME dump completes nothing more" expect "" bpftun show bt0 dump ""
check "show all completes dump" offers "dump" bpftun show all ""
check "show --json IFNAME does not offer dump" expect "" bpftun show --json bt0 ""
check "up completes --no-keymgmt" expect "--no-keymgmt" bpftun up --no
check "up --no-keymgmt completes *.conf files" expect "bt0.conf sub wg1.conf" bpftun up --no-keymgmt ""
check "genpsk completes nothing" expect "" bpftun genpsk ""
check "set completes tunnels" expect "averylongname1 bt0" bpftun set ""
check "set IFNAME completes peer" expect "peer" bpftun set bt0 ""
check "set IFNAME peer KEY completes the peer options" \
	expect "allowed-ips endpoint peer persistent-keepalive preshared-key remove" bpftun set bt0 peer KEY ""
check "set ... allowed-ips completes no value" expect "" bpftun set bt0 peer KEY allowed-ips ""
check "set ... preshared-key completes files" expect "bt0.conf notes.txt sub wg1.conf" bpftun set bt0 peer KEY preshared-key ""
check "set ... endpoint EP completes the options again" \
	expect "allowed-ips endpoint peer persistent-keepalive preshared-key remove" bpftun set bt0 peer KEY endpoint 192.0.2.1:51820 ""
check "set ... remove completes peer (another peer)" expect "peer" bpftun set bt0 peer KEY remove ""
check "syncconf completes tunnels, then a *.conf file" bash -c "
	$(declare -f complete_words expect); TMP='$TMP' COMP='$COMP'
	expect 'averylongname1 bt0' bpftun syncconf '' && expect 'bt0.conf sub wg1.conf' bpftun syncconf bt0 ''"
check "addconf completes tunnels, then a *.conf file, then nothing" bash -c "
	$(declare -f complete_words expect); TMP='$TMP' COMP='$COMP'
	expect 'averylongname1 bt0' bpftun addconf '' && expect 'bt0.conf sub wg1.conf' bpftun addconf bt0 '' &&
	expect '' bpftun addconf bt0 x.conf ''"
check "genkey completes nothing" expect "" bpftun genkey ""
check "cleanup completes nothing" expect "" bpftun cleanup ""
check "set completes bpftun tunnels" expect "averylongname1 bt0" bpftun set ""
check "set completes peer options" expect "allowed-ips endpoint peer persistent-keepalive preshared-key remove" bpftun set bt0 peer KEY ""
check "set completes no word after endpoint" expect "" bpftun set bt0 peer KEY endpoint ""
check "syncconf completes a tunnel" expect "averylongname1 bt0" bpftun syncconf ""
check "syncconf completes *.conf after the tunnel" expect "bt0.conf sub wg1.conf" bpftun syncconf bt0 ""
check "options complete --help" expect "--help" bpftun down --h

check_summary
