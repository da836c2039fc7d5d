#!/bin/sh
# Prints pollhub.conf's fastcgi.server block (lighttpd runs this through include_shell,
# from this directory). POLLHUB_FCGI_SOCKET holds one socket path or several separated
# by spaces: several responders, which lighttpd round-robins between. Any request of any
# connection may go to any responder (their state is in PostgreSQL): no stickiness.
# Socket paths must not contain spaces or double quotes.
set -eu
: "${POLLHUB_FCGI_SOCKET:?POLLHUB_FCGI_SOCKET is not set}"
n=0
for s in $POLLHUB_FCGI_SOCKET; do n=$((n + 1)); done
if [ "$n" -gt 1 ]; then
	echo 'fastcgi.balance = "round-robin"'
fi
# Every hub's endpoints, whichever hubs pollhub.hubs holds (a hub added in psql is served
# at once): one path segment, which names the hub (/meetings, /products), alone or with
# an endpoint of either protocol after it. The demo's files all have a dot in their name,
# so none of them matches; node_modules/ is below a directory.
echo '$HTTP["url"] =~ "^/[A-Za-z0-9_-]+(/(negotiate|connect|reconnect|poll|start|send|abort|ping))?$" {'
echo 'fastcgi.server = ('
echo '	"/" => ('
for s in $POLLHUB_FCGI_SOCKET; do
	# disable-time 1: a responder that is down (restarting) is retried after 1 s.
	echo "		( \"socket\" => \"$s\", \"check-local\" => \"disable\", \"read-timeout\" => 0, \"disable-time\" => 1 ),"
done
echo '	),'
echo ')'
echo '}'
