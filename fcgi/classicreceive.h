/*
 * classicreceive: the receive requests of classic (SignalR 2.x) connections:
 * long polls (/poll and /reconnect) and server-sent event streams (/connect
 * and /reconnect). Each reads the group's outbox after the client's message
 * id (classicstore_drain), waits on the LISTEN dispatcher, and answers
 * persistent responses (common/classicproto.h).
 */
#ifndef POLLHUB_CLASSICRECEIVE_H
#define POLLHUB_CLASSICRECEIVE_H

#include <libpq-fe.h>

#include "classicrequest.h"

/* Answer at once when pushes after cursor exist, else hold until one
 * arrives, a newer receive request supersedes this one, or the poll timeout;
 * the answer's C is where the client goes on. */
void	classic_long_poll(struct classic_request *, long long cursor);
/* Stream from cursor until the client leaves, a newer receive request or a
 * restart ends it; initializing: /connect (the S:1 frame first). The
 * connection stays (the client reconnects with its cursor). db: a pool
 * connection the caller took (released here, before anything is written),
 * or NULL: one is acquired. */
void	classic_stream(struct classic_request *, PGconn *db, long long cursor,
	    int initializing);

#endif
