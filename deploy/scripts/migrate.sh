#!/usr/bin/env bash
# Applies sql/migrations/[0-9]*.sql (tables and data changes) in lexical order, each file
# exactly once, recording it in pollhub.schema_migrations; then, every time, every file
# of sql/functions/ (functions, triggers and views: one definition each, CREATE OR
# REPLACE) in file name order, in one transaction. Safe to run again: applied migrations
# are skipped and the functions are re-applied as they are in the tree.
#
#   migrate.sh                   migrate the database POLLHUB_DATABASE or PGDATABASE names
#   migrate.sh --db NAME         migrate NAME (an existing database)
#   migrate.sh --create-db NAME  first create NAME (via database `postgres`) if missing,
#                                then migrate NAME
#
# Connection: POLLHUB_DATABASE (a libpq conninfo, key=value or URI) if set, else libpq's
# PG* variables. The database must be named: dbname in POLLHUB_DATABASE, PGDATABASE, or
# --db / --create-db NAME. Without one it refuses and touches nothing, instead of falling
# back to libpq's default (a database named like the role, often `postgres`). Before any
# change it prints the database, host, port and role it is about to change.
# A file is the unit: its statements and the row recording it commit together or not at all.
# The release (common/version.h) is recorded as pollhub.version() (sql/functions/60_admin.sql).
set -euo pipefail

die() {
	echo "migrate.sh: $*" >&2
	exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
migrations=$repo/sql/migrations
functions=$repo/sql/functions

create_db=
named_db=
while (($# > 0)); do
	case $1 in
	--create-db | --db)
		[[ $# -ge 2 && -n $2 ]] || die "$1 needs a database name"
		if [[ $1 == --db ]]; then named_db=$2; else create_db=$2; fi
		shift 2
		;;
	-h | --help)
		echo "usage: $0 [--db NAME | --create-db NAME]"
		exit 0
		;;
	*) die "unknown argument: $1" ;;
	esac
done
[[ -z $create_db || -z $named_db ]] || die "--db and --create-db exclude each other"

# The release this tree is, written once in common/version.h.
version=$(sed -n 's/^#define POLLHUB_VERSION "\([^"]*\)"$/\1/p' "$repo/common/version.h")
[[ -n $version ]] || die "no POLLHUB_VERSION in $repo/common/version.h"

# Does the conninfo $1 name a database? key=value: a dbname keyword with a value; URI
# (postgres[ql]://[user@][host][:port][/dbname][?dbname=...]): a path or a dbname parameter.
conninfo_names_db() {
	local c=$1 rest
	if [[ $c == postgres://* || $c == postgresql://* ]]; then
		rest=${c#*://}
		[[ ${rest%%\?*} == */?* ]] && return 0
		[[ $rest == *\?* && "&${rest#*\?}" =~ \&dbname=[^\&] ]]
		return
	fi
	[[ $c =~ (^|[[:space:]])dbname[[:space:]]*=[[:space:]]*([^[:space:]\']|\'[^\']) ]]
}

# Refuse before connecting when nothing names the database: libpq would pick one.
if [[ -z $create_db && -z $named_db && -z ${PGDATABASE:-} ]] &&
	! { [[ -n ${POLLHUB_DATABASE:-} ]] && conninfo_names_db "$POLLHUB_DATABASE"; }; then
	if [[ -n ${POLLHUB_DATABASE:-} ]]; then
		# Not echoed: a conninfo may hold a password.
		where="POLLHUB_DATABASE has no dbname and PGDATABASE is not set"
	else
		where="neither POLLHUB_DATABASE nor PGDATABASE is set"
	fi
	die "no database named: $where; refusing to fall back to libpq's default database
(the one named like the role${PGUSER:+, $PGUSER}). Nothing was changed. Name it with one of:
  PGDATABASE=NAME                    e.g. export PGDATABASE=pollhub (make run's database)
  POLLHUB_DATABASE='... dbname=NAME' (a libpq conninfo)
  --db NAME                          migrate an existing database NAME
  --create-db NAME                   create NAME if missing, then migrate it"
fi

# Migration files are UTF-8 whatever the caller's locale; NOTICEs such as "already
# exists, skipping" are noise here.
export PGCLIENTENCODING=UTF8
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# conninfo for database $1: POLLHUB_DATABASE with dbname overridden (in key=value
# conninfo the last keyword wins), or PGDATABASE with the PG* variables.
target=()
target_db() {
	local db=$1
	target=()
	if [[ -n ${POLLHUB_DATABASE:-} ]]; then
		if [[ -z $db ]]; then
			target=("$POLLHUB_DATABASE")
		elif [[ $POLLHUB_DATABASE == postgres://* || $POLLHUB_DATABASE == postgresql://* ]]; then
			die "--db and --create-db need POLLHUB_DATABASE in key=value form, not a URI"
		else
			# conninfo quoting: single quotes, backslash-escape \ and '.
			db=${db//\\/\\\\}
			db=${db//\'/\\\'}
			target=("$POLLHUB_DATABASE dbname='$db'")
		fi
	elif [[ -n $db ]]; then
		export PGDATABASE=$db
	fi
}

psql_() {
	psql -X -q -v ON_ERROR_STOP=1 "$@" "${target[@]}"
}

# Says where the connection target_db set up lands, before anything changes: database,
# host (or socket directory), port, role, and how far that database is migrated. With
# --create-db it is connected to `postgres` and names the database it will create ($1).
say_target() {
	local sql lines
	# One value per line; psql quotes the name (:'name') where it goes into SQL.
	IFS= read -r -d '' sql <<'SQL' || true
SELECT current_database() AS db, current_user AS role,
       to_regclass('pollhub.schema_migrations') IS NOT NULL AS migrated,
       EXISTS (SELECT FROM pg_database WHERE datname = :'name') AS exists \gset
\if :migrated
SELECT 'at ' || coalesce(max(name), 'no migration') AS state FROM pollhub.schema_migrations \gset
\else
\set state 'no pollhub schema yet'
\endif
\echo :db
\echo :HOST
\echo :PORT
\echo :role
\echo :state
\echo :exists
SQL
	lines=$(psql_ -At -v name="$1" <<<"$sql") || die "cannot connect to PostgreSQL (psql's message above); nothing was changed"
	local -a v
	mapfile -t v <<<"$lines"
	local db=${v[0]} state=${v[4]}
	if [[ -n $1 ]]; then
		db=$1
		if [[ ${v[5]} == t ]]; then state="exists"; else state="to be created"; fi
	fi
	echo "migrate.sh: target: database \"$db\" on host ${v[1]} port ${v[2]} as role ${v[3]} ($state)"
}

if [[ -n $create_db ]]; then
	target_db postgres
	say_target "$create_db"
	# The name travels as a psql variable and is quoted by format(%I) / :'name':
	# never pasted into SQL text. CREATE DATABASE cannot run in a transaction block.
	psql_ -v name="$create_db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')
\gexec
SQL
	target_db "$create_db"
else
	target_db "$named_db"
	say_target ""
fi

# The bookkeeping table exists before any migration runs (the first one included).
psql_ <<'SQL'
CREATE SCHEMA IF NOT EXISTS pollhub;
CREATE TABLE IF NOT EXISTS pollhub.schema_migrations (
	name       text PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
);
SQL

declare -A applied=()
while IFS= read -r name; do
	[[ -n $name ]] && applied[$name]=1
done < <(psql_ -At -c 'SELECT name FROM pollhub.schema_migrations')

# Byte order (LC_ALL=C), not the locale's collation: 010 after 009, upper before lower.
mapfile -t files < <(find "$migrations" -maxdepth 1 -type f -name '[0-9]*.sql' -printf '%f\n' | LC_ALL=C sort)

for name in "${files[@]}"; do
	[[ -z ${applied[$name]:-} ]] || continue
	# One transaction (--single-transaction) around the file and the INSERT read from
	# stdin; the file name is a psql variable, quoted by :'name'.
	psql_ --single-transaction -v name="$name" -f "$migrations/$name" -f - <<'SQL' ||
INSERT INTO pollhub.schema_migrations (name) VALUES (:'name');
SQL
		die "$name failed; nothing of it was applied"
	echo "migrate.sh: applied $name"
done

# The code that runs is the code in the tree: every function file, every time, all of
# them or none (a file that fails rolls the others back and leaves the previous code).
mapfile -t fns < <(find "$functions" -maxdepth 1 -type f -name '[0-9]*.sql' | LC_ALL=C sort)
((${#fns[@]} > 0)) || die "no function files in $functions"
fargs=()
for f in "${fns[@]}"; do fargs+=(-f "$f"); done
# The version is a psql variable, quoted where 60_admin.sql uses it (:'pollhub_version').
psql_ --single-transaction -v pollhub_version="$version" "${fargs[@]}" ||
	die "sql/functions failed; the previous functions stay"
echo "migrate.sh: functions applied (${#fns[@]} files); SELECT pollhub.version() says $version"
