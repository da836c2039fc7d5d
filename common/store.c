#include "store.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "meeting.h"

struct store {
	char		*conninfo;
	int		 size;
	PGconn		**conns;	/* size slots; NULL = not yet connected */
	int		*busy;
	pthread_mutex_t	 lock;
	pthread_cond_t	 freed;
};

static PGconn *
connect_one(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		PQsetClientEncoding(c, "UTF8");
	return c;
}

struct store *
store_open(const char *conninfo, int size, char *err, size_t errlen)
{
	struct store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->conninfo = strdup(conninfo)) == NULL ||
	    (s->conns = calloc((size_t)size, sizeof(*s->conns))) == NULL ||
	    (s->busy = calloc((size_t)size, sizeof(*s->busy))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->size = size;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	/* Connect one now so a wrong conninfo fails at start-up, not at the first request. */
	s->conns[0] = connect_one(conninfo);
	if (s->conns[0] == NULL || PQstatus(s->conns[0]) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    s->conns[0] ? PQerrorMessage(s->conns[0]) : "out of memory");
		store_close(s);
		return NULL;
	}
	return s;
fail:
	if (s != NULL) {
		free(s->conninfo);
		free(s->conns);
		free(s->busy);
		free(s);
	}
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->size; i++)
		if (s->conns[i] != NULL)
			PQfinish(s->conns[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->freed);
	free(s->conns);
	free(s->busy);
	free(s->conninfo);
	free(s);
}

/* An idle pooled connection has nothing to read unless the server ended it
 * (a restart sends FATAL, then closes): find out before a request fails. */
static int
server_closed(PGconn *c)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	/* The FATAL message and the end of the stream may take two reads. */
	for (int i = 0; i < 4; i++) {
		if (p.fd < 0 || poll(&p, 1, 0) <= 0)
			return 0;
		if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
			return 1;
	}
	return 0;
}

PGconn *
store_acquire(struct store *s)
{
	int i;
	PGconn *c;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (i = 0; i < s->size; i++)
			if (!s->busy[i])
				break;
		if (i < s->size)
			break;
		pthread_cond_wait(&s->freed, &s->lock);
	}
	s->busy[i] = 1;
	c = s->conns[i];
	pthread_mutex_unlock(&s->lock);

	/* Connect or reconnect outside the lock: it can take a while. */
	if (c == NULL) {
		c = connect_one(s->conninfo);
		if (c == NULL) {
			pthread_mutex_lock(&s->lock);
			s->busy[i] = 0;
			pthread_cond_signal(&s->freed);
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
	} else if (PQstatus(c) != CONNECTION_OK || server_closed(c)) {
		PQreset(c);
	}
	if (PQstatus(c) != CONNECTION_OK)
		log_warn("database connection unavailable: %s", PQerrorMessage(c));
	pthread_mutex_lock(&s->lock);
	s->conns[i] = c;
	pthread_mutex_unlock(&s->lock);
	return c;
}

void
store_release(struct store *s, PGconn *c)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->size; i++)
		if (s->conns[i] == c) {
			/* A connection left inside a transaction would poison the next user. */
			if (PQtransactionStatus(c) != PQTRANS_IDLE &&
			    PQstatus(c) == CONNECTION_OK) {
				PGresult *r = PQexec(c, "ROLLBACK");
				PQclear(r);
			}
			s->busy[i] = 0;
			break;
		}
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

/* Run a parameterised statement; NULL (and a log line) unless the status is ok. */
static PGresult *
exec(PGconn *db, const char *sql, int n, const char *const *params, ExecStatusType ok)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);

	if (r == NULL || PQresultStatus(r) != ok) {
		log_error("query failed: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		PQclear(r);
		return NULL;
	}
	return r;
}

PGresult *
store_exec(PGconn *db, const char *sql, int n, const char *const *params, ExecStatusType ok)
{
	return exec(db, sql, n, params, ok);
}

static enum store_status
command(PGconn *db, const char *sql, int n, const char *const *params)
{
	PGresult *r = exec(db, sql, n, params, PGRES_COMMAND_OK);

	if (r == NULL)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
tuples(PGconn *db, const char *sql, int n, const char *const *params, PGresult **out)
{
	*out = exec(db, sql, n, params, PGRES_TUPLES_OK);
	return *out == NULL ? STORE_ERROR : STORE_OK;
}

static void
copy_field(char *dst, size_t dstlen, const PGresult *r, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

enum store_status
store_connection_create(PGconn *db, const char *id, const char *token, const char *group,
    const char *remote_addr, const char *user_agent)
{
	const char *p[] = { id, token, group, remote_addr, user_agent };

	return command(db,
	    "INSERT INTO pollhub.connections (id, token, group_name, remote_addr, user_agent)"
	    " VALUES ($1, $2, $3, $4, $5)", 5, p);
}

enum store_status
store_connection_delete(PGconn *db, const char *token)
{
	const char *p[] = { token };
	PGresult *r;
	enum store_status st;

	if ((st = tuples(db, "SELECT pollhub.disconnect($1)", 1, p, &r)) != STORE_OK)
		return st;
	st = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? STORE_OK : STORE_NOT_FOUND;
	PQclear(r);
	return st;
}

enum store_status
store_poll_begin(PGconn *db, const char *token, struct poll_info *pi)
{
	const char *p[] = { token };
	PGresult *r;
	enum store_status st;

	st = tuples(db, "SELECT connection_id, group_name, poll_no, first_poll, transport"
	    " FROM pollhub.poll_begin($1)", 1, p, &r);
	if (st != STORE_OK)
		return st;
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return STORE_NOT_FOUND;
	}
	copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 0);
	copy_field(pi->group, sizeof(pi->group), r, 0, 1);
	pi->poll_no = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	pi->first_poll = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	pi->longpolling = strcmp(PQgetvalue(r, 0, 4), "LongPolling") == 0;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_stream_begin(PGconn *db, const char *token, struct poll_info *pi,
    enum stream_status *ss)
{
	const char *p[] = { token };
	PGresult *r;
	enum store_status st;
	const char *status;

	st = tuples(db, "SELECT status, connection_id, group_name, poll_no"
	    " FROM pollhub.stream_begin($1)", 1, p, &r);
	if (st != STORE_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, "ok") == 0) {
		*ss = STREAM_OK;
		copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 1);
		copy_field(pi->group, sizeof(pi->group), r, 0, 2);
		pi->poll_no = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		pi->first_poll = 0;
		pi->longpolling = 0;
	} else if (strcmp(status, "transport") == 0)
		*ss = STREAM_TRANSPORT;
	else if (strcmp(status, "busy") == 0)
		*ss = STREAM_BUSY;
	else
		*ss = STREAM_GONE;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_touch(PGconn *db, const char *ids)
{
	const char *p[] = { ids };
	PGresult *r;

	if (tuples(db, "SELECT pollhub.touch($1::text[])", 1, p, &r) != STORE_OK)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_poll_drain(PGconn *db, const char *token, long long poll_no, struct buf *out,
    enum drain_status *ds)
{
	char no[24];
	const char *p[] = { token, no };
	PGresult *r;
	enum store_status st;
	const char *status;

	snprintf(no, sizeof(no), "%lld", poll_no);
	st = tuples(db, "SELECT status, payload FROM pollhub.poll_drain($1, $2)", 2, p, &r);
	if (st != STORE_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, "gone") == 0)
		*ds = DRAIN_GONE;
	else if (strcmp(status, "superseded") == 0)
		*ds = DRAIN_SUPERSEDED;
	else if (strcmp(status, "closed") == 0)
		*ds = DRAIN_CLOSED;
	else if (strcmp(status, "closing") == 0)
		*ds = DRAIN_LAST;
	else
		*ds = DRAIN_OK;
	if (!PQgetisnull(r, 0, 1) &&
	    buf_append(out, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1)) == -1)
		st = STORE_ERROR;
	PQclear(r);
	return st;
}

enum store_status
store_drain_many(PGconn *db, const char *ids, const char *polls, store_drain_row_fn row,
    void *ctx)
{
	const char *p[] = { ids, polls };
	PGresult *r;
	enum store_status st;

	st = tuples(db, "SELECT n, status, payload"
	    " FROM pollhub.drain_many($1::text[], $2::bigint[])", 2, p, &r);
	if (st != STORE_OK)
		return st;
	for (int i = 0; i < PQntuples(r); i++)
		row(ctx, (size_t)strtoull(PQgetvalue(r, i, 0), NULL, 10) - 1,
		    strcmp(PQgetvalue(r, i, 1), "ok") == 0, PQgetvalue(r, i, 2),
		    (size_t)PQgetlength(r, i, 2));
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_poll_end(PGconn *db, const char *connection_id, long long poll_no)
{
	char no[24];
	const char *p[] = { connection_id, no };
	PGresult *r;

	snprintf(no, sizeof(no), "%lld", poll_no);
	if (tuples(db, "SELECT pollhub.poll_end($1, $2)", 2, p, &r) != STORE_OK)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_send_begin(PGconn *db, const char *token, struct send_conn *sc)
{
	const char *p[] = { token };
	PGresult *r;
	enum store_status st;

	if ((st = command(db, "BEGIN", 0, NULL)) != STORE_OK)
		return st;
	/* Binary result: inbound is bytea and may hold any bytes. */
	r = PQexecParams(db, "SELECT id, group_name, handshaken, state = 'closing', inbound"
	    " FROM pollhub.connections WHERE token = $1 FOR UPDATE", 1, NULL, p, NULL, NULL, 1);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("query failed: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		PQclear(r);
		store_rollback(db);
		return STORE_ERROR;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		store_rollback(db);
		return STORE_NOT_FOUND;
	}
	snprintf(sc->id, sizeof(sc->id), "%.*s", PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
	snprintf(sc->group, sizeof(sc->group), "%.*s", PQgetlength(r, 0, 1), PQgetvalue(r, 0, 1));
	sc->handshaken = *PQgetvalue(r, 0, 2) != 0;
	sc->closing = *PQgetvalue(r, 0, 3) != 0;
	buf_reset(&sc->inbound);
	if (buf_append(&sc->inbound, PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4)) == -1) {
		PQclear(r);
		store_rollback(db);
		return STORE_ERROR;
	}
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_send_queue(PGconn *db, const char *connection_id, const char *record)
{
	const char *p[] = { connection_id, record };
	PGresult *r;

	r = PQexecParams(db,
	    "WITH q AS (INSERT INTO pollhub.connection_messages (connection_id, payload)"
	    " VALUES ($1, $2)) SELECT pg_notify('pollhub', 'c:' || $1)", 2, NULL, p, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("query failed: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		PQclear(r);
		return STORE_ERROR;
	}
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_join_group(PGconn *db, const char *connection_id, const char *group)
{
	const char *p[] = { connection_id, group };
	PGresult *r;

	if (tuples(db, "SELECT pollhub.join_group($1, $2)", 2, p, &r) != STORE_OK)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_mark_closing(PGconn *db, const char *connection_id)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum store_status st;

	st = command(db, "UPDATE pollhub.connections SET state = 'closing' WHERE id = $1", 1, p);
	if (st == STORE_OK)
		st = command(db, "DELETE FROM pollhub.memberships WHERE connection_id = $1", 1, p);
	/* Wake its held poll or stream (at commit): there may be nothing to send. */
	if (st == STORE_OK && (st = tuples(db, "SELECT pg_notify('pollhub', 'c:' || $1)",
	    1, p, &r)) == STORE_OK)
		PQclear(r);
	return st;
}

enum store_status
store_send_commit(PGconn *db, const struct send_conn *sc, const char *rest, size_t restlen)
{
	const char *p[] = { sc->id, rest, sc->handshaken ? "t" : "f" };
	int lens[] = { 0, (int)restlen, 0 };
	int fmts[] = { 0, 1, 0 };
	PGresult *r;

	r = PQexecParams(db, "UPDATE pollhub.connections SET inbound = $2, handshaken = $3,"
	    " last_seen = now() WHERE id = $1", 3, NULL, p, lens, fmts, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("query failed: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
		PQclear(r);
		store_rollback(db);
		return STORE_ERROR;
	}
	PQclear(r);
	if (command(db, "COMMIT", 0, NULL) != STORE_OK) {
		store_rollback(db);
		return STORE_ERROR;
	}
	return STORE_OK;
}

void
store_rollback(PGconn *db)
{
	PGresult *r = PQexec(db, "ROLLBACK");

	PQclear(r);
}

enum store_status
store_savepoint(PGconn *db)
{
	return command(db, "SAVEPOINT invocation", 0, NULL);
}

enum store_status
store_savepoint_release(PGconn *db)
{
	return command(db, "RELEASE SAVEPOINT invocation", 0, NULL);
}

enum store_status
store_savepoint_rollback(PGconn *db)
{
	return command(db, "ROLLBACK TO SAVEPOINT invocation", 0, NULL);
}

enum store_status
store_set_sender(PGconn *db, const char *connection_id)
{
	const char *p[] = { connection_id };
	PGresult *r;

	if (tuples(db, "SELECT set_config('pollhub.sender', $1, true)", 1, p, &r) != STORE_OK)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

enum store_status
store_meetings_read(PGconn *db, const char *group, struct buf *out)
{
	const char *p[] = { group };
	PGresult *r;
	enum store_status st;

	st = tuples(db, "SELECT coalesce(json_agg(pollhub.meeting_json(m)"
	    " ORDER BY m.start_at, m.id), '[]') FROM pollhub.meetings m WHERE m.group_name = $1",
	    1, p, &r);
	if (st != STORE_OK)
		return st;
	if (buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) == -1)
		st = STORE_ERROR;
	PQclear(r);
	return st;
}

/* Map a failed meeting statement: constraint violations are the client's
 * fault (named in why), anything else is ours. */
static enum store_status
meeting_failure(PGresult *r, PGconn *db, char *why, size_t whylen)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;

	if (state != NULL && strncmp(state, "23", 2) == 0) {
		if (constraint != NULL && strcmp(constraint, "meetings_recurrence") == 0)
			snprintf(why, whylen, "Invalid meeting: 'RecurrenceID' does not name a"
			    " meeting of this calendar.");
		else if (constraint != NULL && strcmp(constraint, "meetings_end_after_start") == 0)
			snprintf(why, whylen, "Invalid meeting: 'End' must not be before 'Start'.");
		else
			snprintf(why, whylen, "Invalid meeting: %s",
			    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
		PQclear(r);
		return STORE_INVALID;
	}
	if (state != NULL && strcmp(state, "22008") == 0) {	/* datetime out of range */
		snprintf(why, whylen, "Invalid meeting: a date is out of range.");
		PQclear(r);
		return STORE_INVALID;
	}
	log_error("meeting query failed: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
	PQclear(r);
	return STORE_ERROR;
}

static enum store_status
meeting_write(PGconn *db, const char *sql, const char *const *p, int n, struct buf *out,
    char *why, size_t whylen)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	enum store_status st = STORE_OK;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		return meeting_failure(r, db, why, whylen);
	if (PQntuples(r) == 0)
		st = STORE_NOT_FOUND;
	else if (out != NULL &&
	    buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) == -1)
		st = STORE_ERROR;
	PQclear(r);
	return st;
}

enum store_status
store_meeting_create(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out, char *why, size_t whylen)
{
	const char *p[] = { group, m->title, m->description, m->start, m->end,
	    m->start_timezone, m->end_timezone, m->is_all_day, m->room_id,
	    m->recurrence_rule, m->recurrence_id, m->recurrence_exception, m->attendees };

	return meeting_write(db,
	    "INSERT INTO pollhub.meetings AS m (group_name, title, description, start_at, end_at,"
	    " start_timezone, end_timezone, is_all_day, room_id, recurrence_rule, recurrence_id,"
	    " recurrence_exception, attendees)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
	    " RETURNING pollhub.meeting_json(m)", p, 13, out, why, whylen);
}

enum store_status
store_meeting_update(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out, char *why, size_t whylen)
{
	const char *p[] = { group, m->title, m->description, m->start, m->end,
	    m->start_timezone, m->end_timezone, m->is_all_day, m->room_id,
	    m->recurrence_rule, m->recurrence_id, m->recurrence_exception, m->attendees, m->id };

	return meeting_write(db,
	    "UPDATE pollhub.meetings AS m SET title = $2, description = $3, start_at = $4,"
	    " end_at = $5, start_timezone = $6, end_timezone = $7, is_all_day = $8,"
	    " room_id = $9, recurrence_rule = $10, recurrence_id = $11,"
	    " recurrence_exception = $12, attendees = $13"
	    " WHERE m.id = $14 AND m.group_name = $1 RETURNING pollhub.meeting_json(m)",
	    p, 14, out, why, whylen);
}

enum store_status
store_meeting_destroy(PGconn *db, const char *group, const struct meeting *m,
    struct buf *out)
{
	const char *p[] = { group, m->id };
	char why[16];

	return meeting_write(db, "DELETE FROM pollhub.meetings AS m"
	    " WHERE m.id = $2 AND m.group_name = $1 RETURNING pollhub.meeting_json(m)",
	    p, 2, out, why, sizeof(why));
}

enum store_status
store_reap(PGconn *db, int disconnect_timeout, int poll_timeout, int max_pending,
    int *removed)
{
	char d[32], pt[32], mp[16];
	const char *p[] = { d, pt, mp };
	PGresult *r;

	snprintf(d, sizeof(d), "%d seconds", disconnect_timeout);
	snprintf(pt, sizeof(pt), "%d seconds", poll_timeout);
	snprintf(mp, sizeof(mp), "%d", max_pending);
	if (tuples(db, "SELECT pollhub.reap($1, $2, $3)", 3, p, &r) != STORE_OK)
		return STORE_ERROR;
	*removed = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return STORE_OK;
}
