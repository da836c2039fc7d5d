#!/usr/bin/env bash
# Run each unit test program given as an argument, show its output, and sum
# the "N passed, N failed" line each prints last. A program that crashes, leaks
# (ASan exits non-zero) or prints no summary counts as one more failure.
# Usage: bash tests/run-unit.sh build/asan/tests/test_*
set -u

total_pass=0
total_fail=0
status=0

for bin in "$@"; do
	echo "== $bin"
	out=$("$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	# The last summary line: ASan's leak report, if any, comes after it.
	summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		pass=${BASH_REMATCH[1]}
		fail=${BASH_REMATCH[2]}
	else
		pass=0
		fail=0
	fi
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "$bin: exited with status $rc (crash, leak or missing summary)"
		fail=1
	fi
	[ "$fail" -ne 0 ] && status=1
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
done

echo "unit: $total_pass passed, $total_fail failed"
exit $status
