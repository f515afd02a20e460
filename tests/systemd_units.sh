#!/usr/bin/env bash
# systemd_units.sh - the systemd units `cmake --install` ships: installed
# under PREFIX/lib/systemd/system, ExecStart= naming the installed sbin
# binaries, and accepted by `systemd-analyze verify` without a warning.
# (systemd is not PID 1 in the test containers: the units are not started.)
#
# usage: systemd_units.sh BUILD_DIR
set -u
BUILD=$(cd "${1:?usage: systemd_units.sh BUILD_DIR}" && pwd)
TMP=$(mktemp -d /tmp/bt-units-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=lib/check.sh
. "$(dirname "$0")/lib/check.sh"

command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not found (apt install systemd)"; exit 1; }
check "cmake --install" cmake --install "$BUILD" --prefix "$TMP/p"
U=$TMP/p/lib/systemd/system
for u in bpftun@.service bpftun-keymgmt@.service; do
	check "$u installed under lib/systemd/system" test -s "$U/$u"
done
# the configured sbin directory, as the units name it
SBIN=$(sed -n 's#^ExecStart=\(.*\)/bpftun up .*#\1#p' "$U/bpftun@.service")
# what the build was configured with: CMAKE_INSTALL_PREFIX/CMAKE_INSTALL_SBINDIR
WANT=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")/$(sed -n 's/^CMAKE_INSTALL_SBINDIR:PATH=//p' "$BUILD/CMakeCache.txt")
check "ExecStart= names the configured sbin directory ($WANT)" test "$SBIN" = "$WANT"
mkdir "$TMP/u"
for u in bpftun@.service bpftun-keymgmt@.service; do
	sed "s#$SBIN/#$TMP/p/sbin/#" "$U/$u" >"$TMP/u/$u"
done
check "bpftun@: up --no-keymgmt, reload = syncconf, down, oneshot, wants the key manager" bash -c "
	grep -qx 'ExecStart=$TMP/p/sbin/bpftun up --no-keymgmt /etc/bpftun/%i.conf' $TMP/u/bpftun@.service &&
	grep -qx 'ExecReload=$TMP/p/sbin/bpftun syncconf %i /etc/bpftun/%i.conf' $TMP/u/bpftun@.service &&
	grep -qx 'ExecStop=$TMP/p/sbin/bpftun down %i' $TMP/u/bpftun@.service &&
	grep -qx 'Type=oneshot' $TMP/u/bpftun@.service && grep -qx 'RemainAfterExit=yes' $TMP/u/bpftun@.service &&
	grep -q '^Wants=.*bpftun-keymgmt@%i.service' $TMP/u/bpftun@.service"
check "bpftun-keymgmt@: supervised (Restart=on-failure), bound to bpftun@, KeyringMode=shared" bash -c "
	grep -qx 'Restart=on-failure' $TMP/u/bpftun-keymgmt@.service &&
	grep -qx 'BindsTo=bpftun@%i.service' $TMP/u/bpftun-keymgmt@.service &&
	grep -qx 'After=bpftun@%i.service' $TMP/u/bpftun-keymgmt@.service &&
	grep -qx 'KeyringMode=shared' $TMP/u/bpftun-keymgmt@.service &&
	grep -qx 'KeyringMode=shared' $TMP/u/bpftun@.service &&
	grep -q '^ExecStart=$TMP/p/sbin/bpftun-keymgmt --ifname %i --config /etc/bpftun/%i.conf' $TMP/u/bpftun-keymgmt@.service"
for u in bpftun@bt0.service bpftun-keymgmt@bt0.service; do
	check "systemd-analyze verify $u: exit 0, no message" bash -c "
		cd $TMP/u && SYSTEMD_UNIT_PATH=$TMP/u: systemd-analyze verify --man=no $TMP/u/$u >$TMP/out 2>&1
		rc=\$?; cat $TMP/out; [ \$rc = 0 ] && [ ! -s $TMP/out ]"
done
# the check can fail: a unit with a bad value is refused
sed 's#^Restart=on-failure#Restart=bogus#' "$TMP/u/bpftun-keymgmt@.service" >"$TMP/bad" && mkdir "$TMP/b" &&
	cp "$TMP/u/bpftun@.service" "$TMP/b/" && mv "$TMP/bad" "$TMP/b/bpftun-keymgmt@.service"
check "systemd-analyze verify reports a broken unit (the check can fail)" bash -c "
	cd $TMP/b && SYSTEMD_UNIT_PATH=$TMP/b: systemd-analyze verify --man=no $TMP/b/bpftun-keymgmt@bt0.service 2>&1 | grep -q bogus"
check_summary
