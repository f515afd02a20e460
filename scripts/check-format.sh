#!/usr/bin/env bash
# check-format.sh - fail if any C source drifts from .clang-format.
#
#   scripts/check-format.sh          list the drifting files, exit 1 if any
#   scripts/check-format.sh --fix    reformat them in place
#
# The C sources are every tracked *.c and *.h (git ls-files), the BPF programs
# included, minus generated headers. CLANG_FORMAT picks the binary
# (default clang-format-19: other versions format differently).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cf=${CLANG_FORMAT:-clang-format-19}
if ! command -v "$cf" >/dev/null; then
	echo "check-format.sh: $cf not found (scripts/install-deps.sh installs clang-format-19)" >&2
	exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${#files[@]}" -eq 0 ]; then
	echo "check-format.sh: no C sources found (not a git checkout?)" >&2
	exit 2
fi
if [ "${1:-}" = --fix ]; then
	"$cf" -i --style=file "${files[@]}"
	exit 0
fi
# One run over every file; clang-format names each drifting file in its
# "FILE:LINE:COL: error: code should be clang-formatted" lines.
if out=$("$cf" --dry-run -Werror --style=file "${files[@]}" 2>&1); then
	echo "check-format.sh: ${#files[@]} C files match .clang-format"
	exit 0
fi
mapfile -t drift < <(printf '%s\n' "$out" |
	sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ "${#drift[@]}" -eq 0 ]; then
	printf '%s\n' "$out" | head -n 20 >&2
	echo "check-format.sh: $cf failed" >&2
	exit 2
fi
printf 'drifts from .clang-format: %s\n' "${drift[@]}"
echo "check-format.sh: ${#drift[@]} of ${#files[@]} C files drift; fix with scripts/check-format.sh --fix" >&2
exit 1
