#!/usr/bin/env bash
# vm_stock_kernel.sh - the guest lane: boot Debian 13's stock 6.12 kernel under
# QEMU (scripts/test-vm.sh) and run tests/vm_lane.sh in it against this build.
# Exit status: vm_lane.sh's, or test-vm.sh's own (2 cannot run here, naming
# what is missing; 3 the guest reported nothing; 124 timeout).
#
# usage: vm_stock_kernel.sh BUILD_DIR [TEST...]
set -u
BUILD=$(cd "${1:?usage: vm_stock_kernel.sh BUILD_DIR [TEST...]}" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../scripts/test-vm.sh" -C "$BUILD" --timeout "${BPFTUN_VM_TIMEOUT:-1200}" -- \
	bash "$HERE/vm_lane.sh" "$BUILD" "$@"
