#!/usr/bin/env bash
# Installs what pollhub needs to build, run and (with --test) be tested, and nothing
# else. Idempotent and quiet when everything is already there, so `make run` and
# `make check` can call it every time.
#
#   install-deps.sh           Debian packages
#   install-deps.sh --test    ... plus clang for fuzzing and the npm packages of tests/
#   install-deps.sh --bench   ... plus nginx with nchan, the comparison in `make bench`
#                             (installed but never started nor enabled as a service)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

want_test=0
want_bench=0
for arg in "$@"; do
	case $arg in
	--test) want_test=1 ;;
	--bench) want_bench=1 ;;
	-h | --help)
		echo "usage: $0 [--test] [--bench]"
		exit 0
		;;
	*)
		echo "install-deps.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

packages=(build-essential libfcgi-dev libjson-c-dev libpq-dev libjwt-dev libssl-dev postgresql lighttpd
	apache2 libapache2-mod-fcgid nodejs npm)
# Tests also fuzz with clang's libFuzzer (its runtime is in libclang-rt-14-dev) and
# drive Debian's Chromium through playwright-core.
((want_test)) && packages+=(clang libclang-rt-14-dev chromium)
# The benchmark compares with nginx + nchan, started privately by tests/bench/run.sh.
((want_bench)) && packages+=(nginx libnginx-mod-nchan)

# A package counts as present when it is installed or provided by an installed one:
# NodeSource's nodejs provides npm, and Debian's npm package would conflict with it.
declare -A present=()
while IFS='|' read -r status name provides; do
	[[ $status == ii* ]] || continue
	present[$name]=1
	IFS=',' read -ra provided <<<"$provides"
	for p in "${provided[@]}"; do
		p=${p%%(*}           # drop a version: "npm (= 9.2)"
		p=${p//[[:space:]]/} # and the blanks around it
		[[ -n $p ]] && present[$p]=1
	done
done < <(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null)

missing=()
for p in "${packages[@]}"; do
	[[ -n ${present[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
	if ((EUID != 0)); then
		echo "install-deps.sh: missing Debian packages: ${missing[*]}" >&2
		echo "install them with:" >&2
		echo "  sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps.sh: installing ${missing[*]}"
	# Without systemd, the postgresql and lighttpd postinst scripts would try to start
	# their services; a policy-rc.d that exits 101 forbids that. Only remove it
	# afterwards if it was ours (containers often ship one already).
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# temporary, from pollhub install-deps.sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	# The postinst scripts of lighttpd, apache2 and nginx enable their services
	# (policy-rc.d only stops them starting now). pollhub runs its own web server, and the
	# benchmark its own nginx: none of the system ones may claim port 80 at boot. Only
	# the ones installed here are disabled; one that was already there is left alone.
	for svc in lighttpd apache2 nginx; do
		[[ " ${missing[*]} " == *" $svc "* ]] || continue
		if command -v systemctl >/dev/null 2>&1; then
			systemctl disable "$svc.service" >/dev/null 2>&1 || true
		fi
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
		echo "install-deps.sh: disabled the system $svc service at boot (pollhub starts its own)"
	done
fi

# npm packages: the demo page's browser libraries (served from deploy/www/node_modules)
# and, for tests, the clients. Reinstalled when package.json is newer than the install.
npm_install() {
	local dir=$1
	[[ -f $dir/package.json ]] || return 0
	if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package.json -nt $dir/node_modules/.package-lock.json ]]; then
		echo "install-deps.sh: installing npm packages in ${dir#"$repo"/}"
		(cd "$dir" && npm install --no-audit --no-fund)
	fi
}
npm_install "$repo/deploy/www"
((want_test)) && npm_install "$repo/tests"
exit 0
