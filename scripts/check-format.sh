#!/usr/bin/env bash
# Checks (or with --fix, applies) .clang-format on every C++ file git tracks, with Debian's
# clang-format-16. Exit 1 and the differing files when the check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format-16 -i "${files[@]}"
  exit 0
fi
if ! out=$(clang-format-16 --dry-run -Werror "${files[@]}" 2>&1); then
  echo "$out" | grep -o '^[^:]*:[0-9]*:[0-9]*: error' | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
  echo "check-format: run scripts/check-format.sh --fix (clang-format-16, .clang-format)"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
