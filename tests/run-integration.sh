#!/usr/bin/env bash
# Integration tests: a private PostgreSQL for this run only, then Node's test runner over
# tests/integration/ (each test file starts its own database, responder and web server via
# tests/integration/stack.mjs), once per combination of web server and SignalR transport:
#
#   lighttpd:LongPolling  lighttpd:ServerSentEvents  apache:LongPolling  apache:ServerSentEvents
#
# Each run gets POLLHUB_TEST_WEB and POLLHUB_TEST_TRANSPORT; a summary line per
# combination follows, and the exit status is non-zero if any failed. Extra arguments go
# to `node --test`, e.g.
#
#   bash tests/run-integration.sh --test-name-pattern='negotiate'
#   POLLHUB_TEST_MATRIX=apache:LongPolling bash tests/run-integration.sh tests/integration/http.test.mjs
#
# Environment: POLLHUB_TEST_MATRIX (blank- or comma-separated WEB:TRANSPORT pairs; default
# all four), POLLHUB_BIN (default build/pollhub, read by stack.mjs).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/run-matrix.sh" integration "$@"
