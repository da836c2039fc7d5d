/*
 * classicstore: the queries of classic (ASP.NET SignalR 2.x) connections,
 * over sql/functions/50_classic.sql, on a pool connection the caller holds.
 * Beside corestore.c, which holds the Core connections' statements: same
 * rules (parameters only, every result checked and cleared, SQL failures
 * logged and mapped to enum ph_err by pool_failure). A Core connection's token is unknown here
 * (PH_NOT_FOUND, its row untouched): a token is valid on its own
 * protocol's endpoints only.
 */
#ifndef POLLHUB_CLASSICSTORE_H
#define POLLHUB_CLASSICSTORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "corestore.h"

/* A classic connection as a receive request sees it. */
struct classic_conn {
	char		id[64];
	char		group[SQL_GROUP_SIZE];
	long long	poll_no;	/* this receive request's number */
	long long	cursor;		/* classicstore_connect: where the client starts */
};

/* Create a classic connection (negotiate), under the rules and with the
 * answers of corestore_connection_create. */
enum ph_err classicstore_negotiate(PGconn *, const char *id, const char *key,
		    const struct connection_ask *, struct connection_grant *);

/* Whether token names a classic connection: PH_OK, or PH_NOT_FOUND. */
enum ph_err classicstore_exists(PGconn *, const char *token);

/* /connect with transport "ClassicLongPolling" or "ClassicServerSentEvents":
 * joins the group, fills id, group and cursor. PH_NOT_FOUND: unknown,
 * not classic, or closed (removed now). */
enum ph_err classicstore_connect(PGconn *, const char *token, const char *transport,
		    struct classic_conn *);

/* Start a receive request (supersedes an older one anywhere): fills id,
 * group and poll_no. PH_NOT_FOUND: unknown or not classic. */
enum ph_err classicstore_receive_begin(PGconn *, const char *token, struct classic_conn *);

/* Where a drain reads from and what it acknowledges. */
struct classic_drain_at {
	long long	poll_no;	/* the receive request's number */
	long long	ack;		/* the messageId the client sent: acknowledged */
	long long	from;		/* read after this (a stream: what it has written) */
	int		stream;		/* a stream: from is recorded as written (sent) */
	int		limit;		/* outbox rows looked at, at most */
};

/* Called for each record of a drain, in sequence order: its group sequence
 * number and its Core record (no 0x1E). Returns 0, or -1 to fail the drain. */
typedef int	(*classic_record_fn)(void *arg, long long seq, const char *rec, size_t len);

/* The drain's verdict in its own argument: PH_OK, PH_NOT_FOUND (gone),
 * PH_SUPERSEDED or PH_CLOSED. */
/* Read the group's records after at->from (the connection's own left out),
 * handing each to fn, and set *cursor past every row looked at; the
 * membership's cursor moves up to at->ack. PH_CLOSED: the connection was
 * closing and is removed; reason gets the reason its Close carried (may be
 * empty). PH_DB (also when fn fails): *cursor is unchanged. */
enum ph_err classicstore_drain(PGconn *, const char *token, const struct classic_drain_at *,
		    classic_record_fn fn, void *arg, long long *cursor, struct buf *reason,
		    enum ph_err *);

#endif
