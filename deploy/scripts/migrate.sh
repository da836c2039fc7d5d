#!/usr/bin/env bash
# Applies sql/migrations/[0-9]*.sql (tables and data changes) in lexical order, each file
# exactly once, recording it in pollhub.schema_migrations; then, every time, every file
# of sql/functions/ (functions, triggers and views: one definition each, CREATE OR
# REPLACE) in file name order, in one transaction. Safe to run again: applied migrations
# are skipped and the functions are re-applied as they are in the tree.
#
#   migrate.sh                   migrate the database named by POLLHUB_DATABASE / PG*
#   migrate.sh --create-db NAME  first create NAME (via database `postgres`) if missing,
#                                then migrate NAME
#
# Connection: POLLHUB_DATABASE (a libpq conninfo) if set, else libpq's PG* variables.
# A file is the unit: its statements and the row recording it commit together or not at all.
set -euo pipefail

die() {
	echo "migrate.sh: $*" >&2
	exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
migrations=$repo/sql/migrations
functions=$repo/sql/functions

create_db=
while (($# > 0)); do
	case $1 in
	--create-db)
		[[ $# -ge 2 && -n $2 ]] || die "--create-db needs a database name"
		create_db=$2
		shift 2
		;;
	-h | --help)
		echo "usage: $0 [--create-db NAME]"
		exit 0
		;;
	*) die "unknown argument: $1" ;;
	esac
done

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
			die "--create-db needs POLLHUB_DATABASE in key=value form, not a URI"
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

if [[ -n $create_db ]]; then
	target_db postgres
	# The name travels as a psql variable and is quoted by format(%I) / :'name':
	# never pasted into SQL text. CREATE DATABASE cannot run in a transaction block.
	psql_ -v name="$create_db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')
\gexec
SQL
	target_db "$create_db"
else
	target_db ""
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
psql_ --single-transaction "${fargs[@]}" || die "sql/functions failed; the previous functions stay"
echo "migrate.sh: functions applied (${#fns[@]} files)"
