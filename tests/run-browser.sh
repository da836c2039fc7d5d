#!/usr/bin/env bash
# Browser tests: a private PostgreSQL for this run only, then Node's test runner over
# tests/browser/ (headless Debian Chromium through playwright-core; each test file starts
# its own stacks via tests/integration/stack.mjs) once per web server and transport.
# Extra arguments go to `node --test`, e.g.
#
#   bash tests/run-browser.sh --test-name-pattern='demo'
#   bash tests/run-browser.sh tests/browser/datasource.test.mjs
#
# Environment: POLLHUB_BIN (default build/pollhub) is read by stack.mjs;
# POLLHUB_TEST_MATRIX, e.g. "lighttpd:LongPolling lighttpd:ServerSentEvents", narrows the
# combinations; POLLHUB_DEMO_SCREENSHOT=docs/demo-two-windows.png writes the README's picture.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

for dir in tests/node_modules/playwright-core tests/node_modules/kendo-ui-core deploy/www/node_modules/kendo-ui-core; do
	[[ -d $dir ]] ||
		{ echo "run-browser.sh: $dir missing; run deploy/scripts/install-deps.sh --test" >&2; exit 2; }
done

matrix=${POLLHUB_TEST_MATRIX:-"lighttpd:LongPolling lighttpd:ServerSentEvents"}

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
((${#paths[@]} > 0)) || paths=(tests/browser/)

rc=0
for combination in $matrix; do
	web=${combination%%:*} transport=${combination#*:}
	echo "# browser tests: $web, $transport"
	POLLHUB_TEST_WEB=$web POLLHUB_TEST_TRANSPORT=$transport \
		node --test --test-concurrency=2 "${opts[@]}" "${paths[@]}" || rc=1
done
exit "$rc"
