#!/bin/sh
# Prints pollhub.conf's fastcgi.server block (lighttpd runs this through include_shell,
# from this directory). POLLHUB_FCGI_SOCKET holds one socket path or several separated
# by spaces: several responders, which lighttpd round-robins between. Any request of any
# connection may go to any responder (their state is in PostgreSQL): no stickiness.
# Socket paths must not contain spaces or double quotes.
set -eu
: "${POLLHUB_FCGI_SOCKET:?POLLHUB_FCGI_SOCKET is not set}"
: "${POLLHUB_HUB_PATH:?POLLHUB_HUB_PATH is not set}"
n=0
for s in $POLLHUB_FCGI_SOCKET; do n=$((n + 1)); done
if [ "$n" -gt 1 ]; then
	echo 'fastcgi.balance = "round-robin"'
fi
# fastcgi.server matches a path prefix: /meetings.js would go to the hub too. The
# condition narrows it to the hub and what is below it (<hub>/negotiate).
re=$(printf '%s' "$POLLHUB_HUB_PATH" | sed 's/[].[\\*^$()+?{}|]/\\\\&/g')
echo "\$HTTP[\"url\"] =~ \"^$re(/|\$)\" {"
echo 'fastcgi.server = ('
echo "	\"$POLLHUB_HUB_PATH\" => ("
for s in $POLLHUB_FCGI_SOCKET; do
	# disable-time 1: a responder that is down (restarting) is retried after 1 s.
	echo "		( \"socket\" => \"$s\", \"check-local\" => \"disable\", \"read-timeout\" => 0, \"disable-time\" => 1 ),"
done
echo '	),'
echo ')'
echo '}'
