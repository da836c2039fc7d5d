#!/usr/bin/env bash
# A private PostgreSQL cluster for `make run` and the tests: data in DIR/data, log in
# DIR/postgres.log, a unix socket in DIR/sock and no TCP at all, so it never clashes
# with a system PostgreSQL or another checkout. Reused between runs.
#
#   pg-private.sh start DIR    create (initdb) if absent, start if not running
#   pg-private.sh stop DIR     stop it (fast shutdown) if running
#   pg-private.sh status DIR   exit 0 if running
#   pg-private.sh env DIR [DB] print `export PGHOST=... PGPORT=... PGUSER=postgres
#                              PGDATABASE=DB` for eval; DB defaults to pollhub, the
#                              database `make run` serves (README: Administering with psql)
#
# PGPORT_PRIVATE (default 5432, or the port the cluster was created with) only names the
# socket file (DIR/sock/.s.PGSQL.PORT). initdb and postgres refuse to run as root, so as
# root the cluster belongs to the `postgres` user and is driven through runuser.
set -euo pipefail

die() {
	echo "pg-private.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop|status DIR | env DIR [DATABASE]" >&2
	exit 2
}

(($# == 2)) || [[ $# == 3 && $1 == env && -n $3 ]] || usage
cmd=$1
[[ -n $2 ]] || usage
case $cmd in
start) mkdir -p -- "$2" ;;
stop | status | env) ;;
*) usage ;;
esac
# Absolute, because the path ends up in postgresql.conf and in PGHOST.
dir=$(realpath -m -- "$2")
# runuser'd programs start in our cwd, which postgres may not be allowed to enter.
cd /
data=$dir/data
sock=$dir/sock
log=$dir/postgres.log
# Our settings live in their own file, included from postgresql.conf.
conf=$data/pollhub.conf

# The port the cluster was started with, so `env` and a later `start` agree with it.
port_of_cluster() {
	[[ -r $conf ]] && sed -n "s/^port = \([0-9][0-9]*\)\$/\1/p" "$conf"
	return 0
}

find_bindir() {
	local d
	# pg_config belongs to libpq-dev and may name a version whose server is absent.
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
			echo "$d"
			return
		fi
	fi
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb ]] || die "no PostgreSQL server binaries (initdb) found; run deploy/scripts/install-deps.sh"
	echo "$d"
}

# Run a PostgreSQL program as the cluster's owner.
as_owner() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

is_running() {
	[[ -f $data/PG_VERSION ]] || return 1
	as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1
}

if [[ $cmd == env ]]; then
	port=${PGPORT_PRIVATE:-$(port_of_cluster)}
	printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres PGDATABASE=%q\n' "$sock" "${port:-5432}" "${3:-pollhub}"
	exit 0
fi

bindir=$(find_bindir)

case $cmd in
status)
	is_running
	exit
	;;
stop)
	if is_running; then
		as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w >/dev/null
		echo "pg-private.sh: stopped $data"
	fi
	exit 0
	;;
esac

# --- start ---
if is_running; then
	exit 0
fi

port=${PGPORT_PRIVATE:-$(port_of_cluster)}
port=${port:-5432}
[[ $port =~ ^[0-9]+$ ]] || die "PGPORT_PRIVATE must be a number, not '$port'"
# sun_path holds 107 bytes; postgres would fail later with a less clear message.
socket_file=$sock/.s.PGSQL.$port
((${#socket_file} < 100)) ||
	die "socket path too long (${#socket_file} bytes): $socket_file; use a shorter DIR (e.g. POLLHUB_PGDIR=/var/tmp/pollhub-pg)"

if ((EUID == 0)); then
	id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian package postgresql)"
	# postgres must reach DIR through every parent directory (not so under /root).
	runuser -u postgres -- test -x "$dir" ||
		die "user postgres cannot reach $dir (a parent directory is not searchable); choose another directory, e.g. POLLHUB_PGDIR=/var/tmp/pollhub-pg"
fi

# The socket directory is shared: root, postgres and the test user all connect through it.
mkdir -p -- "$sock"
chmod 1777 "$sock"

if [[ ! -f $data/PG_VERSION ]]; then
	mkdir -p -- "$data"
	chmod 700 "$data"
	((EUID == 0)) && chown postgres:postgres "$data"
	# Trust is acceptable: the only way in is the socket in DIR/sock; no TCP listener.
	as_owner "$bindir/initdb" -D "$data" --auth=trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		die "initdb failed; see $dir/initdb.log"
	echo "include_if_exists = 'pollhub.conf'" >>"$data/postgresql.conf"
	echo "pg-private.sh: created cluster in $data"
fi

# Rewritten on every start so a changed PGPORT_PRIVATE takes effect. fsync stays on
# (the default): the cluster is reused and should survive a crash.
tmp=$(mktemp)
cat >"$tmp" <<EOF
# written by deploy/scripts/pg-private.sh on every start
listen_addresses = ''
unix_socket_directories = '$sock'
unix_socket_permissions = 0777
port = $port
max_connections = 200
EOF
install -m 600 "$tmp" "$conf"
rm -f "$tmp"
if ((EUID == 0)); then
	chown postgres:postgres "$conf"
	# pg_ctl writes the log as postgres.
	touch "$log"
	chown postgres:postgres "$log"
fi

if ! as_owner "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null; then
	echo "pg-private.sh: PostgreSQL did not start; last lines of $log:" >&2
	tail -n 20 "$log" >&2 || true
	exit 1
fi
echo "pg-private.sh: PostgreSQL running, socket $socket_file"
