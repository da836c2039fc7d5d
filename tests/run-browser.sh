#!/usr/bin/env bash
# Browser tests: a private PostgreSQL for this run only, then Node's test runner over
# tests/browser/ (headless Debian Chromium through playwright-core; each test file starts
# its own stack via tests/integration/stack.mjs), once per combination of web server and
# SignalR transport, as tests/run-integration.sh does:
#
#   lighttpd:LongPolling  lighttpd:ServerSentEvents  apache:LongPolling  apache:ServerSentEvents
#
# Each run gets POLLHUB_TEST_WEB and POLLHUB_TEST_TRANSPORT; a summary line per
# combination follows, and the exit status is non-zero if any failed. Extra arguments go
# to `node --test`, e.g.
#
#   bash tests/run-browser.sh --test-name-pattern='demo'
#   POLLHUB_TEST_MATRIX=apache:ServerSentEvents bash tests/run-browser.sh tests/browser/datasource.test.mjs
#
# Environment:
#   POLLHUB_TEST_MATRIX       blank- or comma-separated WEB:TRANSPORT pairs (default all four)
#   POLLHUB_BIN               the responder (default build/pollhub; read by stack.mjs)
#   POLLHUB_CHROMIUM          the browser (default /usr/bin/chromium)
#   POLLHUB_PUSH_DEADLINE_MS  how soon the other window must show a change (default 1000)
#   POLLHUB_DEMO_SCREENSHOT   a file for the README's picture of two demo windows
#                             (`make screenshot`)
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/run-matrix.sh" browser "$@"
