#!/usr/bin/env bash
# Build the libFuzzer harnesses into build/fuzz/ and run each for N seconds
# (default 10) on a copy of its seed corpus, so the committed corpus never grows.
# Prints the executions per harness; exits non-zero if any harness crashed,
# leaving the input in build/fuzz/artifacts/ and printing it in base64.
# Usage: bash tests/fuzz/run.sh [seconds] [harness...]   (needs clang with libFuzzer)
set -u
cd "$(dirname "$0")/../.."

secs=${1:-10}
shift $(( $# > 0 ? 1 : 0 ))
harnesses=("$@")
# By default every harness there is: a new tests/fuzz/fuzz_<name>.c joins by existing.
if [ ${#harnesses[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		h=${f##*/}
		harnesses+=("${h%.c}")
	done
fi

CC=${FUZZ_CC:-clang}
FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-std=c11 -D_GNU_SOURCE -Wall -Wextra -Icommon -Ifcgi -Itests/fuzz -I/usr/include/postgresql)
OUT=build/fuzz

# What each harness links: only the modules it exercises and their dependencies.
sources() {
	case $1 in
	fuzz_hubproto) echo common/hubproto.c common/buf.c common/utf8.c ;;
	fuzz_escape) echo common/utf8.c common/log.c ;;
	fuzz_tcpdiag) echo common/tcpdiag.c ;;
	fuzz_heldconn) echo fcgi/fcgirec.c common/buf.c ;;
	fuzz_meeting) echo common/meeting.c common/hubproto.c common/buf.c common/utf8.c ;;
	fuzz_kendoquery) echo common/kendoquery.c common/meeting.c common/hubproto.c common/buf.c \
		common/utf8.c ;;
	fuzz_auth) echo common/auth.c common/config.c common/log.c common/jwtcheck.c \
		common/authcache.c common/netaddr.c common/query.c common/utf8.c common/ids.c ;;
	# negotiate.c's request handler pulls in the store, HTTP and logging.
	fuzz_query | fuzz_negotiate) echo common/*.c fcgi/negotiate.c fcgi/http.c ;;
	# Anything else (the router's handler reaches every transport): all but main.c.
	*) for f in common/*.c fcgi/*.c; do [ "$f" = fcgi/main.c ] || echo "$f"; done ;;
	esac
}
libs() {
	case $1 in
	fuzz_hubproto | fuzz_meeting | fuzz_kendoquery) echo -ljson-c ;;
	fuzz_escape | fuzz_tcpdiag | fuzz_heldconn) ;;
	fuzz_auth) echo -ljson-c -ljwt -lcrypto -lpthread ;;
	# common/auth.c and common/ids.c need libjwt and libcrypto.
	*) echo -ljson-c -lpq -lfcgi -ljwt -lcrypto -lpthread ;;
	esac
}

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)"; exit 2; }
mkdir -p "$OUT/artifacts"
work=$(mktemp -d /tmp/pollhub-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

status=0
for h in "${harnesses[@]}"; do
	# shellcheck disable=SC2046
	if ! "$CC" "${FLAGS[@]}" "tests/fuzz/$h.c" $(sources "$h") $(libs "$h") -o "$OUT/$h"; then
		echo "$h: build failed"
		status=1
		continue
	fi
	corpus="$work/$h"
	mkdir -p "$corpus"
	cp -r "tests/fuzz/corpus/$h/." "$corpus/" 2>/dev/null
	dict=()
	[ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
	log="$OUT/$h.log"
	"$OUT/$h" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$h-" "${dict[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
	cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" -ne 0 ]; then
		status=1
		echo "$h: CRASH after ${execs:-?} executions (exit $rc); log: $log"
		grep -a -E 'ERROR|property violated|SUMMARY|Test unit written' "$log" | head -n 5
		art=$(grep -a -o "Test unit written to [^ ]*" "$log" | tail -n 1 | sed 's/Test unit written to //')
		[ -n "$art" ] && [ -f "$art" ] && echo "input (base64): $(base64 -w0 "$art")"
	else
		echo "$h: ${execs:-?} executions in ${secs}s, ${cov:-cov: ?}, no crash"
	fi
done
exit $status
