#!/usr/bin/env bash
# Integration tests: a private PostgreSQL for this run only, then Node's test runner over
# tests/integration/ (each test file starts its own database, responder and lighttpd via
# tests/integration/stack.mjs). Extra arguments go to `node --test`, e.g.
#
#   bash tests/run-integration.sh --test-name-pattern='negotiate'
#   bash tests/run-integration.sh tests/integration/http.test.mjs
#
# Environment: POLLHUB_BIN (default build/pollhub) is read by stack.mjs.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

[[ -d tests/node_modules/@microsoft/signalr ]] ||
	{ echo "run-integration.sh: tests/node_modules/@microsoft/signalr missing; run deploy/scripts/install-deps.sh --test" >&2; exit 2; }

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
((${#paths[@]} > 0)) || paths=(tests/integration/)
rc=0
node --test --test-concurrency=2 "${opts[@]}" "${paths[@]}" || rc=$?
exit "$rc"
