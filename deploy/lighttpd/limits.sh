#!/bin/sh
# Prints pollhub.conf's descriptor limits (lighttpd runs this through include_shell, from
# this directory, with its own environment and resource limits):
#
#   server.max-fds         = POLLHUB_LIGHTTPD_MAX_FDS, or else the hard descriptor limit
#                            (ulimit -Hn) lighttpd runs under, at most 65535
#   server.max-connections = half of it
#
# Every held long poll or event stream is two of lighttpd's descriptors: the client's
# socket and the one to the responder. lighttpd raises its own soft limit to max-fds (up
# to the hard limit; only a process allowed to raise the hard limit gets more, otherwise
# lighttpd logs "setrlimit(): Operation not permitted" and keeps its soft limit), refuses
# more connections than half its descriptors, and reads both options as 16-bit numbers
# (1.4.69: "got a string but expected a short" above 65535).
set -eu
cap=65535
if [ -n "${POLLHUB_LIGHTTPD_MAX_FDS:-}" ]; then
	fds=$POLLHUB_LIGHTTPD_MAX_FDS
	case $fds in
	*[!0-9]* | 0*)
		echo "limits.sh: POLLHUB_LIGHTTPD_MAX_FDS must be a number from 64 to $cap, not '$fds'" >&2
		exit 1
		;;
	esac
	if [ "${#fds}" -gt 5 ] || [ "$fds" -lt 64 ] || [ "$fds" -gt "$cap" ]; then
		echo "limits.sh: POLLHUB_LIGHTTPD_MAX_FDS must be a number from 64 to $cap, not '$fds'" >&2
		exit 1
	fi
else
	# Not POSIX, but every sh lighttpd runs on has it (dash, bash, busybox).
	# shellcheck disable=SC3045
	fds=$(ulimit -Hn)
	case $fds in
	'' | *[!0-9]*) fds=$cap ;;	# "unlimited"
	esac
	# Compared as text first: a limit of 2^31 or more is still just "too large".
	if [ "${#fds}" -gt 5 ] || [ "$fds" -gt "$cap" ]; then
		fds=$cap
	fi
fi
echo "server.max-fds = $fds"
echo "server.max-connections = $((fds / 2))"
