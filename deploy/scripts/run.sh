#!/usr/bin/env bash
# What `make run` runs (after building build/pollhub): PostgreSQL, migrations, the
# responder on a unix socket and a web server in front of it (lighttpd, or Apache with
# mod_proxy_fcgi), in the foreground.
# Ctrl-C, SIGTERM or SIGHUP, to this script or to its whole process group, once or more,
# stops everything this script started and exits 0; if the responder or the web server
# dies, the other is stopped and the script exits 1 with their log tails.
#
# Environment:
#   PORT (8080), POLLHUB_BIND (127.0.0.1)   where the web server listens
#   POLLHUB_DATABASE    use this existing database (libpq conninfo) instead of the
#                       private cluster
#   POLLHUB_PGDIR       private cluster directory (default .run/pg, or a directory under
#                       /var/tmp when the postgres user cannot reach .run/ or the path is
#                       too long for a unix socket)
#   POLLHUB_RUNDIR      sockets, pid files and logs (default .run/ in the repository)
#   POLLHUB_DOCROOT     the static files served at / (default deploy/www)
#   POLLHUB_BIN         the responder (default build/pollhub)
#   WEB                 web server: `lighttpd` (the default) or `apache`
#                       (deploy/lighttpd/pollhub.conf or deploy/apache/pollhub.conf)
#   POLLHUB_LIGHTTPD_MAX_FDS  lighttpd's server.max-fds (default: the hard descriptor
#                       limit, `ulimit -Hn`, at most 65535; server.max-connections is half
#                       of it: deploy/lighttpd/limits.sh)
#   POLLHUB_AUTH        the responder's identity mode: none (default), web-server or jwt
#                       (with POLLHUB_JWT_*, POLLHUB_TRUSTED_PROXIES: they reach the responder)
#   POLLHUB_HTPASSWD    with POLLHUB_AUTH=web-server: an htpasswd file (bcrypt, htpasswd -B);
#                       the web server then asks for a user from it for the whole site (page
#                       and hub) and passes it to the responder as REMOTE_USER
#                       (deploy/lighttpd/auth.sh; deploy/apache/pollhub.conf, -DPOLLHUB_BASIC_AUTH)
#   POLLHUB_WEB_AUTH    `external`: POLLHUB_AUTH=web-server without POLLHUB_HTPASSWD, because
#                       the web server's authentication is configured by other means (an
#                       edited configuration); without it, that combination is refused, as
#                       every request would be 401
# Every held client costs descriptors (two of lighttpd's, one of the responder's), so the
# responder and the web server run with the soft descriptor limit raised to the hard one.
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
case $web in
lighttpd | apache) ;;
*)
	echo "WEB must be lighttpd or apache, not '$web'" >&2
	exit 2
	;;
esac

port=${PORT:-8080}
bind=${POLLHUB_BIND:-127.0.0.1}
# Hubs are rows of pollhub.hubs now; the web servers serve every hub's path.
[[ -z ${POLLHUB_HUB_PATH:-} ]] ||
	echo "pollhub: POLLHUB_HUB_PATH is ignored: each hub's path is in pollhub.hubs (README, \"Hubs in SQL\")" >&2
docroot=$(realpath -m -- "${POLLHUB_DOCROOT:-$repo/deploy/www}")
bin=${POLLHUB_BIN:-$repo/build/pollhub}
[[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, not '$port'"
[[ -x $bin ]] || die "$bin is not an executable; build it with \`make\`"

# --- authentication in the web server (docs/AUTH-WEBSERVER.md), checked before anything starts
auth=${POLLHUB_AUTH:-none}
htpasswd=${POLLHUB_HTPASSWD:-}
web_auth=${POLLHUB_WEB_AUTH:-}
case $auth in
none | web-server | jwt) ;;
*) die "POLLHUB_AUTH must be none, web-server or jwt, not '$auth'" ;;
esac
case $web_auth in
'' | external) ;;
*) die "POLLHUB_WEB_AUTH must be empty or 'external', not '$web_auth'" ;;
esac
if [[ $auth == web-server && -z $htpasswd && $web_auth != external ]]; then
	die "POLLHUB_AUTH=web-server needs POLLHUB_HTPASSWD=FILE, an htpasswd file (htpasswd -cB FILE USER),
  for the web server to ask for a user: without it every request would be 401. If its
  authentication is configured by other means, say so with POLLHUB_WEB_AUTH=external."
fi
if [[ -n $htpasswd ]]; then
	[[ $auth == web-server ]] ||
		die "POLLHUB_HTPASSWD is set but POLLHUB_AUTH is '$auth': the user would not reach the hub; set POLLHUB_AUTH=web-server"
	[[ $web_auth != external ]] || die "POLLHUB_HTPASSWD and POLLHUB_WEB_AUTH=external contradict each other: choose one"
	htpasswd=$(realpath -m -- "$htpasswd")
	[[ -f $htpasswd && -r $htpasswd ]] || die "POLLHUB_HTPASSWD: cannot read the file $htpasswd"
	[[ $htpasswd != *[\"\\]* ]] || die "POLLHUB_HTPASSWD must not contain a double quote or a backslash: $htpasswd"
	# Apache's workers read it at each request, as www-data when started as root.
	if [[ $web == apache ]] && ((EUID == 0)) && ! runuser -u www-data -- test -r "$htpasswd"; then
		die "POLLHUB_HTPASSWD: www-data, as which Apache serves, cannot read $htpasswd (make it and every directory above it readable, e.g. chmod 644)"
	fi
	# Entries neither server accepts: plain text (htpasswd -p) or an unknown scheme. Both read
	# bcrypt ($2y$, -B), apr1 ($apr1$, -m), SHA-1 ({SHA}, -s), SHA-256/512 crypt ($5$, $6$)
	# and DES crypt (13 characters, -d); only bcrypt and the crypt ones are strong.
	bad=$(awk -F: '/^[[:space:]]*(#|$)/ { next }
		{ h = substr($0, length($1) + 2) }
		h !~ /^(\$2[aby]\$|\$apr1\$|\{SHA\}|\$5\$|\$6\$)/ && !(length(h) == 13 && h ~ /^[.\/0-9A-Za-z]+$/) { print $1 }' "$htpasswd" | paste -sd, -)
	[[ -z $bad ]] || die "POLLHUB_HTPASSWD $htpasswd: the password of $bad is in plain text or a format neither lighttpd nor Apache reads; set it again with htpasswd -B $htpasswd USER"
	grep -q . "$htpasswd" || die "POLLHUB_HTPASSWD $htpasswd has no user; add one with htpasswd -B $htpasswd USER"
fi

bash "$scripts/install-deps.sh"

if [[ $web == lighttpd ]]; then
	web_bin=$(command -v lighttpd) || die "lighttpd not found; run deploy/scripts/install-deps.sh"
else
	# Debian's apache2 is in /usr/sbin, which is not in every user's PATH.
	web_bin=$(PATH=$PATH:/usr/sbin command -v apache2) ||
		die "apache2 not found; run deploy/scripts/install-deps.sh"
fi

host=$bind
[[ $host == *:* ]] && host="[$host]"
# Refuse early if something already answers there (curl: 7 refused, 28 no route), or
# the web server's readiness check further down would be talking to that other server.
rc=0
curl -s --noproxy "*" -o /dev/null --max-time 1 "http://$host:$port/" || rc=$?
((rc == 7 || rc == 28)) || die "something already listens on $host:$port; set PORT to another port"

# The children inherit it (see the header). A hard limit of "unlimited" cannot be the soft
# one (the kernel's nr_open caps it): then the soft limit stays as it is.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

rundir=$(realpath -m -- "${POLLHUB_RUNDIR:-$repo/.run}")
mkdir -p -- "$rundir"

# Per-checkout directories outside it, for when it cannot be used (below).
outside=/var/tmp/pollhub-$(id -u)-$(printf '%s' "$repo" | md5sum | cut -c1-8)
# The private cluster's directory for run directory $1: POLLHUB_PGDIR, else $1/pg. As root
# the cluster runs as `postgres`, which must reach it, and a unix socket path has at most
# 107 bytes: otherwise $outside.
pg_dir_for() {
	local d=${POLLHUB_PGDIR:-$1/pg}
	if [[ -z ${POLLHUB_PGDIR:-} ]]; then
		if { ((EUID == 0)) && ! runuser -u postgres -- test -x "$1"; } || ((${#d} > 70)); then
			d=$outside
		fi
	fi
	realpath -m -- "$d"
}

# Started as root, Apache serves as www-data, which must reach the responder's socket
# (mode 0666) through every directory above it and read the docroot: not so in a
# checkout under a 0700 directory such as /root. Checked before anything is started
# or created (a cluster included), and said once, with every variable to set.
if [[ $web == apache ]] && ((EUID == 0)); then
	problems=() fix=()
	if ! runuser -u www-data -- test -x "$rundir"; then
		problems+=("  - the run directory $rundir (the responder's socket): set POLLHUB_RUNDIR to a directory www-data can enter")
		fix+=("POLLHUB_RUNDIR=$outside-run")
		# The cluster stays where runs with this run directory (lighttpd's) have it.
		[[ -n ${POLLHUB_PGDIR:-} || -n ${POLLHUB_DATABASE:-} ]] || fix+=("POLLHUB_PGDIR=$(pg_dir_for "$rundir")")
	fi
	if ! runuser -u www-data -- test -r "$docroot" -a -x "$docroot"; then
		problems+=("  - the docroot $docroot: set POLLHUB_DOCROOT to a copy www-data can read")
		fix=("cp -a '$docroot' $outside-www &&" "${fix[@]}" "POLLHUB_DOCROOT=$outside-www")
	fi
	if ((${#problems[@]} > 0)); then
		if [[ -n ${POLLHUB_DATABASE:-} ]]; then
			pg_note="no private PostgreSQL: POLLHUB_DATABASE is used"
		else
			pg_note="the private PostgreSQL cluster will be in $(pg_dir_for "$rundir")"
		fi
		printf 'pollhub: started as root, Apache serves as www-data, which cannot reach (a directory above it is not searchable by www-data):\n%s\n' \
			"$(printf '%s\n' "${problems[@]}")" >&2
		printf 'Nothing was started, no cluster created. For example (%s):\n  %s WEB=apache make run\n' \
			"$pg_note" "${fix[*]}" >&2
		exit 1
	fi
fi
sock=$rundir/pollhub.sock
pollhub_log=$rundir/pollhub.log
web_log=$rundir/$web-error.log
web_out=$rundir/$web.out
# The logs are appended to (a restart after a crash keeps the evidence), each
# run after a separator line naming its start; log tails show this run only.
run_mark="=== pollhub run started $(date -u +%Y-%m-%dT%H:%M:%SZ) (pid $$) ==="
for f in "$pollhub_log" "$web_log" "$web_out"; do
	printf '%s\n' "$run_mark" >>"$f"
done

pollhub_pid=
web_pid=
pg_dir=
pg_started=0

# SIGTERM, then SIGKILL after 10 s; returns 1 if it took SIGKILL.
# shellcheck disable=SC2317 # called from cleanup
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

# Stop what we started, by pid, and exit with the given status. The responder goes first:
# that ends the requests it holds, and Apache stops at once only when none of its
# workers waits for one (otherwise its parent needs about ten seconds to kill the child).
# Further INT/TERM/HUP are ignored from the first line on (`trap -` would let the second
# of two, a Ctrl-C pressed twice or make forwarding the SIGTERM its whole process group
# got, end this halfway and leave the web server running). Every step may run again: a
# signal that still lands before that first line runs on_signal, which starts over.
# shellcheck disable=SC2317 # called through the traps
cleanup() {
	trap '' INT TERM HUP
	local rc=$1 pid children
	if [[ -n $pollhub_pid ]]; then
		stop_pid "$pollhub_pid" || true
		pollhub_pid=
	fi
	# Apache's parent stops its children on SIGTERM; only if it has to be killed are
	# they killed too (listed first, while they are still its children).
	if [[ -n $web_pid ]]; then
		children=$(ps -o pid= --ppid "$web_pid" 2>/dev/null || true)
		if ! stop_pid "$web_pid"; then
			for pid in $children; do
				kill -KILL "$pid" 2>/dev/null || true
			done
		fi
		web_pid=
	fi
	rm -f -- "$sock"
	if ((pg_started)); then
		bash "$scripts/pg-private.sh" stop "$pg_dir" >/dev/null || true
		pg_started=0
	fi
	exit "$rc"
}
# shellcheck disable=SC2317 # called through the traps
on_signal() {
	trap '' INT TERM HUP
	cleanup 0
}
trap 'cleanup $?' EXIT
trap on_signal INT TERM HUP

tail_logs() {
	local f
	for f in "$@"; do
		[[ -s $f ]] || continue
		echo "--- last lines of $f" >&2
		# From this run's separator on.
		awk -v m="$run_mark" '$0 == m { n = 0; next } { l[n++] = $0 }
			END { for (i = (n > 20 ? n - 20 : 0); i < n; i++) print l[i] }' "$f" >&2
	done
}

# --- database ---
if [[ -n ${POLLHUB_DATABASE:-} ]]; then
	db=$POLLHUB_DATABASE
	bash "$scripts/migrate.sh"
else
	pg_dir=$(pg_dir_for "$rundir")
	if ! bash "$scripts/pg-private.sh" status "$pg_dir"; then
		pg_started=1
		bash "$scripts/pg-private.sh" start "$pg_dir"
	fi
	eval "$(bash "$scripts/pg-private.sh" env "$pg_dir")"
	bash "$scripts/migrate.sh" --create-db pollhub
	# Quoted: a checkout path may contain blanks.
	# The responder connects as the least-privilege role of 007_admin.sql.
	db="host='$PGHOST' port=$PGPORT user=pollhub_app dbname=pollhub"
fi

# --- responder ---
# The children run in sessions of their own (setsid execs in place: same pid), so a
# signal to our process group (a terminal's Ctrl-C, a service manager, `timeout`)
# reaches this script only, which stops them in order. Were they in our process group,
# a responder that exits on that signal would end `wait -n` before the trap could run,
# and this script would report it as a crash. (Started with `&`, they start with SIGINT
# ignored; cleanup stops them with SIGTERM.)
rm -f -- "$sock"
POLLHUB_SOCKET=$sock POLLHUB_DATABASE=$db setsid "$bin" 2>>"$pollhub_log" &
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
if [[ $web == lighttpd ]]; then
	web_cmd=("$web_bin" -D -f "$repo/deploy/lighttpd/pollhub.conf")
	web_bind=$bind
else
	# www-data's access to the run directory and the docroot was checked at the start.
	web_cmd=("$web_bin" -f "$repo/deploy/apache/pollhub.conf" -DFOREGROUND)
	# Apache's Listen wants an IPv6 address in brackets.
	web_bind=$bind
	[[ $web_bind == *:* && $web_bind != \[* ]] && web_bind="[$web_bind]"
fi
# Basic authentication from POLLHUB_HTPASSWD: lighttpd's auth.sh prints it when the
# variable is set; Apache's block is enabled by the define.
if [[ -n $htpasswd ]]; then
	[[ $web == apache ]] && web_cmd+=(-DPOLLHUB_BASIC_AUTH)
fi
POLLHUB_PORT=$port POLLHUB_BIND=$web_bind POLLHUB_RUNDIR=$rundir POLLHUB_DOCROOT=$docroot \
	POLLHUB_FCGI_SOCKET=$sock POLLHUB_HTPASSWD=$htpasswd \
	setsid "${web_cmd[@]}" >>"$web_out" 2>&1 &
web_pid=$!
for ((i = 0; i < 50; i++)); do
	if ! kill -0 "$web_pid" 2>/dev/null; then
		tail_logs "$web_out" "$web_log"
		die "$web exited at start"
	fi
	curl -s --noproxy "*" -o /dev/null --max-time 1 "http://$host:$port/" && break
	sleep 0.1
done
((i < 50)) || die "$web does not answer on $host:$port"

# Said before "serving", which is what a reader of this output (and the tests) waits for.
if [[ -n $htpasswd ]]; then
	say "basic authentication for the whole site from $htpasswd; the hub gets the user (POLLHUB_AUTH=web-server)"
elif [[ $auth != none ]]; then
	say "POLLHUB_AUTH=$auth${web_auth:+ (web server authentication: $web_auth)}"
fi
# With an identity, users open only the calendars granted to them: say how, once none is.
if [[ $auth != none ]]; then
	admin=(psql -X -d pollhub)
	[[ -n ${POLLHUB_DATABASE:-} ]] && admin=(psql -X "<an administrator's conninfo>")
	n=$("${admin[@]}" -Atq -c 'SELECT count(*) FROM pollhub.grants' 2>/dev/null) || n=unknown
	if [[ $n == 0 ]]; then
		say "no calendar is granted yet: every negotiate is 403 until one is (README,"
		say "\"Authentication and calendars\"), e.g.:"
		printf '  %s -c "SELECT pollhub.grant_group(%s, %s, %s)"\n' \
			"$( [[ -n ${PGHOST:-} ]] && printf 'PGHOST=%q PGPORT=%q PGUSER=%q ' "$PGHOST" "$PGPORT" "${PGUSER:-}")${admin[*]}" \
			"'alice'" "'team'" "'write'"
	fi
fi
hubs=$(psql -X -d pollhub -Atq -c "SELECT string_agg(path || ' (' || name || ')', ', ' ORDER BY path) FROM pollhub.hubs" 2>/dev/null) ||
	hubs="those in pollhub.hubs"
say "serving http://$host:$port/ with $web (hubs: $hubs); Ctrl-C stops"
limits="descriptor limit $(ulimit -n) per process"
if [[ $web == lighttpd ]]; then
	# What pollhub.conf's include_shell gave lighttpd: "max-fds N, max-connections N/2".
	lt=$(cd "$repo/deploy/lighttpd" && sh limits.sh |
		awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), substr($1, 8), $3 }') || lt="limits unknown"
	limits+="; lighttpd $lt"
fi
say "$limits"
say "logs: $pollhub_log $web_log $rundir/access.log"

# Until a signal (on_signal exits 0) or one of the two children exits.
wait -n "$pollhub_pid" "$web_pid" || true
if ! kill -0 "$pollhub_pid" 2>/dev/null; then
	echo "pollhub: the responder exited" >&2
else
	echo "pollhub: $web exited" >&2
fi
tail_logs "$pollhub_log" "$web_out" "$web_log"
exit 1
