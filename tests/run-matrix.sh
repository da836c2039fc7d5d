#!/usr/bin/env bash
# The test matrix runner behind tests/run-integration.sh and tests/run-browser.sh: a
# private PostgreSQL for this run only, then Node's test runner over tests/KIND/ (each
# test file starts its own database, responder and web server via
# tests/integration/stack.mjs), once per combination of web server and SignalR transport:
#
#   lighttpd:LongPolling  lighttpd:ServerSentEvents  apache:LongPolling  apache:ServerSentEvents
#
# Each run gets POLLHUB_TEST_WEB and POLLHUB_TEST_TRANSPORT; a summary line per
# combination follows, and the exit status is non-zero if any failed.
#
#   bash tests/run-matrix.sh integration|browser [node --test options] [test files]
#
# Environment: POLLHUB_TEST_MATRIX (blank- or comma-separated WEB:TRANSPORT pairs; default
# all four), POLLHUB_BIN (default build/pollhub, read by stack.mjs); the browser tests also
# read POLLHUB_CHROMIUM, POLLHUB_PUSH_DEADLINE_MS and POLLHUB_DEMO_SCREENSHOT (see
# tests/run-browser.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

kind=${1:-}
shift || true
case $kind in
integration)
	needed=(tests/node_modules/@microsoft/signalr)
	concurrency=2
	;;
browser)
	needed=(tests/node_modules/playwright-core tests/node_modules/kendo-ui-core deploy/www/node_modules/kendo-ui-core)
	# One test file at a time: two Chromiums parsing the demo page at once on a small
	# machine would only slow each other down, and the demo test times what a person sees.
	concurrency=1
	;;
*)
	echo "usage: $0 integration|browser [node --test arguments]" >&2
	exit 2
	;;
esac
me="run-$kind.sh"
for dir in "${needed[@]}"; do
	[[ -d $dir ]] ||
		{ echo "$me: $dir missing; run deploy/scripts/install-deps.sh --test" >&2; exit 2; }
done

matrix=${POLLHUB_TEST_MATRIX:-lighttpd:LongPolling lighttpd:ServerSentEvents apache:LongPolling apache:ServerSentEvents}
combos=()
for combo in ${matrix//,/ }; do
	case $combo in
	lighttpd:LongPolling | lighttpd:ServerSentEvents | apache:LongPolling | apache:ServerSentEvents)
		combos+=("$combo")
		;;
	*)
		echo "$me: POLLHUB_TEST_MATRIX: unknown combination '$combo' (WEB:TRANSPORT, WEB lighttpd or apache, TRANSPORT LongPolling or ServerSentEvents)" >&2
		exit 2
		;;
	esac
done
((${#combos[@]} > 0)) || { echo "$me: POLLHUB_TEST_MATRIX is empty" >&2; exit 2; }

# Short path: the cluster's unix socket path must stay under 100 bytes.
pgdir=$(mktemp -d /tmp/ph-pg.XXXXXX)
# As root the cluster runs as `postgres`, which must be able to enter the directory.
chmod 755 "$pgdir"

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local rc=$?
	bash deploy/scripts/pg-private.sh stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf -- "$pgdir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash deploy/scripts/pg-private.sh start "$pgdir" >/dev/null
eval "$(bash deploy/scripts/pg-private.sh env "$pgdir")"
export PGHOST PGPORT PGUSER
unset PGDATABASE POLLHUB_DATABASE

# Options go before the paths; when the arguments name test files, run only those.
opts=() paths=()
for a in "$@"; do
	if [[ $a == -* ]]; then opts+=("$a"); else paths+=("$a"); fi
done
# Test files that load the whole machine (thousands of clients) run alone, after the
# others, so that the latency bounds of the others do not judge their load.
alone=()
if ((${#paths[@]} == 0)); then
	for f in tests/$kind/*.test.mjs; do
		case $f in
		*/crowd.test.mjs | */busycal.test.mjs | */memory.test.mjs) alone+=("$f") ;;
		*) paths+=("$f") ;;
		esac
	done
fi

rc=0 summary=
for combo in "${combos[@]}"; do
	web=${combo%%:*} transport=${combo#*:}
	printf '\n===== %s: %s + %s =====\n' "$kind" "$web" "$transport"
	start=$SECONDS
	crc=0
	POLLHUB_TEST_WEB=$web POLLHUB_TEST_TRANSPORT=$transport \
		node --test --test-concurrency="$concurrency" "${opts[@]}" "${paths[@]}" || crc=$?
	if ((${#alone[@]} > 0)); then
		POLLHUB_TEST_WEB=$web POLLHUB_TEST_TRANSPORT=$transport \
			node --test --test-concurrency=1 "${opts[@]}" "${alone[@]}" || crc=$?
	fi
	if ((crc == 0)); then
		summary+="${summary:+; }$combo pass ($((SECONDS - start)) s)"
	else
		summary+="${summary:+; }$combo FAIL (exit $crc, $((SECONDS - start)) s)"
		rc=1
	fi
done
printf '\n===== %s summary: %s\n' "$kind" "$summary"
exit "$rc"
