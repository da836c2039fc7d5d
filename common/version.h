/*
 * version: the release of this tree, in one place. `pollhub --version`, the
 * responder's "ready" log line and, through deploy/scripts/migrate.sh (which
 * reads the #define below from this file), SELECT pollhub.version() report it.
 * Bump it with CHANGELOG.md.
 */
#ifndef POLLHUB_VERSION_H
#define POLLHUB_VERSION_H

#define POLLHUB_VERSION "0.16.0"

#endif
