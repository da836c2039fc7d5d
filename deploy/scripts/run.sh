#!/usr/bin/env bash
# What `make run` runs (after building build/pollhub): PostgreSQL, migrations, the
# responder on a unix socket and lighttpd in front of it, in the foreground.
# Ctrl-C / SIGTERM stops everything this script started and exits 0; if the responder
# or lighttpd dies, the other is stopped and the script exits 1 with their log tails.
#
# Environment:
#   PORT (8080), POLLHUB_BIND (127.0.0.1)   where lighttpd listens
#   POLLHUB_DATABASE    use this existing database (libpq conninfo) instead of the
#                       private cluster
#   POLLHUB_PGDIR       private cluster directory (default .run/pg, or a directory under
#                       /var/tmp when the postgres user cannot reach .run/ or the path is
#                       too long for a unix socket)
#   POLLHUB_RUNDIR      sockets, pid files and logs (default .run/ in the repository)
#   POLLHUB_BIN         the responder (default build/pollhub)
#   WEB                 web server; only `lighttpd` (the default) so far
# Other POLLHUB_* variables (POLLHUB_THREADS, POLLHUB_LOG_LEVEL, ...) reach the responder.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scripts=$repo/deploy/scripts

say() { echo "pollhub: $*"; }
die() {
	echo "pollhub: $*" >&2
	exit 1
}

web=${WEB:-lighttpd}
if [[ $web != lighttpd ]]; then
	echo "WEB=$web is not supported yet" >&2
	exit 2
fi

port=${PORT:-8080}
bind=${POLLHUB_BIND:-127.0.0.1}
hub_path=${POLLHUB_HUB_PATH:-/meetings}
docroot=$(realpath -m -- "${POLLHUB_DOCROOT:-$repo/deploy/www}")
bin=${POLLHUB_BIN:-$repo/build/pollhub}
[[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, not '$port'"
[[ -x $bin ]] || die "$bin is not an executable; build it with \`make\`"
command -v lighttpd >/dev/null || die "lighttpd not found; run deploy/scripts/install-deps.sh"

bash "$scripts/install-deps.sh"

host=$bind
[[ $host == *:* ]] && host="[$host]"
# Refuse early if something already answers there (curl: 7 refused, 28 no route), or
# lighttpd's readiness check further down would be talking to that other server.
rc=0
curl -s --noproxy "*" -o /dev/null --max-time 1 "http://$host:$port/" || rc=$?
((rc == 7 || rc == 28)) || die "something already listens on $host:$port; set PORT to another port"

rundir=$(realpath -m -- "${POLLHUB_RUNDIR:-$repo/.run}")
mkdir -p -- "$rundir"
sock=$rundir/pollhub.sock
pollhub_log=$rundir/pollhub.log
lighttpd_log=$rundir/lighttpd-error.log
lighttpd_out=$rundir/lighttpd.out
# Per-run logs (the access log keeps growing), so log tails show this run only.
: >"$pollhub_log"
: >"$lighttpd_log"
: >"$lighttpd_out"

pollhub_pid=
lighttpd_pid=
pg_dir=
pg_started=0

# Stop what we started, newest first, by pid; keep the exit status we were given.
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local rc=$? pid i
	trap - INT TERM HUP
	for pid in $lighttpd_pid $pollhub_pid; do
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -f -- "$sock"
	if ((pg_started)); then
		bash "$scripts/pg-private.sh" stop "$pg_dir" >/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

tail_logs() {
	local f
	for f in "$@"; do
		[[ -s $f ]] || continue
		echo "--- last lines of $f" >&2
		tail -n 20 -- "$f" >&2
	done
}

# --- database ---
if [[ -n ${POLLHUB_DATABASE:-} ]]; then
	db=$POLLHUB_DATABASE
	bash "$scripts/migrate.sh"
else
	# As root the cluster runs as `postgres`, which must reach it; and a unix socket
	# path has at most 107 bytes. Otherwise use a per-checkout directory in /var/tmp.
	pg_dir=${POLLHUB_PGDIR:-$rundir/pg}
	if [[ -z ${POLLHUB_PGDIR:-} ]]; then
		if { ((EUID == 0)) && ! runuser -u postgres -- test -x "$rundir"; } ||
			((${#pg_dir} > 70)); then
			pg_dir=/var/tmp/pollhub-$(id -u)-$(printf '%s' "$repo" | md5sum | cut -c1-8)
		fi
	fi
	pg_dir=$(realpath -m -- "$pg_dir")
	if ! bash "$scripts/pg-private.sh" status "$pg_dir"; then
		pg_started=1
		bash "$scripts/pg-private.sh" start "$pg_dir"
	fi
	eval "$(bash "$scripts/pg-private.sh" env "$pg_dir")"
	bash "$scripts/migrate.sh" --create-db pollhub
	# Quoted: a checkout path may contain blanks.
	db="host='$PGHOST' port=$PGPORT user=postgres dbname=pollhub"
fi

# --- responder ---
rm -f -- "$sock"
POLLHUB_SOCKET=$sock POLLHUB_DATABASE=$db "$bin" 2>>"$pollhub_log" &
pollhub_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -S $sock ]] && break
	if ! kill -0 "$pollhub_pid" 2>/dev/null; then
		tail_logs "$pollhub_log"
		die "$bin exited before creating $sock"
	fi
	sleep 0.1
done
if [[ ! -S $sock ]]; then
	tail_logs "$pollhub_log"
	die "$bin did not create $sock within 10 s"
fi

# --- web server ---
POLLHUB_PORT=$port POLLHUB_BIND=$bind POLLHUB_RUNDIR=$rundir POLLHUB_DOCROOT=$docroot \
	POLLHUB_FCGI_SOCKET=$sock POLLHUB_HUB_PATH=$hub_path \
	lighttpd -D -f "$repo/deploy/lighttpd/pollhub.conf" >>"$lighttpd_out" 2>&1 &
lighttpd_pid=$!
for ((i = 0; i < 50; i++)); do
	if ! kill -0 "$lighttpd_pid" 2>/dev/null; then
		tail_logs "$lighttpd_out" "$lighttpd_log"
		die "lighttpd exited at start"
	fi
	curl -s --noproxy "*" -o /dev/null --max-time 1 "http://$host:$port/" && break
	sleep 0.1
done
((i < 50)) || die "lighttpd does not answer on $host:$port"

say "serving http://$host:$port/ (hub at $hub_path); Ctrl-C stops"
say "logs: $pollhub_log $lighttpd_log $rundir/access.log"

# Until a signal (the trap exits 0) or one of the two children exits.
wait -n "$pollhub_pid" "$lighttpd_pid" || true
if ! kill -0 "$pollhub_pid" 2>/dev/null; then
	echo "pollhub: the responder exited" >&2
else
	echo "pollhub: lighttpd exited" >&2
fi
tail_logs "$pollhub_log" "$lighttpd_out" "$lighttpd_log"
exit 1
