#!/usr/bin/env bash
# test.sh - README's test command: build, then run every test with ctest.
# Needs root: tests load BPF programs into the real verifier and build
# network namespaces.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root (BPF programs, network namespaces)" >&2
	exit 1
fi
bash "$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure "$@"
