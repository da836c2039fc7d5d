#!/bin/sh
# Prints pollhub.conf's HTTP basic authentication block (lighttpd runs this through
# include_shell, from this directory) when POLLHUB_HTPASSWD names an htpasswd file, and
# nothing when it is unset or empty. The whole site then asks for a user: the page and the
# hub, so a browser asks once, when the page loads, and sends the same credentials with
# every hub request. lighttpd's mod_auth sets REMOTE_USER for the responder
# (POLLHUB_AUTH=web-server).
#
# The file is read by lighttpd at each request (changes apply at once), as the user
# lighttpd runs as. Hash formats lighttpd 1.4.69 accepts: bcrypt (htpasswd -B, "$2y$"),
# apr1 MD5 (-m, "$apr1$"), SHA-1 (-s, "{SHA}"), SHA-256/512 crypt (-2, -5: "$5$", "$6$")
# and DES crypt (-d); not plain text (-p). Use -B: Apache accepts it too
# (docs/AUTH-WEBSERVER.md).
set -eu
f=${POLLHUB_HTPASSWD:-}
[ -n "$f" ] || exit 0
case $f in
/*) ;;
*)
	echo "auth.sh: POLLHUB_HTPASSWD must be an absolute path, not '$f'" >&2
	exit 1
	;;
esac
# Written into a lighttpd string below.
case $f in
*'"'* | *\\*)
	echo "auth.sh: POLLHUB_HTPASSWD must not contain a double quote or a backslash: '$f'" >&2
	exit 1
	;;
esac
if [ ! -f "$f" ] || [ ! -r "$f" ]; then
	echo "auth.sh: POLLHUB_HTPASSWD $f is not a readable file" >&2
	exit 1
fi
# Before mod_fastcgi (pollhub.conf adds it after this block): modules handle a request in
# the order they are listed, and the hub must not be served before mod_auth has checked.
echo 'server.modules += ( "mod_auth", "mod_authn_file" )'
echo 'auth.backend = "htpasswd"'
echo "auth.backend.htpasswd.userfile = \"$f\""
# "/" is a path prefix: every URL, static files and hub alike.
echo 'auth.require = ( "/" => ( "method" => "basic", "realm" => "pollhub", "require" => "valid-user" ) )'
