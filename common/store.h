/*
 * store: every PostgreSQL query pollhub makes, over a bounded pool of libpq
 * connections. All SQL is parameterised; every result is checked and cleared.
 * SQL failures are mapped here to enum store_status (the one place that knows
 * SQLSTATEs); callers turn those into HTTP statuses or completion errors.
 */
#ifndef POLLHUB_STORE_H
#define POLLHUB_STORE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "buf.h"

struct meeting;

/* Run a parameterised statement (text parameters, text results) for a
 * module with queries of its own; NULL, logged, unless its status is ok.
 * The caller PQclears the result. */
PGresult	*store_exec(PGconn *, const char *sql, int n, const char *const *params,
		    ExecStatusType ok);

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,	/* no such connection / meeting */
	STORE_INVALID,		/* the database refused the data (constraint) */
	STORE_ERROR		/* connection lost or unexpected failure; logged */
};

struct store;

/* Open a pool of size connections to conninfo ("" = libpq defaults).
 * Returns NULL and a message in err when the first connection fails. */
struct store	*store_open(const char *conninfo, int size, char *err, size_t errlen);
void		 store_close(struct store *);
/* Borrow a connection; blocks while all are in use. A broken connection is
 * reset here (queries on one still down fail with STORE_ERROR); NULL only when
 * out of memory. */
PGconn		*store_acquire(struct store *);
void		 store_release(struct store *, PGconn *);

/* Create a connection row. */
enum store_status store_connection_create(PGconn *, const char *id, const char *token,
		    const char *group, const char *remote_addr, const char *user_agent);
/* Remove a connection (DELETE, client Close). STORE_NOT_FOUND if unknown. */
enum store_status store_connection_delete(PGconn *, const char *token);

struct poll_info {
	char		connection_id[64];
	char		group[260];
	long long	poll_no;
	int		first_poll;
	int		longpolling;	/* 0: the connection uses another transport */
};
enum store_status store_poll_begin(PGconn *, const char *token, struct poll_info *);

/* Open a connection's server-sent events stream (pi->first_poll is 0). */
enum stream_status { STREAM_OK, STREAM_GONE, STREAM_TRANSPORT, STREAM_BUSY };
enum store_status store_stream_begin(PGconn *, const char *token, struct poll_info *,
		    enum stream_status *);
/* Vouch for this process's open streams: ids is a text[] literal "{a,b}". */
enum store_status store_touch(PGconn *, const char *ids);

/* DRAIN_LAST: the connection is closing and these are its last records. */
enum drain_status { DRAIN_OK, DRAIN_LAST, DRAIN_GONE, DRAIN_SUPERSEDED, DRAIN_CLOSED };
/* Append everything pending (0x1E-terminated records) to out. */
enum store_status store_poll_drain(PGconn *, const char *token, long long poll_no,
		    struct buf *out, enum drain_status *);
/* Drain many waiting connections in one statement. ids and polls are text[]
 * and bigint[] literals of the same length; row(ctx, i, served, records, len)
 * is called for i = 0..n-1 in order (served 0: not drained, ask poll_drain). */
typedef void (*store_drain_row_fn)(void *ctx, size_t i, int served, const char *records,
		    size_t len);
enum store_status store_drain_many(PGconn *, const char *ids, const char *polls,
		    store_drain_row_fn row, void *ctx);
enum store_status store_poll_end(PGconn *, const char *connection_id, long long poll_no);

/* A POST runs in one transaction holding the connection's row lock. */
struct send_conn {
	char		id[64];
	char		group[260];
	int		handshaken;
	int		closing;
	struct buf	inbound;	/* carried-over partial record + this body; caller frees */
};
/* BEGIN and lock the connection. On STORE_OK the transaction is open. */
enum store_status store_send_begin(PGconn *, const char *token, struct send_conn *);
/* Queue one record (NUL-terminated JSON, without 0x1E) for the connection itself. */
enum store_status store_send_queue(PGconn *, const char *connection_id, const char *record);
enum store_status store_join_group(PGconn *, const char *connection_id, const char *group);
/* Mark the connection closing and leave its groups: after what is queued,
 * its next poll answers 204. */
enum store_status store_mark_closing(PGconn *, const char *connection_id);
/* Save state and COMMIT (rest = the unparsed tail to carry over). */
enum store_status store_send_commit(PGconn *, const struct send_conn *,
		    const char *rest, size_t restlen);
void		 store_rollback(PGconn *);

/* Savepoints around one invocation, so a failed statement does not abort the POST. */
enum store_status store_savepoint(PGconn *);
enum store_status store_savepoint_release(PGconn *);
enum store_status store_savepoint_rollback(PGconn *);
/* Make the meeting triggers skip this connection when pushing (transaction-local). */
enum store_status store_set_sender(PGconn *, const char *connection_id);

/* MeetingHub data: results are JSON text appended to out. On STORE_INVALID
 * why names the offending field (e.g. a RecurrenceID that does not exist). */
enum store_status store_meetings_read(PGconn *, const char *group, struct buf *out);
enum store_status store_meeting_create(PGconn *, const char *group, const struct meeting *,
		    struct buf *out, char *why, size_t whylen);
enum store_status store_meeting_update(PGconn *, const char *group, const struct meeting *,
		    struct buf *out, char *why, size_t whylen);
enum store_status store_meeting_destroy(PGconn *, const char *group, const struct meeting *,
		    struct buf *out);

/* Close connections with more than max_pending messages pending, reap idle
 * ones and trim the outbox; *removed = connections removed. */
enum store_status store_reap(PGconn *, int disconnect_timeout, int poll_timeout,
		    int max_pending, int *removed);

#endif
