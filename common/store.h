/*
 * store: every PostgreSQL query pollhub makes, over a bounded pool of libpq
 * connections. All SQL is parameterised; every result is checked and cleared.
 * SQL failures are mapped here to enum ph_err (the one place that knows
 * SQLSTATEs); callers turn those into HTTP statuses or completion errors.
 */
#ifndef POLLHUB_STORE_H
#define POLLHUB_STORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"
#include "pherr.h"
#include "sqlproto.h"
#include "utf8.h"

struct meeting;

/* Run a parameterised statement (text parameters, text results) for a
 * module with queries of its own; NULL, logged, unless its status is ok.
 * The caller PQclears the result. */
PGresult	*store_exec(PGconn *, const char *sql, int n, const char *const *params,
		    ExecStatusType ok);

/* Every statement (store_exec and the functions below) is sent
 * asynchronously and waited for at most the sessions' statement_timeout plus
 * this (pgwait): a backend that stops answering (kill -STOP, a hung host)
 * cannot fire its own timeout. Past it the statement is cancelled; a session
 * that does not answer the cancel either is given up (store_give_up) and the
 * statement fails with PH_BUSY. */
#define STORE_DEADLINE_MARGIN_MS	2000

/* Statements answer PH_OK, PH_NOT_FOUND (no such connection or meeting),
 * PH_INVALID (the database refused the data: a constraint), PH_BUSY (a lock
 * past lock_timeout, the statement timed out, or our deadline; logged) or
 * PH_DB (connection lost or an unexpected failure; logged). */

/* Which protocol a request speaks: a token is only valid on its own
 * protocol's endpoints (a Core token on a classic endpoint is unknown there,
 * and the other way round). */
enum store_proto { PROTO_CORE, PROTO_CLASSIC };

/* store_exec, with the failure mapped as every store function maps it
 * (PH_BUSY: gave up waiting; PH_DB: the rest) in *st. */
PGresult	*store_exec_status(PGconn *, const char *sql, int n, const char *const *params,
		    ExecStatusType ok, enum ph_err *st);
/* A session that did not answer: mark it lost (PQstatus CONNECTION_BAD from
 * then on, without waiting for it), so whoever holds it reconnects. */
void		 store_give_up(PGconn *);

/* Bounds on every wait (milliseconds), and how the pool is shared. */
struct store_limits {
	int	lock_timeout_ms;	/* SET lock_timeout on every session */
	int	statement_timeout_ms;	/* SET statement_timeout */
	int	idle_tx_timeout_ms;	/* SET idle_in_transaction_session_timeout */
	int	acquire_timeout_ms;	/* store_acquire gives up after it */
	int	per_key;		/* slots one key (a group's sends) may hold */
	int	reserve;		/* slots keyed acquisitions leave to the rest */
	int	connect_timeout_s;	/* libpq connect_timeout (0: libpq's default) */
	int	tcp_user_timeout_ms;	/* libpq tcp_user_timeout (0: the system's) */
};

struct store;

/* Open a pool of size connections to conninfo ("" = libpq defaults), every
 * session with the limits' timeouts, UTF-8, TCP keepalives, connect_timeout
 * and tcp_user_timeout (kept across PQreset; the conninfo's own values of
 * these win), and PostgreSQL's notices logged as pollhub's lines. Returns
 * NULL and a message in err when the first connection fails. */
struct store	*store_open(const char *conninfo, int size, const struct store_limits *,
		    char *err, size_t errlen);
void		 store_close(struct store *);
/* A new connection outside the pool with the same parameters and notice
 * receiver (the notifier's own); the caller PQfinishes it. Check PQstatus. */
PGconn		*store_connect(const struct store *);
/* Borrow a connection, waiting at most acquire_timeout_ms for one. A broken
 * connection is reset here (queries on one still down fail with
 * PH_DB); NULL when none came free in time (logged) or out of memory. */
PGconn		*store_acquire(struct store *);
/* The same for work that may wait on key's locks (a group's sends): at most
 * per_key slots per key, and never the last `reserve` slots, so requests of
 * other groups, polls and drains always find a connection. */
PGconn		*store_acquire_for(struct store *, const char *key);
/* Give it back: a transaction left open is rolled back (bounded, outside the
 * pool's lock); a connection lost or given up is closed and its slot
 * connects anew when next taken. */
void		 store_release(struct store *, PGconn *);

/* Create a connection row. */
/* remote_addr and user_agent are request headers, stored as text by
 * store_header_text. */
enum ph_err store_connection_create(PGconn *, const char *id, const char *token,
		    const char *group, const char *remote_addr, const char *user_agent);
/* A request header's value as it is stored (connections.user_agent,
 * remote_addr): utf8_escape'd (invalid UTF-8 and controls as \xNN / \uNNNN;
 * PostgreSQL refuses invalid UTF-8, and the value must not run terminal
 * escapes in psql) and cut to STORE_HEADER_MAX bytes, then "…(N bytes)".
 * out holds STORE_HEADER_SIZE bytes; returns out. */
#define STORE_HEADER_MAX	512
#define STORE_HEADER_SIZE	(STORE_HEADER_MAX + UTF8_ESCAPE_MARK)
const char *store_header_text(char *out, const char *value);
/* Remove a connection (DELETE, client Close, classic abort). PH_NOT_FOUND
 * if unknown (or of the other protocol). */
enum ph_err store_connection_delete(PGconn *, const char *token, enum store_proto);
/* store_connection_delete, with the removed connection's id copied to id and
 * whether it was still open (not closing after a Close) in *was_open. */
enum ph_err store_connection_remove(PGconn *, const char *token, enum store_proto,
	    char *id, size_t idsize, int *was_open);

struct poll_info {
	char		connection_id[64];
	char		group[SQL_GROUP_SIZE];
	long long	poll_no;
	int		first_poll;
	int		longpolling;	/* 0: the connection uses another transport */
};
enum ph_err store_poll_begin(PGconn *, const char *token, struct poll_info *);

/* Open a connection's server-sent events stream (pi->first_poll is 0); the
 * stream's verdict in the last argument: PH_OK, PH_NOT_FOUND (gone),
 * PH_TRANSPORT (the connection uses another transport) or PH_BUSY. */
enum ph_err store_stream_begin(PGconn *, const char *token, struct poll_info *,
		    enum ph_err *);
/* Vouch for this process's open streams: ids is a text[] literal "{a,b}". */
enum ph_err store_touch(PGconn *, const char *ids);

/* The drain's verdict in its own argument: PH_OK, PH_LAST (the connection is
 * closing and these are its last records), PH_NOT_FOUND (gone),
 * PH_SUPERSEDED or PH_CLOSED. */
/* Append what is pending (0x1E-terminated records), at most budget bytes of
 * it (the first record whatever its size), to out; *more: some was left. */
enum ph_err store_poll_drain(PGconn *, const char *token, long long poll_no,
		    size_t budget, struct buf *out, enum ph_err *, int *more);
enum ph_err store_poll_end(PGconn *, const char *connection_id, long long poll_no);

/* A POST runs in one transaction holding the connection's row lock. */
struct send_conn {
	char		id[64];
	char		group[SQL_GROUP_SIZE];
	int		handshaken;
	int		closing;
	struct buf	inbound;	/* carried-over partial record + this body; caller frees */
};
/* BEGIN and take the connection's send lock (POSTs of one connection run one
 * at a time). On PH_OK the transaction is open; PH_NOT_FOUND: unknown,
 * or a connection of the other protocol. */
enum ph_err store_send_begin(PGconn *, const char *token, enum store_proto,
		    struct send_conn *);
/* Acquire a connection and store_send_begin on it. writes: the POST may
 * write meetings and so wait on its calendar's locks: it is then counted
 * against the connection's group's share of the pool (store_acquire_for), so
 * it cannot take the pool from other calendars. On PH_OK *db is the
 * connection (release it with store_release); PH_BUSY: no connection
 * came free in time. */
enum ph_err store_send_open(struct store *, const char *token, enum store_proto,
		    int writes, struct send_conn *, PGconn **db);
/* A POST of Pings only (pollhub.ping): *done = 1 when that was all it took,
 * 0 when it must take the full path. */
enum ph_err store_ping(PGconn *, const char *token, int *done);
/* Queue one record (NUL-terminated JSON, without 0x1E) for the connection
 * itself. stamp: the group's last_seq the record's content reflects (a
 * read's), so that drains put every push up to it first; -1: what this
 * statement sees (pollhub.connection_messages_stamp). */
enum ph_err store_send_queue(PGconn *, const char *connection_id, const char *record,
		    long long stamp);
enum ph_err store_join_group(PGconn *, const char *connection_id, const char *group);
/* Mark the connection closing and leave its groups: after what is queued,
 * its next poll answers 204. */
enum ph_err store_mark_closing(PGconn *, const char *connection_id);
/* Save state and COMMIT (rest = the unparsed tail to carry over). */
enum ph_err store_send_commit(PGconn *, const struct send_conn *,
		    const char *rest, size_t restlen);
void		 store_rollback(PGconn *);

/* Savepoints around one invocation, so a failed statement does not abort the POST. */
enum ph_err store_savepoint(PGconn *);
enum ph_err store_savepoint_release(PGconn *);
enum ph_err store_savepoint_rollback(PGconn *);
/* Make the meeting triggers skip this connection when pushing (transaction-local). */
enum ph_err store_set_sender(PGconn *, const char *connection_id);

/* MeetingHub data: results are JSON text appended to out. On PH_INVALID
 * why names the offending field (e.g. a RecurrenceID that does not exist). */
/* *stamp = the group's last_seq in the same snapshot as the meetings read. */
enum ph_err store_meetings_read(PGconn *, const char *group, struct buf *out,
		    long long *stamp);
enum ph_err store_meeting_create(PGconn *, const char *group, const struct meeting *,
		    struct buf *out, char *why, size_t whylen);
enum ph_err store_meeting_update(PGconn *, const char *group, const struct meeting *,
		    struct buf *out, char *why, size_t whylen);
enum ph_err store_meeting_destroy(PGconn *, const char *group, const struct meeting *,
		    struct buf *out);

/* This responder (id "host:pid") is alive with these timeouts (seconds);
 * the reap thresholds every responder uses are the longest of those alive.
 * *poll and *disconnect become the thresholds in force. */
enum ph_err store_responder_seen(PGconn *, const char *id, int *poll_timeout,
		    int *disconnect_timeout);
/* This responder stops: its timeouts no longer count. */
enum ph_err store_responder_leave(PGconn *, const char *id);

struct maintain_result {
	int	removed;	/* stale connections removed */
	int	closed;		/* closed by the pending cap */
	int	skipped;	/* groups skipped: another session held them */
	double	max_lock_ms;	/* longest any one step held its locks */
	/* The first of the ids removed and closed, comma-separated ("" if none). */
	char	removed_ids[20 * 40];
	char	closed_ids[20 * 40];
};
/* Say this responder is alive (as store_responder_seen), reap stale
 * connections by the thresholds in force, trim the outbox group by group and
 * close connections over max_pending, each step in its own short
 * transaction and never waiting for a lock (CALL pollhub.maintain). */
enum ph_err store_maintain(PGconn *, const char *id, int poll_timeout,
		    int disconnect_timeout, int max_pending, struct maintain_result *);

/* The bytes of the records in the connection's own queue (completions,
 * handshake answer, Close: connection_messages), as this transaction sees
 * them (what a POST queued so far included). */
enum ph_err store_queued_bytes(PGconn *, const char *connection_id, long long *bytes);

#endif
