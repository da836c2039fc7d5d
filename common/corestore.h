/*
 * corestore: every statement of Core (ASP.NET Core SignalR) connections, and
 * the responders' and maintenance's, each run on a pool connection the
 * caller holds (pool.h), with the pool's rules: parameters only, every
 * result checked and cleared, a failure logged and mapped by pool_failure.
 * classicstore.c holds the classic connections' statements beside it.
 */
#ifndef POLLHUB_CORESTORE_H
#define POLLHUB_CORESTORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pherr.h"
#include "pool.h"
#include "sqlproto.h"
#include "utf8.h"


/* Statements answer PH_OK, PH_NOT_FOUND (no such connection or meeting),
 * PH_INVALID (the database refused the data: a constraint), PH_BUSY (a lock
 * past lock_timeout, the statement timed out, or our deadline; logged) or
 * PH_DB (connection lost or an unexpected failure; logged). */

/* Which protocol a request speaks: a token is only valid on its own
 * protocol's endpoints (a Core token on a classic endpoint is unknown there,
 * and the other way round). */
enum corestore_proto { PROTO_CORE, PROTO_CLASSIC };

/* What a new connection asks for: user NULL without identity (group then
 * required), else group NULL for the user's default calendar. remote_addr
 * and user_agent are request headers, stored as corestore_header_text. */
struct connection_ask {
	const char	*hub;		/* Core: the hub's path ("/meetings"); classic: the
					 * name connectionData gave, or NULL: MeetingHub */
	const char	*user;
	const char	*group;
	const char	*remote_addr;
	const char	*user_agent;
};
/* What it got: its group and permission ("" without identity); why, on
 * PH_FORBIDDEN, for the log. */
struct connection_grant {
	char		group[SQL_GROUP_SIZE];
	char		permission[8];
	char		why[700];
};
/* Create a connection row stored under key (id_token_key). PH_FORBIDDEN
 * when the user holds no grant on the group asked for, or none was asked
 * for and the user has no default (pollhub.connection_create); no row. */
enum ph_err corestore_connection_create(PGconn *, const char *id, const char *key,
		    const struct connection_ask *, struct connection_grant *);
/* The verdict column of pollhub.connection_create and classic_negotiate
 * (row 0, column 0) as PH_OK, PH_NOT_FOUND (no such hub) or PH_FORBIDDEN
 * with out->why. */
enum ph_err corestore_connection_verdict(const PGresult *, const struct connection_ask *,
		    struct connection_grant *);
/* A request header's value as it is stored (connections.user_agent,
 * remote_addr): utf8_escape'd (invalid UTF-8 and controls as \xNN / \uNNNN;
 * PostgreSQL refuses invalid UTF-8, and the value must not run terminal
 * escapes in psql) and cut to CORESTORE_HEADER_MAX bytes, then "…(N bytes)".
 * out holds CORESTORE_HEADER_SIZE bytes; returns out. */
#define CORESTORE_HEADER_MAX	512
#define CORESTORE_HEADER_SIZE	(CORESTORE_HEADER_MAX + UTF8_ESCAPE_MARK)
const char *corestore_header_text(char *out, const char *value);
/* Remove a connection (DELETE, client Close, classic abort). PH_NOT_FOUND
 * if unknown (or of the other protocol). */
enum ph_err corestore_connection_delete(PGconn *, const char *token, enum corestore_proto);
/* corestore_connection_delete, with the removed connection's id copied to
 * id and whether it was still open (not closing after a Close) in
 * *was_open. */
enum ph_err corestore_connection_remove(PGconn *, const char *token, enum corestore_proto,
	    char *id, size_t idsize, int *was_open);

struct poll_info {
	char		connection_id[64];
	char		group[SQL_GROUP_SIZE];
	long long	poll_no;	/* the connection's latest receive request: a long
					 * poll's or a stream's (every one numbers it, so a
					 * newer one supersedes an older one anywhere; the
					 * name is the SQL column's, one name for one thing) */
	int		first_poll;
	int		longpolling;	/* 0: the connection uses another transport */
};
enum ph_err corestore_poll_begin(PGconn *, const char *token, struct poll_info *);

/* Open a connection's server-sent events stream (pi->first_poll is 0); the
 * stream's verdict in the last argument: PH_OK, PH_NOT_FOUND (gone),
 * PH_TRANSPORT (the connection uses another transport) or PH_BUSY. */
enum ph_err corestore_stream_begin(PGconn *, const char *token, struct poll_info *,
		    enum ph_err *);
/* Vouch for this process's open streams: ids is a text[] literal "{a,b}". */
enum ph_err corestore_touch(PGconn *, const char *ids);

/* The drain's verdict in its own argument: PH_OK, PH_LAST (the connection is
 * closing and these are its last records), PH_NOT_FOUND (gone),
 * PH_SUPERSEDED or PH_CLOSED. */
/* Append what is pending (0x1E-terminated records), at most budget bytes of
 * it (the first record whatever its size), to out; *more: some was left. */
enum ph_err corestore_poll_drain(PGconn *, const char *token, long long poll_no,
		    size_t budget, struct buf *out, enum ph_err *, int *more);
enum ph_err corestore_poll_end(PGconn *, const char *connection_id, long long poll_no);

/* A POST runs in one transaction holding the connection's row lock. */
struct send_conn {
	char		id[64];
	char		group[SQL_GROUP_SIZE];
	int		handshaken;
	int		closing;
	struct buf	inbound;	/* carried-over partial record + this body; caller frees */
	/* The row as send_begin read it: corestore_send_commit writes it only
	 * when it changes. */
	size_t		stored_len;	/* its inbound's length */
	int		stored_handshaken;
};
/* BEGIN and take the connection's send lock (POSTs of one connection run one
 * at a time); pollhub.sender is the connection for the transaction (the
 * meeting triggers leave it out of their pushes). On PH_OK the transaction
 * is open; PH_NOT_FOUND: unknown, or a connection of the other protocol. */
enum ph_err corestore_send_begin(PGconn *, const char *token, enum corestore_proto,
		    struct send_conn *);
/* Acquire a connection and corestore_send_begin on it. writes: the POST may
 * write meetings and so wait on its calendar's locks: it is then counted
 * against the connection's group's share of the pool (pool_acquire_for), so
 * it cannot take the pool from other calendars. On PH_OK *db is the
 * connection (release it with pool_release); PH_BUSY: no connection
 * came free in time. */
enum ph_err corestore_send_open(struct pool *, const char *token, enum corestore_proto,
		    int writes, struct send_conn *, PGconn **db);
/* A POST of Pings only (pollhub.ping): *done = 1 when that was all it took,
 * 0 when it must take the full path. */
enum ph_err corestore_ping(PGconn *, const char *token, int *done);
/* Queue one record (NUL-terminated JSON, without 0x1E) for the connection
 * itself. stamp: the group's last_seq the record's content reflects (a
 * read's), so that drains put every push up to it first; -1: what this
 * statement sees (pollhub.connection_messages_stamp). */
enum ph_err corestore_send_queue(PGconn *, const char *connection_id, const char *record,
		    long long stamp);
enum ph_err corestore_join_group(PGconn *, const char *connection_id, const char *group);
/* Mark the connection closing and leave its groups: after what is queued,
 * its next poll answers 204. */
enum ph_err corestore_mark_closing(PGconn *, const char *connection_id);
/* Save state and COMMIT (rest = the unparsed tail to carry over). The row
 * is written only when its inbound or handshaken changes: a create's commit
 * writes no connections row. Its last_seen is then the polls' and streams'
 * to keep, as for a Ping (a POST does not vouch for a poller, as in
 * ASP.NET Core). */
enum ph_err corestore_send_commit(PGconn *, const struct send_conn *,
		    const char *rest, size_t restlen);

/* A savepoint before each invocation, so a failed statement does not abort
 * the POST: rolled back to when it fails; released only before another
 * (COMMIT commits a savepoint still open). */
enum ph_err corestore_savepoint(PGconn *);
enum ph_err corestore_savepoint_release(PGconn *);
enum ph_err corestore_savepoint_rollback(PGconn *);

/* MeetingHub data: results are JSON text appended to out. On PH_INVALID
 * why names the offending field (e.g. a RecurrenceID that does not exist). */
/* This responder (id "host:pid") is alive with these timeouts (seconds);
 * the reap thresholds every responder uses are the longest of those alive.
 * *poll and *disconnect become the thresholds in force. */
enum ph_err corestore_responder_seen(PGconn *, const char *id, int *poll_timeout,
		    int *disconnect_timeout);
/* This responder stops: its timeouts no longer count. */
enum ph_err corestore_responder_leave(PGconn *, const char *id);

struct maintain_result {
	int	removed;	/* stale connections removed */
	int	closed;		/* closed by the pending cap */
	int	skipped;	/* groups skipped: another session held them */
	double	max_lock_ms;	/* longest any one step held its locks */
	/* The first of the ids removed and closed, comma-separated ("" if none). */
	char	removed_ids[20 * 40];
	char	closed_ids[20 * 40];
};
/* Say this responder is alive (as corestore_responder_seen), reap stale
 * connections by the thresholds in force, trim the outbox group by group and
 * close connections over max_pending, each step in its own short
 * transaction and never waiting for a lock (CALL pollhub.maintain). */
enum ph_err corestore_maintain(PGconn *, const char *id, int poll_timeout,
		    int disconnect_timeout, int max_pending, struct maintain_result *);

/* The bytes of the records in the connection's own queue (completions,
 * handshake answer, Close: connection_messages), as this transaction sees
 * them (what a POST queued so far included). */
enum ph_err corestore_queued_bytes(PGconn *, const char *connection_id, long long *bytes);

#endif
