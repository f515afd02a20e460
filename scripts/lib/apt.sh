# shellcheck shell=bash
# apt.sh - apt_ensure PKG...: install the packages that are not installed
# yet (one apt-get update, one install), so install scripts stay idempotent
# and quick on a machine that has everything.
apt_ensure() {
	local missing=() p
	export DEBIAN_FRONTEND=noninteractive
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	# A fresh machine may still be running apt at boot (unattended-upgrades),
	# and another install may hold the lock: wait for it (up to 10 min)
	# rather than fail.
	if [ "${#missing[@]}" -gt 0 ]; then
		apt-get -o DPkg::Lock::Timeout=600 update -qq
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
	fi
}
