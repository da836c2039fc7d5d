#!/usr/bin/env bash
# `make bench`: pollhub under load, beside nchan and pgbench. Starts everything it needs
# privately (a PostgreSQL cluster in a temporary directory, the responder, lighttpd, nginx
# with nchan, each on a free port or a private socket) and stops it by pid at the end.
#
#   (a) fan-out: one `create` pushed to every other member of one group of N clients
#       (LP and SSE), beside nchan publishing to N-1 subscribers (long-poll, EventSource)
#   (b) create throughput: 1, 8, 32 callers invoking back-to-back, beside pgbench running
#       the responder's create transaction (pgbench-create.sql) and the bare INSERT
#       (pgbench-insert.sql) at the same concurrency
#   (c) idle: many connected clients over 100 groups: responder RSS, CPU while idle,
#       PostgreSQL connections, and the latency of one push meanwhile
#   (d) auth: what identity costs: negotiate + first poll (connect latency) and create
#       throughput with POLLHUB_AUTH=none and with POLLHUB_AUTH=jwt (an RS256 bearer token
#       on every request), alternated in the same run, side by side with the difference
#   (e) read: a calendar of 100,000 meetings over five years: one-week read({Start, End})
#       latency at the responder (a FastCGI request on its socket) and through lighttpd,
#       a Grid's paged, sorted and filtered read, and what an unranged read's refusal costs
#       (tests/bench/read.mjs)
#   (f) sustained: BENCH_SUSTAINED_CLIENTS held clients (half LP, half SSE) over
#       BENCH_SUSTAINED_GROUPS groups behind BENCH_SUSTAINED_LIGHTTPDS front ends, one
#       create per group every 2 s for BENCH_SUSTAINED_MINUTES: per minute push latency,
#       deliveries per second, lost and duplicated deliveries, responder and PostgreSQL CPU
#       and memory; beside nchan with as many subscribers (long-poll and EventSource) and
#       as many publishes. Not in the default list: it takes 2 x 10 minutes and more.
#
# Prints one table and writes $BENCH_OUT/results.json (default build/bench/); each
# loadgen run's own JSON is in $BENCH_OUT/runs/. A failed scenario is reported, not fatal:
# the exit status is 1 when any scenario counted an error, 0 otherwise.
#
# Environment (defaults in brackets; BENCH_QUICK=1 makes a smoke run of under a minute):
#   POLLHUB_BIN [build/pollhub]  LOADGEN [build/bench/loadgen]  BENCH_OUT [build/bench]
#   BENCH_FANOUT_SIZES ["100 1000 5000"]   group sizes for (a)
#   BENCH_FANOUT_TRANSPORTS ["lp sse"]     transports for (a)
#   BENCH_MESSAGES [20]          messages per fan-out run (median over them)
#   BENCH_INTERVAL [by size]     ms between them (1000 up to 100 clients, 2000 up to
#                                1,000, then 5000: one fan-out ends before the next)
#   BENCH_CONCURRENCY ["1 8 32"] callers for (b);  BENCH_DURATION [10] seconds each
#   BENCH_IDLE_CLIENTS [10000]   clients for (c), or a list of sizes ("1000 5000 9000"),
#                                a fresh responder each;  BENCH_IDLE_GROUPS [100]
#   BENCH_IDLE_TRANSPORTS ["lp sse"]   BENCH_IDLE_SAMPLE [30] seconds of CPU sampling
#   BENCH_IDLE_MESSAGES [5]      pushes to one group after the idle sample
#   BENCH_AUTH_CLIENTS [200]     clients connecting for (d)'s connect latency, at most
#                                BENCH_AUTH_CONNECT_CONCURRENCY [1] at once (one after
#                                the other: latency, not queueing)
#   BENCH_AUTH_CONCURRENCY ["1 8"]   callers for (d)'s throughput (BENCH_DURATION each)
#   BENCH_AUTH_ROUNDS [3]        none/jwt rounds for (d), alternated (medians reported)
#   BENCH_READ_MEETINGS [100000] meetings of (e)'s calendar (over five years)
#   BENCH_READ_CALLS [300]       reads per measurement of (e)
#   BENCH_SUSTAINED_CLIENTS [10000]  BENCH_SUSTAINED_GROUPS [100]  BENCH_SUSTAINED_MINUTES [10]
#   BENCH_SUSTAINED_NCHAN_MINUTES [= MINUTES]   BENCH_SUSTAINED_INTERVAL [2000] ms between
#                                two creates of one group;  BENCH_SUSTAINED_BUCKET [60] s
#                                per reported row;  BENCH_SUSTAINED_LIGHTTPDS [2]
#   BENCH_SUSTAINED_LOADGEN_ARGS  extra loadgen options for (f), e.g. "--inject-drop 100"
#   BENCH_SCENARIOS ["fanout throughput idle auth read"]   which scenarios to run; add
#                                "sustained" (or run it alone) for (f)
#   BENCH_TARGETS ["pollhub nchan"]   BENCH_DB_POOL, BENCH_THREADS [responder defaults]
#   BENCH_LIGHTTPDS [1]          lighttpd front ends before the one responder socket; (c)
#                                splits its clients over them (one loadgen each)
#   BENCH_LIGHTTPD_STOCK=1       use deploy/lighttpd/pollhub.conf as it is, with the
#                                limits it sizes itself (see tests/bench/README.md)
#   BENCH_KEEP=1                 keep the temporary directory (logs) afterwards
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
bench=$repo/tests/bench

bin=${POLLHUB_BIN:-$repo/build/pollhub}
loadgen=${LOADGEN:-$repo/build/bench/loadgen}
out=${BENCH_OUT:-$repo/build/bench}
quick=${BENCH_QUICK:-0}

if ((quick)); then
	fanout_sizes=${BENCH_FANOUT_SIZES:-50}
	messages=${BENCH_MESSAGES:-1}
	BENCH_INTERVAL=${BENCH_INTERVAL:-300}
	concurrency=${BENCH_CONCURRENCY:-"1 8"}
	duration=${BENCH_DURATION:-2}
	idle_clients=${BENCH_IDLE_CLIENTS:-200}
	idle_groups=${BENCH_IDLE_GROUPS:-10}
	idle_transports=${BENCH_IDLE_TRANSPORTS:-lp}
	idle_sample=${BENCH_IDLE_SAMPLE:-2}
	idle_messages=${BENCH_IDLE_MESSAGES:-1}
	auth_clients=${BENCH_AUTH_CLIENTS:-40}
	auth_concurrency=${BENCH_AUTH_CONCURRENCY:-8}
	auth_rounds=${BENCH_AUTH_ROUNDS:-1}
	read_meetings=${BENCH_READ_MEETINGS:-20000}
	read_calls=${BENCH_READ_CALLS:-30}
	sustained_clients=${BENCH_SUSTAINED_CLIENTS:-400}
	sustained_groups=${BENCH_SUSTAINED_GROUPS:-10}
	sustained_minutes=${BENCH_SUSTAINED_MINUTES:-1}
	sustained_bucket=${BENCH_SUSTAINED_BUCKET:-20}
else
	fanout_sizes=${BENCH_FANOUT_SIZES:-"100 1000 5000"}
	messages=${BENCH_MESSAGES:-20}
	concurrency=${BENCH_CONCURRENCY:-"1 8 32"}
	duration=${BENCH_DURATION:-10}
	idle_clients=${BENCH_IDLE_CLIENTS:-10000}
	idle_groups=${BENCH_IDLE_GROUPS:-100}
	idle_transports=${BENCH_IDLE_TRANSPORTS:-"lp sse"}
	idle_sample=${BENCH_IDLE_SAMPLE:-30}
	idle_messages=${BENCH_IDLE_MESSAGES:-5}
	auth_clients=${BENCH_AUTH_CLIENTS:-200}
	auth_concurrency=${BENCH_AUTH_CONCURRENCY:-"1 8"}
	auth_rounds=${BENCH_AUTH_ROUNDS:-3}
	read_meetings=${BENCH_READ_MEETINGS:-100000}
	read_calls=${BENCH_READ_CALLS:-300}
	sustained_clients=${BENCH_SUSTAINED_CLIENTS:-10000}
	sustained_groups=${BENCH_SUSTAINED_GROUPS:-100}
	sustained_minutes=${BENCH_SUSTAINED_MINUTES:-10}
	sustained_bucket=${BENCH_SUSTAINED_BUCKET:-60}
fi
sustained_nchan_minutes=${BENCH_SUSTAINED_NCHAN_MINUTES:-$sustained_minutes}
sustained_interval=${BENCH_SUSTAINED_INTERVAL:-2000}
sustained_lighttpds=${BENCH_SUSTAINED_LIGHTTPDS:-2}
auth_connect_concurrency=${BENCH_AUTH_CONNECT_CONCURRENCY:-1}
scenarios=${BENCH_SCENARIOS:-"fanout throughput idle auth read"}
targets=${BENCH_TARGETS:-"pollhub nchan"}

say() { echo "bench: [${SECONDS}s] $*" >&2; }
die() {
	echo "bench: $*" >&2
	exit 2
}

[[ -x $bin ]] || die "$bin is not an executable; build it with \`make\`"
[[ -x $loadgen ]] || die "$loadgen is not an executable; build it with \`make bench\`"
command -v lighttpd >/dev/null || die "lighttpd not found; run deploy/scripts/install-deps.sh"
command -v node >/dev/null || die "node not found; run deploy/scripts/install-deps.sh"
nginx_bin=$(PATH=$PATH:/usr/sbin command -v nginx || true)
nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so
if [[ " $targets " == *" nchan "* && (-z $nginx_bin || ! -f $nchan_module) ]]; then
	say "nginx or nchan missing (deploy/scripts/install-deps.sh --bench); nchan runs skipped"
	targets=${targets//nchan/}
fi
pgbin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
pgbench=$pgbin/pgbench
[[ -x $pgbench ]] || pgbench=$(command -v pgbench || true)

# Thousands of held requests: every process here needs file descriptors. Without
# CAP_SYS_RESOURCE (containers) nobody gets past the hard limit, and lighttpd asked for
# more than it may have silently falls back to 4096, so every limit below is sized from it.
fd_limit=$(ulimit -Hn)
[[ $fd_limit == unlimited ]] && fd_limit=65536
((fd_limit > 65536)) && fd_limit=65536
ulimit -n "$fd_limit"

mkdir -p "$out/runs"
rm -f "$out"/runs/*.json "$out/results.json"
# Short path under /tmp: the cluster's socket path must stay under 100 bytes, and the
# postgres user (the cluster's owner when we are root) must be able to enter it.
work=$(mktemp -d /tmp/ph-bench.XXXXXX)
chmod 755 "$work"
pgdir=$work/pg
db=pollhub_bench

pollhub_pid= nginx_pid=
lighttpd_pids=() loadgen_pids=() hub_ports=()

# Stops a child by pid: TERM, then KILL after 5 s.
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local rc=$?
	local p
	for p in "${loadgen_pids[@]}"; do stop_pid "$p"; done
	for p in "${lighttpd_pids[@]}"; do stop_pid "$p"; done
	stop_pid "$nginx_pid"
	stop_pid "$pollhub_pid"
	bash deploy/scripts/pg-private.sh stop "$pgdir" >/dev/null 2>&1 || true
	if [[ -n ${BENCH_KEEP:-} ]]; then
		say "logs kept in $work"
	else
		rm -rf -- "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until cmd succeeds (up to $2 tenths of a second).
wait_until() {
	local what=$1 tenths=$2 i
	shift 2
	for ((i = 0; i < tenths; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	say "timed out waiting for $what"
	return 1
}

http_status() {
	curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
}

# ------------------------------------------------------------------ the pollhub stack

say "PostgreSQL (private cluster in $pgdir)"
bash deploy/scripts/pg-private.sh start "$pgdir" >/dev/null
eval "$(bash deploy/scripts/pg-private.sh env "$pgdir")"
export PGHOST PGPORT PGUSER
unset PGDATABASE POLLHUB_DATABASE
bash deploy/scripts/migrate.sh --create-db "$db" >/dev/null
psql_() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

sock=$work/fcgi.sock
# The responder's identity mode (scenario auth switches it): none, or jwt with the RS256
# key pair made in $jwt_dir (tests/integration/jwt.mjs).
responder_auth=none
jwt_dir=$work/jwt
jwt_audience=pollhub-bench
jwt_issuer=pollhub-bench-issuer

# Starts the responder (unless it runs already; `fresh` restarts it) with its own defaults,
# as `make run` does: held polls and streams live in its event loop, so the number of
# worker threads (POLLHUB_THREADS, 32 for short requests) does not depend on the clients.
# BENCH_THREADS sets it all the same.
start_responder() {
	if [[ ${1:-} != fresh && -n $pollhub_pid ]] && kill -0 "$pollhub_pid" 2>/dev/null; then
		return 0
	fi
	stop_pid "$pollhub_pid"
	pollhub_pid=
	rm -f "$sock"
	local jwt_env=()
	[[ $responder_auth == jwt ]] && jwt_env=(POLLHUB_JWT_KEYS="$jwt_dir/public.pem"
		POLLHUB_JWT_AUDIENCE="$jwt_audience" POLLHUB_JWT_ISSUER="$jwt_issuer")
	# env: an assignment that comes from an expansion is only one for env(1).
	env POLLHUB_SOCKET="$sock" \
		POLLHUB_DATABASE="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db" \
		POLLHUB_GROUP_PARAM=group \
		POLLHUB_LOG_LEVEL="${POLLHUB_LOG_LEVEL:-warn}" \
		POLLHUB_AUTH="$responder_auth" "${jwt_env[@]}" \
		${BENCH_THREADS:+POLLHUB_THREADS="$BENCH_THREADS"} \
		${BENCH_DB_POOL:+POLLHUB_DB_POOL="$BENCH_DB_POOL"} \
		"$bin" >>"$work/pollhub.log" 2>&1 &
	pollhub_pid=$!
	wait_until "the responder's socket" 300 test -S "$sock" || {
		tail -n 20 "$work/pollhub.log" >&2
		return 1
	}
	# lighttpd may have marked the backend down while it was away.
	local port
	for port in "${hub_ports[@]}"; do
		[[ -n ${lighttpd_pids[*]} ]] || break
		wait_until "lighttpd on $port to reach the responder" 150 \
			eval '[[ $(http_status "http://127.0.0.1:$port/meetings") == 400 ]]'
	done
}

# BENCH_LIGHTTPDS (1) front ends in front of the one responder socket, each on its own
# port and run directory: one lighttpd holds at most ~9,000 clients under a hard limit of
# 20,000 descriptors (two per held client), so the idle runs split their clients over
# them, one loadgen each. Only the idle scenario uses more than the first.
lighttpds=${BENCH_LIGHTTPDS:-1}
for ((i = 0; i < lighttpds; i++)); do hub_ports+=("$(free_port)"); done
hub_port=${hub_ports[0]}
hub_url=http://127.0.0.1:$hub_port/meetings
lighttpd_conf=$repo/deploy/lighttpd/pollhub.conf
# lighttpd reads both limits as 16-bit numbers: at most 65535 descriptors.
lighttpd_fds=$((fd_limit > 65535 ? 65535 : fd_limit))
# The shipped configuration sizes them from the hard limit itself (limits.sh, beside it).
lighttpd_limits="stock (max-fds $lighttpd_fds, max-connections $((lighttpd_fds / 2)), from ulimit -Hn)"
if [[ -z ${BENCH_LIGHTTPD_STOCK:-} ]]; then
	# Written out all the same, so the run does not depend on what the shipped file picks.
	# `:=` replaces a value set by the included file; lighttpd allows at most max-fds / 2
	# connections.
	lighttpd_conf=$work/lighttpd-bench.conf
	lighttpd_limits="max-fds $lighttpd_fds, max-connections $((lighttpd_fds / 2))"
	# lighttpd runs include_shell commands (pollhub.conf's `sh backends.sh`) from the main
	# configuration's directory: the shipped helpers must be beside the wrapper.
	for f in "$repo"/deploy/lighttpd/*.sh; do
		[[ -e $f ]] && ln -sf "$f" "$work/"
	done
	cat >"$lighttpd_conf" <<EOF
include "$repo/deploy/lighttpd/pollhub.conf"
server.max-fds := $lighttpd_fds
server.max-connections := $((lighttpd_fds / 2))
EOF
fi

# start_lighttpd I: front end I on ${hub_ports[I]}, run directory $work (I = 0) or $work/lN.
start_lighttpd() {
	local i=$1 port=${hub_ports[$1]} dir=$work
	((i == 0)) || { dir=$work/l$i; mkdir -p "$dir"; }
	POLLHUB_PORT=$port POLLHUB_BIND=127.0.0.1 POLLHUB_RUNDIR=$dir \
		POLLHUB_DOCROOT=$repo/deploy/www POLLHUB_FCGI_SOCKET=$sock POLLHUB_HUB_PATH=/meetings \
		lighttpd -D -f "$lighttpd_conf" >>"$dir/lighttpd.out" 2>&1 &
	lighttpd_pids+=($!)
	wait_until "lighttpd on port $port" 150 \
		eval '[[ $(http_status "http://127.0.0.1:$port/meetings") == 400 ]]' || {
		cat "$dir/lighttpd.out" "$dir/lighttpd-error.log" >&2 2>/dev/null || true
		return 1
	}
}

say "responder and $lighttpds lighttpd on 127.0.0.1:${hub_ports[*]}"
start_responder
for ((i = 0; i < lighttpds; i++)); do start_lighttpd "$i"; done

# ------------------------------------------------------------------ nginx + nchan

nchan_port=
start_nginx() {
	[[ -z $nginx_pid ]] || return 0
	local dir=$work/nginx
	mkdir -p "$dir"
	nchan_port=$(free_port)
	sed -e "s|@PORT@|$nchan_port|g" -e "s|@RUNDIR@|$dir|g" -e "s|@WORKERS@|$(nproc)|g" \
		-e "s|@NOFILE@|$fd_limit|g" -e "s|@CONNECTIONS@|$((fd_limit - 100))|g" \
		"$bench/nchan.conf.in" >"$dir/nginx.conf"
	"$nginx_bin" -p "$dir" -e "$dir/nginx-error.log" -c "$dir/nginx.conf" >>"$dir/nginx.out" 2>&1 &
	nginx_pid=$!
	wait_until "nginx on port $nchan_port" 100 \
		eval '[[ $(http_status "http://127.0.0.1:$nchan_port/pub/probe") == 404 ]]' || {
		cat "$dir/nginx.out" "$dir/nginx-error.log" >&2 2>/dev/null || true
		return 1
	}
	say "nginx + nchan on 127.0.0.1:$nchan_port"
}

# ------------------------------------------------------------------ helpers

failures=0

# loadgen NAME TARGET [options...]: one run, its JSON in runs/NAME.json.
run_loadgen() {
	local name=$1 target=$2 port rc=0
	shift 2
	if [[ $target == pollhub ]]; then port=$hub_port; else port=$nchan_port; fi
	say "run $name"
	"$loadgen" --quiet --target "$target" --port "$port" --label "$name" \
		--json "$out/runs/$name.json" "$@" >"$work/$name.txt" 2>"$work/$name.err" || rc=$?
	sed 's/^/  /' "$work/$name.txt" >&2
	if ((rc != 0)); then
		failures=$((failures + 1))
		head -n 5 "$work/$name.err" | sed 's/^/  ! /' >&2
	fi
	return 0
}

# CPU ticks (utime + stime) and RSS in kB of a process, summed over the pids given.
proc_ticks() {
	local t=0 pid v
	for pid in "$@"; do
		v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
proc_rss_kb() {
	local t=0 pid v
	for pid in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
proc_threads() {
	awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

# ------------------------------------------------------------------ (a) fan-out

# Spacing of the messages: wide enough that one message's fan-out is over before the
# next starts (each message is measured on its own; the median over them is reported).
fanout_interval() {
	local n=$1
	if [[ -n ${BENCH_INTERVAL:-} ]]; then echo "$BENCH_INTERVAL"; elif ((n <= 100)); then echo 1000; elif ((n <= 1000)); then echo 2000; else echo 5000; fi
}

scenario_fanout() {
	local n transport interval target
	for n in $fanout_sizes; do
		interval=$(fanout_interval "$n")
		for target in $targets; do
			if [[ $target == pollhub ]]; then
				start_responder
			else
				start_nginx
			fi
			for transport in ${BENCH_FANOUT_TRANSPORTS:-lp sse}; do
				run_loadgen "fanout-$target-$transport-$n" "$target" --transport "$transport" \
					--clients "$n" --groups 1 --publishers 1 --messages "$messages" \
					--interval "$interval" --settle 30
			done
		done
	done
}

# ------------------------------------------------------------------ (b) throughput

pgbench_run() {
	local name=$1 script=$2 c=$3 log=$work/$1.pgbench tps failed
	shift 3
	say "run $name"
	if ! "$pgbench" -n -M extended -c "$c" -j "$c" -T "$duration" "$@" -f "$bench/$script" "$db" >"$log" 2>&1; then
		failures=$((failures + 1))
		tail -n 3 "$log" | sed 's/^/  ! /' >&2
	fi
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -n 1)
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log" | head -n 1)
	echo "  tps ${tps:-?}, failed ${failed:-?}" >&2
	printf '{"label":"%s","kind":"pgbench","script":"%s","clients":%d,"duration_s":%s,"tps":%s,"failed":%s}\n' \
		"$name" "$script" "$c" "$duration" "${tps:-null}" "${failed:-null}" >"$out/runs/$name.json"
}

scenario_throughput() {
	local c maxc=0
	for c in $concurrency; do ((c > maxc)) && maxc=$c; done
	start_responder
	for c in $concurrency; do
		# Each caller alone in its group, as pgbench's clients are.
		run_loadgen "throughput-pollhub-lp-$c" pollhub --transport lp --clients "$c" \
			--groups "$c" --publishers "$c" --duration "$duration" --settle 10
	done
	if [[ -x $pgbench ]]; then
		psql_ -v clients="$maxc" -f "$bench/pgbench-setup.sql" >/dev/null
		for c in $concurrency; do
			pgbench_run "throughput-pgbench-create-$c" pgbench-create.sql "$c"
			pgbench_run "throughput-pgbench-insert-$c" pgbench-insert.sql "$c"
			pgbench_run "throughput-pgbench-notify-$c" pgbench-create-inline.sql "$c" \
				-D notify=1 -D notify_c=1
			pgbench_run "throughput-pgbench-notify1-$c" pgbench-create-inline.sql "$c" \
				-D notify=1 -D notify_c=0
			pgbench_run "throughput-pgbench-nonotify-$c" pgbench-create-inline.sql "$c" \
				-D notify=0 -D notify_c=0
		done
		psql_ -f "$bench/pgbench-teardown.sql" >/dev/null
	else
		say "pgbench not found; its runs skipped"
	fi
}

# ------------------------------------------------------------------ (c) idle

# idle_run NAME TARGET TRANSPORT CLIENTS PIDS-COMMAND: clients connect, stay idle while
# the pids are sampled, then one group (per loadgen) gets $idle_messages pushes. For
# pollhub the clients are split over the $lighttpds front ends, one loadgen each (NAME,
# NAME-2, ...); the responder's RSS and threads are read before they connect (idle) and
# while they are held: per held client = (RSS held - RSS idle) / ready.
idle_run() {
	local name=$1 target=$2 transport=$3 clients=$4 pids_cmd=$5
	local pids t0 t1 rss threads pgconns cpu rc=0 lrss=0 lt0=0 lt1=0 lcpu=null
	local pg_pids=() pt0=0 pt1=0 pgcpu=null rss0=0 threads0=0 per_client=null
	local parts=1 k n_k port label ready_n=0 failed_n=0 r f waiting load0 load1 groups_k slack=0
	local readies=() labels=()
	[[ $target == pollhub ]] && parts=$lighttpds
	((parts > 1)) && slack=60
	if [[ $target == pollhub ]]; then
		sleep 2
		rss0=$(proc_rss_kb "$pollhub_pid")
		threads0=$(proc_threads "$pollhub_pid")
	fi
	say "run $name ($clients clients, $idle_groups groups, $parts loadgen(s))"
	loadgen_pids=()
	for ((k = 0; k < parts; k++)); do
		if [[ $target == pollhub ]]; then port=${hub_ports[$k]}; else port=$nchan_port; fi
		label=$name
		((k == 0)) || label=$name-$((k + 1))
		n_k=$((clients / parts))
		((k < clients % parts)) && n_k=$((n_k + 1))
		groups_k=$((idle_groups / parts))
		((groups_k < 1)) && groups_k=1
		labels+=("$label")
		readies+=("$work/$label.ready")
		rm -f "$work/$label.ready"
		"$loadgen" --quiet --target "$target" --port "$port" --label "$label" \
			--json "$out/runs/$label.json" --transport "$transport" --clients "$n_k" \
			--groups "$groups_k" --publishers 1 --messages "$idle_messages" --interval 1000 \
			--idle $((idle_sample + 4 + slack)) --ready-file "$work/$label.ready" --settle 30 \
			--connect-concurrency 64 --setup-timeout $((60 + n_k / 20)) --source-addrs 4 \
			>"$work/$label.txt" 2>"$work/$label.err" &
		loadgen_pids+=($!)
	done
	while :; do
		waiting=0
		for ((k = 0; k < parts; k++)); do
			[[ -f ${readies[$k]} ]] && continue
			kill -0 "${loadgen_pids[$k]}" 2>/dev/null && waiting=1
		done
		((waiting)) || break
		sleep 0.2
	done
	if [[ -f ${readies[0]} ]]; then
		sleep 1
		read -ra pids <<<"$($pids_cmd)"
		read -r load0 _ </proc/loadavg
		t0=$(proc_ticks "${pids[@]}")
		if [[ $target == pollhub ]]; then
			lt0=$(proc_ticks "${lighttpd_pids[@]}")
			read -ra pg_pids <<<"$(postgres_pids)"
			pt0=$(proc_ticks "${pg_pids[@]}")
		fi
		sleep "$idle_sample"
		t1=$(proc_ticks "${pids[@]}")
		rss=$(proc_rss_kb "${pids[@]}")
		threads=$(proc_threads "${pids[0]}")
		read -r load1 _ </proc/loadavg
		cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v s="$idle_sample" \
			'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
		for ((k = 0; k < parts; k++)); do
			if [[ -f ${readies[$k]} ]]; then
				read -r r f <"${readies[$k]}"
				ready_n=$((ready_n + r)) failed_n=$((failed_n + f))
			fi
		done
		if [[ $target == pollhub ]]; then
			lt1=$(proc_ticks "${lighttpd_pids[@]}")
			lrss=$(proc_rss_kb "${lighttpd_pids[@]}")
			lcpu=$(awk -v a="$lt0" -v b="$lt1" -v hz="$(getconf CLK_TCK)" -v s="$idle_sample" \
				'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
			# Backends that ended within the sample are missed: a lower bound.
			pt1=$(proc_ticks "${pg_pids[@]}")
			pgcpu=$(awk -v a="$pt0" -v b="$pt1" -v hz="$(getconf CLK_TCK)" -v s="$idle_sample" \
				'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
			pgconns=$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")
			((ready_n > 0)) && per_client=$(awk -v a="$rss0" -v b="$rss" -v n="$ready_n" \
				'BEGIN { printf "%.2f", (b - a) / n }')
		else
			pgconns=null
		fi
		echo "  ready $ready_n (failed $failed_n): RSS $((rss / 1024)) MB (idle $((rss0 / 1024)) MB, $per_client KiB per client), CPU $cpu %, threads $threads (idle $threads0), PostgreSQL connections $pgconns, PostgreSQL CPU $pgcpu %, lighttpd CPU $lcpu %, load $load0 -> $load1" >&2
		printf '{"label":"%s","kind":"idle","target":"%s","transport":"%s","clients":%d,"groups":%d,"ready":%d,"failed":%d,"sample_s":%s,"rss_kb":%d,"rss_idle_kb":%d,"rss_per_client_kb":%s,"cpu_percent":%s,"threads":%d,"threads_idle":%d,"pg_connections":%s,"pg_cpu_percent":%s,"lighttpds":%d,"lighttpd_rss_kb":%d,"lighttpd_cpu_percent":%s,"loadavg":[%s,%s]}\n' \
			"$name" "$target" "$transport" "$clients" "$idle_groups" "$ready_n" "$failed_n" \
			"$idle_sample" "$rss" "$rss0" "$per_client" "$cpu" "${threads:-0}" "$threads0" "$pgconns" "$pgcpu" \
			"$parts" "$lrss" "$lcpu" "$load0" "$load1" >"$out/runs/$name.idle.json"
	else
		say "$name: loadgen ended before its clients were connected"
	fi
	for ((k = 0; k < parts; k++)); do
		rc=0
		wait "${loadgen_pids[$k]}" || rc=$?
		sed 's/^/  /' "$work/${labels[$k]}.txt" >&2
		if ((rc != 0)); then
			failures=$((failures + 1))
			head -n 5 "$work/${labels[$k]}.err" | sed 's/^/  ! /' >&2
		fi
	done
	loadgen_pids=()
	# The responder must have survived it (a crash would show here, not only at the end).
	if [[ $target == pollhub ]] && ! kill -0 "$pollhub_pid" 2>/dev/null; then
		say "the responder died during $name; last lines of its log:"
		tail -n 20 "$work/pollhub.log" >&2
		failures=$((failures + 1))
	fi
}

pollhub_pids() { echo "$pollhub_pid"; }
# The cluster's postmaster and every process it started (backends, background workers).
postgres_pids() {
	local pm
	pm=$(head -n 1 "$pgdir/data/postmaster.pid" 2>/dev/null) || return 0
	echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}
nginx_pids() { echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; }

idle_notes=()
# How many idle clients of a transport fit through one lighttpd: two descriptors per held
# client (its socket and the responder's); an SSE client also POSTs a ping every 15 s on
# a connection that lighttpd keeps 5 s, about a third of a connection more. lighttpd
# stops accepting above 90 % of max-fds and only starts again below 80 % (held clients
# never leave), after which no new request, a push's POST included, gets in: stay under
# 80 %, with room for the clients still connecting. With BENCH_LIGHTTPDS front ends, that
# many times as many.
idle_cap() {
	local room=$((lighttpd_fds * 8 / 10 - 1000))
	if [[ $1 == sse ]]; then echo $((room * 10 / 24 * lighttpds)); else echo $((room / 2 * lighttpds)); fi
}

# BENCH_IDLE_CLIENTS may be a list of sizes: a fresh responder for each, runs named
# idle-pollhub-TRANSPORT-N; nchan runs the largest once.
scenario_idle() {
	local transport n size cap why max=0
	for size in $idle_clients; do ((size > max)) && max=$size; done
	for target in $targets; do
		if [[ $target == pollhub ]]; then
			for size in $idle_clients; do
				for transport in $idle_transports; do
					n=$size
					cap=$(idle_cap "$transport")
					if ((n > cap)); then
						why="lighttpd needs 2 per held client and stops accepting at 90 % of them"
						[[ $transport == sse ]] && why+=", plus its ping connections"
						idle_notes+=("pollhub $transport: $n clients asked, $cap run ($lighttpds lighttpd, descriptor hard limit $fd_limit; $why)")
						say "${idle_notes[-1]}"
						n=$cap
					fi
					# A fresh responder: its RSS is this run's, not the previous scenario's.
					start_responder fresh
					idle_run "idle-pollhub-$transport-$n" pollhub "$transport" "$n" pollhub_pids
				done
			done
		else
			start_nginx
			idle_run "idle-nchan-sse-$max" nchan sse "$max" nginx_pids
		fi
	done
}

# ------------------------------------------------------------------ (d) auth

# The same connect and create runs with POLLHUB_AUTH=none and =jwt, alternated round by
# round (the machine's drift falls on both), each on a fresh responder. jwt: one RS256
# token of user "bench", granted write on every group the runs use, sent by loadgen as
# Authorization: Bearer on every request (access_token in an event stream's query), so
# every request pays a verification. Runs auth-MODE-connect-rK and auth-MODE-tp-C-rK.
scenario_auth() {
	local mode round c groups=10 maxc=1
	for c in $auth_concurrency; do ((c > maxc)) && maxc=$c; done
	((maxc > groups)) && groups=$maxc
	mkdir -p "$jwt_dir"
	node "$repo/tests/integration/jwt.mjs" keys "$jwt_dir"
	node "$repo/tests/integration/jwt.mjs" token "$jwt_dir" bench "$jwt_audience" "$jwt_issuer" 86400 \
		>"$jwt_dir/bench.token"
	psql_ -c "SELECT pollhub.grant_group('bench', 'auth-' || g, 'write') FROM generate_series(0, $groups - 1) g" \
		>/dev/null || say "auth: pollhub.grant_group failed (a responder without grants?)"
	for ((round = 1; round <= auth_rounds; round++)); do
		for mode in none jwt; do
			responder_auth=$mode
			start_responder fresh
			local bearer=()
			[[ $mode == jwt ]] && bearer=(--bearer-file "$jwt_dir/bench.token")
			run_loadgen "auth-$mode-connect-r$round" pollhub --transport lp --clients "$auth_clients" \
				--groups 10 --group-prefix auth- --publishers 1 --messages 1 --interval 100 \
				--connect-concurrency "$auth_connect_concurrency" --settle 10 "${bearer[@]}"
			for c in $auth_concurrency; do
				run_loadgen "auth-$mode-tp-$c-r$round" pollhub --transport lp --clients "$c" \
					--groups "$c" --group-prefix auth- --publishers "$c" --duration "$duration" \
					--settle 10 "${bearer[@]}"
			done
		done
	done
	responder_auth=none
	start_responder fresh
}

# ------------------------------------------------------------------ (e) read

# A calendar of $read_meetings meetings of about 400 bytes over five years (2024 to 2028,
# about 55 a day), plus 100 weekly series (half of them ended by an UNTIL), and beside it
# one a tenth the size with as many meetings a day (half a year, 10 series), loaded in one
# transaction as a restore would be: without the per-row push and audit triggers (nobody
# has joined the calendar; 100,000 pushes would take minutes), then ANALYZEd. read.mjs
# then times the reads (run "read", runs/read.json).
scenario_read() {
	local group=read-cal small=read-small rc=0
	start_responder
	say "read: loading $read_meetings meetings over five years into calendar '$group'"
	psql_ >/dev/null <<EOF
BEGIN;
ALTER TABLE pollhub.meetings DISABLE TRIGGER meetings_push, DISABLE TRIGGER meetings_audit;
INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at, room_id, attendees,
	recurrence_rule, recurrence_exception, start_timezone, end_timezone)
SELECT '$group',
	(ARRAY['Standup', 'Design review', 'Planning', '1:1', 'Retro', 'Customer call', 'Budget review',
		'Interview', 'Lunch', 'Sprint demo'])[1 + i % 10] || ' ' || i,
	repeat('Agenda item ' || (i % 97) || '. ', 2),
	timestamptz '2024-01-01 00:00Z' + (i - 1) * (1827 * 86400.0 / $read_meetings) * interval '1 second',
	timestamptz '2024-01-01 00:00Z' + (i - 1) * (1827 * 86400.0 / $read_meetings) * interval '1 second'
		+ (1 + i % 6) * interval '30 minutes',
	1 + i % 3, '{1,2}', '', '', '', ''
FROM generate_series(1, $read_meetings) i;
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, room_id, recurrence_rule)
SELECT '$group', 'Weekly ' || k, timestamptz '2024-01-01 09:00Z' + k * interval '17 days',
	timestamptz '2024-01-01 10:00Z' + k * interval '17 days', 2,
	CASE WHEN k % 2 = 0 THEN 'FREQ=WEEKLY'
		ELSE 'FREQ=WEEKLY;UNTIL=' || to_char((timestamptz '2024-07-01 00:00Z' + k * interval '17 days') AT TIME ZONE 'UTC',
			'YYYYMMDD"T"HH24MISS"Z"') END
FROM generate_series(1, 100) k;
INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at, room_id, attendees,
	recurrence_rule, recurrence_exception, start_timezone, end_timezone)
SELECT '$small', 'Meeting ' || i, repeat('Agenda item ' || (i % 97) || '. ', 2),
	timestamptz '2024-01-01 00:00Z' + (i - 1) * (1827 * 86400.0 / $read_meetings) * interval '1 second',
	timestamptz '2024-01-01 00:00Z' + (i - 1) * (1827 * 86400.0 / $read_meetings) * interval '1 second'
		+ (1 + i % 6) * interval '30 minutes',
	1 + i % 3, '{1,2}', '', '', '', ''
FROM generate_series(1, $read_meetings / 10) i;
INSERT INTO pollhub.meetings (group_name, title, start_at, end_at, room_id, recurrence_rule)
SELECT '$small', 'Weekly ' || k, timestamptz '2024-01-01 09:00Z' + k * interval '17 days',
	timestamptz '2024-01-01 10:00Z' + k * interval '17 days', 2, 'FREQ=WEEKLY'
FROM generate_series(1, 10) k;
ALTER TABLE pollhub.meetings ENABLE TRIGGER meetings_push, ENABLE TRIGGER meetings_audit;
-- ProductHub's grid: $read_meetings products in one group (a name in eight holds "Chai").
INSERT INTO producthub.products (group_name, product_name, unit_price, units_in_stock, category, created_at)
SELECT '$group', (ARRAY['Chai', 'Chang', 'Aniseed Syrup', 'Tofu', 'Ikura', 'Konbu', 'Pavlova', 'Geitost'])[1 + i % 8]
	|| ' ' || i, (i % 9000) / 100.0, i % 500, (ARRAY['Beverages', 'Condiments', 'Seafood', 'Dairy'])[1 + i % 4],
	timestamptz '2024-01-01 00:00Z' + i * interval '1 minute'
FROM generate_series(1, $read_meetings) i;
COMMIT;
ANALYZE pollhub.meetings;
ANALYZE producthub.products;
EOF
	say "run read ($read_calls reads per measurement)"
	node "$bench/read.mjs" --hub "$hub_url" --socket "$sock" --group "$group" --calls "$read_calls" \
		--meetings "$read_meetings" --small-group "$small" --small-weeks 25 \
		--products-group "$group" --products "$read_meetings" --json "$out/runs/read.json" >"$work/read.txt" 2>"$work/read.err" || rc=$?
	cat "$work/read.txt" >&2
	if ((rc != 0)); then
		failures=$((failures + 1))
		head -n 5 "$work/read.err" | sed 's/^/  ! /' >&2
	fi
}

# ------------------------------------------------------------------ (f) sustained

# CPU ticks per pid, kept between the samples of (f): ticks_since KEY PIDS... sets
# ticks_d to the ticks these pids used since the previous call with KEY (a pid first seen
# counts all its ticks: a backend started within the minute; one that ended within it is
# missed). Not in a subshell: tick_prev must outlive the call.
declare -A tick_prev=()
ticks_d=0
ticks_since() {
	local key=$1 pid v
	shift
	ticks_d=0
	for pid in "$@"; do
		v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || true
		[[ -n $v ]] || continue
		ticks_d=$((ticks_d + v - ${tick_prev[$key:$pid]:-0}))
		tick_prev[$key:$pid]=$v
	done
}
# Proportional set size in kB summed over pids: shared memory (PostgreSQL's shared
# buffers, nchan's shared zone) counted once, not once per process as RSS would.
proc_pss_kb() {
	local t=0 pid v
	for pid in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# sustained_sample TARGET BUCKET ELAPSED_US: sets sample_json to what the processes used
# over the last ELAPSED_US microseconds (bucket -1: the baseline, at the start).
sample_json=
sustained_sample() {
	local target=$1 k=$2 us=$3 hz srv pg=() lh=() sd pd ld gd load
	local pct='BEGIN { if (us > 0) printf "%.2f", d / hz / (us / 1e6) * 100; else print "null" }'
	hz=$(getconf CLK_TCK)
	read -r load _ </proc/loadavg
	if [[ $target == pollhub ]]; then
		srv=("$pollhub_pid")
		read -ra pg <<<"$(postgres_pids)"
		lh=("${lighttpd_pids[@]}")
	else
		read -ra srv <<<"$(nginx_pids)"
	fi
	ticks_since "$target-srv" "${srv[@]}"
	sd=$ticks_d
	ticks_since "$target-lg" "${loadgen_pids[@]}"
	gd=$ticks_d
	sample_json=$(printf '{"bucket":%d,"elapsed_s":%s,"server_cpu_percent":%s,"server_rss_kb":%d,"server_pss_kb":%d,"loadgen_cpu_percent":%s,"loadavg":%s' \
		"$k" "$(awk -v us="$us" 'BEGIN { printf "%.2f", us / 1e6 }')" \
		"$(awk -v d="$sd" -v hz="$hz" -v us="$us" "$pct")" "$(proc_rss_kb "${srv[@]}")" \
		"$(proc_pss_kb "${srv[@]}")" "$(awk -v d="$gd" -v hz="$hz" -v us="$us" "$pct")" "$load")
	if [[ $target == pollhub ]]; then
		ticks_since pg "${pg[@]}"
		pd=$ticks_d
		ticks_since lighttpd "${lh[@]}"
		ld=$ticks_d
		sample_json+=$(printf ',"pg_cpu_percent":%s,"pg_pss_kb":%d,"pg_rss_kb":%d,"pg_processes":%d,"lighttpd_cpu_percent":%s,"lighttpd_rss_kb":%d' \
			"$(awk -v d="$pd" -v hz="$hz" -v us="$us" "$pct")" "$(proc_pss_kb "${pg[@]}")" \
			"$(proc_rss_kb "${pg[@]}")" "${#pg[@]}" \
			"$(awk -v d="$ld" -v hz="$hz" -v us="$us" "$pct")" "$(proc_rss_kb "${lh[@]}")")
	fi
	sample_json+='}'
}

# sustained_run TARGET MINUTES: one loadgen (over every front end for pollhub) holds the
# clients, half LP and half SSE (every group and the publishers half each); once all are
# connected run.sh creates the go file, the loadgen starts publishing (one create or
# publish per group every $sustained_interval ms, the groups staggered over that
# interval) and run.sh samples the processes every $sustained_bucket s, the loadgen's own
# buckets by send time. Runs sustained-TARGET.json (loadgen) and .sustained.json (samples).
sustained_run() {
	local target=$1 minutes=$2 name=sustained-$1 ports clients messages nb k rc=0
	local go ready t_go t_prev now due lg_pid samples=() i
	go=$work/$name.go ready=$work/$name.ready
	messages=$((minutes * 60000 / sustained_interval))
	nb=$(((minutes * 60 + sustained_bucket - 1) / sustained_bucket))
	if [[ $target == pollhub ]]; then
		for ((i = ${#hub_ports[@]}; i < sustained_lighttpds; i++)); do
			hub_ports+=("$(free_port)")
			start_lighttpd "$i"
		done
		# A fresh responder: its memory is this run's alone.
		start_responder fresh
		ports=$(
			IFS=,
			echo "${hub_ports[*]:0:sustained_lighttpds}"
		)
		clients=$sustained_clients
	else
		start_nginx
		ports=$nchan_port
		# nchan's publishers only publish: as many subscribers as pollhub's members.
		clients=$((sustained_clients + sustained_groups))
	fi
	rm -f "$go" "$ready"
	say "run $name ($clients clients over port(s) $ports, $sustained_groups groups, one create per group every $sustained_interval ms for $minutes min)"
	# shellcheck disable=SC2086 # BENCH_SUSTAINED_LOADGEN_ARGS is a list of options
	"$loadgen" --quiet --target "$target" --port "$ports" --label "$name" \
		--json "$out/runs/$name.json" --transport mixed --clients "$clients" \
		--groups "$sustained_groups" --publishers "$sustained_groups" --messages "$messages" \
		--interval "$sustained_interval" --publish-limit $((minutes * 60)) --idle 1 \
		--go-file "$go" --ready-file "$ready" \
		--bucket "$sustained_bucket" --settle 30 --connect-concurrency 64 --source-addrs 4 \
		--setup-timeout $((60 + clients / 20)) --timeout $((400 + clients / 20 + minutes * 60)) \
		${BENCH_SUSTAINED_LOADGEN_ARGS:-} >"$work/$name.txt" 2>"$work/$name.err" &
	lg_pid=$!
	loadgen_pids=("$lg_pid")
	while [[ ! -f $ready ]] && kill -0 "$lg_pid" 2>/dev/null; do sleep 0.2; done
	if [[ -f $ready ]]; then
		say "$name: $(cut -d' ' -f1 "$ready") clients connected ($(cut -d' ' -f2 "$ready") failed); publishing for $minutes min"
		sleep 2
		sustained_sample "$target" -1 0
		samples+=("$sample_json")
		t_go=${EPOCHREALTIME/./}
		t_prev=$t_go
		: >"$go"
		# One sample per bucket, also past the publishing (drain and cleanup) while the
		# loadgen runs; the last is taken even when it has just finished (its last
		# messages go out in the bucket's last seconds).
		for ((k = 0; k < nb + 5; k++)); do
			kill -0 "$lg_pid" 2>/dev/null || break
			due=$((t_go + (k + 1) * sustained_bucket * 1000000))
			now=${EPOCHREALTIME/./}
			((due > now)) && sleep "$(((due - now) / 1000000)).$(printf '%06d' $(((due - now) % 1000000)))"
			now=${EPOCHREALTIME/./}
			sustained_sample "$target" "$k" $((now - t_prev))
			samples+=("$sample_json")
			t_prev=$now
			echo "  $name: ${samples[-1]}" >&2
		done
	else
		say "$name: loadgen ended before its clients were connected"
	fi
	wait "$lg_pid" || rc=$?
	loadgen_pids=()
	sed 's/^/  /' "$work/$name.txt" >&2
	if ((rc != 0)); then
		failures=$((failures + 1))
		head -n 5 "$work/$name.err" | sed 's/^/  ! /' >&2
	fi
	{
		printf '{"label":"%s","kind":"sustained","target":"%s","clients":%d,"groups":%d,"minutes":%d,"interval_ms":%d,"bucket_s":%d,"front_ends":%d,"samples":[' \
			"$name" "$target" "$clients" "$sustained_groups" "$minutes" "$sustained_interval" \
			"$sustained_bucket" "$([[ $target == pollhub ]] && echo "$sustained_lighttpds" || echo 1)"
		(
			IFS=,
			echo -n "${samples[*]}"
		)
		echo ']}'
	} >"$out/runs/$name.sustained.json"
	if [[ $target == pollhub ]] && ! kill -0 "$pollhub_pid" 2>/dev/null; then
		say "the responder died during $name; last lines of its log:"
		tail -n 20 "$work/pollhub.log" >&2
		failures=$((failures + 1))
	fi
}

scenario_sustained() {
	local target
	for target in $targets; do
		if [[ $target == pollhub ]]; then
			sustained_run pollhub "$sustained_minutes"
		else
			((sustained_nchan_minutes < sustained_minutes)) &&
				say "nchan's sustained run is shorter: $sustained_nchan_minutes min (BENCH_SUSTAINED_NCHAN_MINUTES)"
			sustained_run nchan "$sustained_nchan_minutes"
		fi
	done
}

# ------------------------------------------------------------------ run

started=$(date +%s)
read -r load_start _ </proc/loadavg
for s in $scenarios; do
	case $s in
	fanout) scenario_fanout ;;
	throughput) scenario_throughput ;;
	idle) scenario_idle ;;
	auth) scenario_auth ;;
	read) scenario_read ;;
	sustained) scenario_sustained ;;
	*) die "unknown scenario '$s' in BENCH_SCENARIOS" ;;
	esac
done

if kill -0 "$pollhub_pid" 2>/dev/null; then :; else
	say "the responder is not running any more; last lines of its log:"
	tail -n 20 "$work/pollhub.log" >&2
	failures=$((failures + 1))
fi
{
	printf '{"quick":%s,"started":%d,"seconds":%d,"cpus":%d,' "$( ((quick)) && echo true || echo false)" \
		"$started" $(($(date +%s) - started)) "$(nproc)"
	printf '"fd_limit":%d,"lighttpd_conf":"%s","lighttpds":%d,"responder_db_pool":"%s","responder_threads":"%s","idle_note":"%s","loadavg_start":%s,"loadavg_end":%s,"failures":%d}\n' \
		"$fd_limit" "$lighttpd_limits" "${#lighttpd_pids[@]}" "${BENCH_DB_POOL:-default}" "${BENCH_THREADS:-default}" \
		"${idle_notes[*]}" "$load_start" "$(cut -d' ' -f1 /proc/loadavg)" "$failures"
} >"$out/runs/meta.json"
node "$bench/report.mjs" "$out/runs" "$out/results.json"
say "results in ${out#"$repo"/}/results.json ($(($(date +%s) - started)) s)"
((failures == 0)) || exit 1
