/*
 * classicstore: the queries of classic (ASP.NET SignalR 2.x) connections,
 * over sql/migrations/008_classic.sql. Kept beside store.c, which holds the
 * Core connections' queries and the pool: same rules (parameters only, every
 * result checked and cleared, SQL failures logged and mapped to
 * enum store_status here).
 */
#ifndef POLLHUB_CLASSICSTORE_H
#define POLLHUB_CLASSICSTORE_H

#include <libpq-fe.h>

#include "buf.h"
#include "store.h"

/* A classic connection as a receive request sees it. */
struct classic_conn {
	char		id[64];
	char		group[260];
	long long	poll_no;	/* this receive request's number */
	long long	cursor;		/* classicstore_connect: where the client starts */
};

/* Create a classic connection (negotiate). */
enum store_status classicstore_negotiate(PGconn *, const char *id, const char *token,
		    const char *group, const char *remote_addr, const char *user_agent);

/* /connect with transport "ClassicLongPolling" or "ClassicServerSentEvents":
 * joins the group, fills id, group and cursor. STORE_NOT_FOUND: unknown or
 * closed (removed now); STORE_INVALID: a Core connection's token. */
enum store_status classicstore_connect(PGconn *, const char *token, const char *transport,
		    struct classic_conn *);

/* Start a receive request (supersedes an older one anywhere): fills id,
 * group and poll_no. STORE_NOT_FOUND: unknown; STORE_INVALID: not classic. */
enum store_status classicstore_receive_begin(PGconn *, const char *token, struct classic_conn *);

enum classic_drain_status { CDRAIN_OK, CDRAIN_GONE, CDRAIN_SUPERSEDED, CDRAIN_CLOSED };
/* Append the Core records (0x1E-terminated) after *cursor to out, at most
 * limit rows looked at, and move *cursor past them. CDRAIN_CLOSED: the
 * connection was closing and is removed; out gets the reason its Close
 * carried (may be empty). */
enum store_status classicstore_drain(PGconn *, const char *token, long long poll_no,
		    long long *cursor, int limit, struct buf *out, enum classic_drain_status *);

#endif
