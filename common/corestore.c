#include "corestore.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pgwait.h"
#include "sqlproto.h"

static enum ph_err
command(PGconn *db, const char *sql, int n, const char *const *params)
{
	enum ph_err st;
	PGresult *r = pool_exec(db, sql, n, params, PGRES_COMMAND_OK, &st);

	PQclear(r);
	return st;
}

static enum ph_err
tuples(PGconn *db, const char *sql, int n, const char *const *params, PGresult **out)
{
	enum ph_err st;

	*out = pool_exec(db, sql, n, params, PGRES_TUPLES_OK, &st);
	return st;
}

static void
copy_field(char *dst, size_t dstlen, const PGresult *r, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

const char *
corestore_header_text(char *out, const char *value)
{
	utf8_escape(out, CORESTORE_HEADER_MAX, value, strlen(value));
	return out;
}

enum ph_err
corestore_connection_create(PGconn *db, const char *id, const char *key,
    const struct connection_ask *ask, struct connection_grant *out)
{
	char addr[CORESTORE_HEADER_SIZE], agent[CORESTORE_HEADER_SIZE];
	const char *p[] = { id, key, ask->user, ask->group,
	    corestore_header_text(addr, ask->remote_addr),
	    corestore_header_text(agent, ask->user_agent), ask->hub };
	PGresult *r;
	enum ph_err st;

	memset(out, 0, sizeof(*out));
	if ((st = tuples(db, "SELECT verdict, group_name, permission"
	    " FROM pollhub.connection_create($1, $2, $3, $4, $5, $6, $7)", 7, p, &r)) != PH_OK)
		return st;
	copy_field(out->group, sizeof(out->group), r, 0, 1);
	copy_field(out->permission, sizeof(out->permission), r, 0, 2);
	st = corestore_connection_verdict(r, ask, out);
	PQclear(r);
	return st;
}

enum ph_err
corestore_connection_verdict(const PGresult *r, const struct connection_ask *ask,
    struct connection_grant *out)
{
	const char *verdict = PQgetvalue(r, 0, 0);

	if (strcmp(verdict, "ok") == 0)
		return PH_OK;
	if (strcmp(verdict, "no-hub") == 0)
		return PH_NOT_FOUND;	/* no hub at that path, or of that name */
	/* The user's text is escaped where it is logged, not here. */
	if (strcmp(verdict, "no-default") == 0)
		snprintf(out->why, sizeof(out->why), "no calendar named (?group=) and none is"
		    " the default of user '%.300s': choose one, or set it with"
		    " pollhub.set_default_group", ask->user);
	else if (ask->group == NULL && out->group[0] == '\0')
		snprintf(out->why, sizeof(out->why), "no calendar is granted to user '%.300s'",
		    ask->user);
	else
		snprintf(out->why, sizeof(out->why), "user '%.300s' holds no grant on"
		    " calendar '%.300s'", ask->user, ask->group != NULL ? ask->group : out->group);
	return PH_FORBIDDEN;
}

enum ph_err
corestore_connection_remove(PGconn *db, const char *token, enum corestore_proto proto, char *id,
    size_t idsize, int *was_open)
{
	const char *p[] = { token, proto == PROTO_CLASSIC ? "t" : "f" };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT id, was_open FROM pollhub.disconnect_id($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	st = PQgetisnull(r, 0, 0) ? PH_NOT_FOUND : PH_OK;
	if (st == PH_OK && id != NULL)
		copy_field(id, idsize, r, 0, 0);
	if (was_open != NULL)
		*was_open = st == PH_OK && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return st;
}

enum ph_err
corestore_connection_delete(PGconn *db, const char *token, enum corestore_proto proto)
{
	return corestore_connection_remove(db, token, proto, NULL, 0, NULL);
}

enum ph_err
corestore_poll_begin(PGconn *db, const char *token, struct poll_info *pi)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;

	st = tuples(db, "SELECT connection_id, group_name, poll_no, first_poll, transport"
	    " FROM pollhub.poll_begin($1)", 1, p, &r);
	if (st != PH_OK)
		return st;
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return PH_NOT_FOUND;
	}
	copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 0);
	copy_field(pi->group, sizeof(pi->group), r, 0, 1);
	pi->poll_no = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	pi->first_poll = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	pi->longpolling = strcmp(PQgetvalue(r, 0, 4), SQL_TRANSPORT_LP) == 0;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_stream_begin(PGconn *db, const char *token, struct poll_info *pi,
    enum ph_err *ss)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;
	const char *status;

	st = tuples(db, "SELECT status, connection_id, group_name, poll_no"
	    " FROM pollhub.stream_begin($1)", 1, p, &r);
	if (st != PH_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, SQL_OK) == 0) {
		*ss = PH_OK;
		copy_field(pi->connection_id, sizeof(pi->connection_id), r, 0, 1);
		copy_field(pi->group, sizeof(pi->group), r, 0, 2);
		pi->poll_no = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		pi->first_poll = 0;
		pi->longpolling = 0;
	} else if (strcmp(status, SQL_TRANSPORT) == 0)
		*ss = PH_TRANSPORT;
	else if (strcmp(status, SQL_BUSY) == 0)
		*ss = PH_BUSY;
	else
		*ss = PH_NOT_FOUND;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_touch(PGconn *db, const char *ids)
{
	const char *p[] = { ids };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.touch($1::text[])", 1, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_poll_drain(PGconn *db, const char *token, long long poll_no, size_t budget,
    struct buf *out, enum ph_err *ds, int *more)
{
	char no[24], bud[24];
	const char *p[] = { token, no, bud };
	PGresult *r;
	enum ph_err st;
	const char *status;

	snprintf(no, sizeof(no), "%lld", poll_no);
	snprintf(bud, sizeof(bud), "%zu", budget < INT_MAX ? budget : (size_t)INT_MAX);
	st = tuples(db, "SELECT status, payload, more FROM pollhub.poll_drain($1, $2, $3)", 3, p,
	    &r);
	if (st != PH_OK)
		return st;
	status = PQgetvalue(r, 0, 0);
	*more = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	if (strcmp(status, SQL_GONE) == 0)
		*ds = PH_NOT_FOUND;
	else if (strcmp(status, SQL_SUPERSEDED) == 0)
		*ds = PH_SUPERSEDED;
	else if (strcmp(status, SQL_CLOSED) == 0)
		*ds = PH_CLOSED;
	else if (strcmp(status, SQL_CLOSING) == 0)
		*ds = PH_LAST;
	else
		*ds = PH_OK;
	if (!PQgetisnull(r, 0, 1) &&
	    buf_append(out, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1)) == -1)
		st = PH_DB;
	PQclear(r);
	return st;
}

enum ph_err
corestore_poll_end(PGconn *db, const char *connection_id, long long poll_no)
{
	char no[24];
	const char *p[] = { connection_id, no };
	PGresult *r;
	enum ph_err st;

	snprintf(no, sizeof(no), "%lld", poll_no);
	if ((st = tuples(db, "SELECT pollhub.poll_end($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

/* corestore_send_begin; wait 0: *locked = 0 (and only sc->id and sc->group
 * filled, the transaction rolled back) when another send of the connection
 * holds its send lock. */
static enum ph_err
send_begin(PGconn *db, const char *token, enum corestore_proto proto, int wait,
    struct send_conn *sc, int *locked)
{
	const char *p[] = { token, proto == PROTO_CLASSIC ? "t" : "f", wait ? "t" : "f" };
	PGresult *r;
	enum ph_err st;

	*locked = 0;
	if ((st = command(db, "BEGIN", 0, NULL)) != PH_OK)
		return st;
	/* Binary result: inbound is bytea and may hold any bytes. */
	r = pool_exec_params(db, "SELECT id, group_name, handshaken, closing, inbound, locked"
	    " FROM pollhub.send_begin($1, $2, $3)", 3, p, NULL, NULL, 1, PGRES_TUPLES_OK, &st);
	if (r == NULL) {
		pool_rollback(db);
		return st;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		pool_rollback(db);
		return PH_NOT_FOUND;
	}
	snprintf(sc->id, sizeof(sc->id), "%.*s", PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0));
	snprintf(sc->group, sizeof(sc->group), "%.*s", PQgetlength(r, 0, 1), PQgetvalue(r, 0, 1));
	if (*PQgetvalue(r, 0, 5) == 0) {
		PQclear(r);
		pool_rollback(db);
		return PH_OK;
	}
	*locked = 1;
	sc->handshaken = *PQgetvalue(r, 0, 2) != 0;
	sc->closing = *PQgetvalue(r, 0, 3) != 0;
	sc->stored_handshaken = sc->handshaken;
	sc->stored_len = (size_t)PQgetlength(r, 0, 4);
	buf_reset(&sc->inbound);
	if (buf_append(&sc->inbound, PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4)) == -1) {
		PQclear(r);
		pool_rollback(db);
		return PH_DB;
	}
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_send_begin(PGconn *db, const char *token, enum corestore_proto proto,
    struct send_conn *sc)
{
	int locked;

	return send_begin(db, token, proto, 1, sc, &locked);
}

enum ph_err
corestore_send_open(struct pool *s, const char *token, enum corestore_proto proto, int writes,
    struct send_conn *sc, PGconn **out)
{
	enum ph_err st;
	PGconn *db;
	int locked;

	*out = NULL;
	/* Begin on any connection without waiting; the row says the group. A
	 * POST that writes, or that finds another POST of its connection in
	 * flight (which may be waiting for the calendar's lock), then counts as
	 * the group's, or waits for the group's share holding nothing. */
	if ((db = pool_acquire(s)) == NULL)
		return PH_BUSY;
	if ((st = send_begin(db, token, proto, 0, sc, &locked)) != PH_OK) {
		pool_release(s, db);
		return st;
	}
	if (locked && (!writes || pool_claim(s, db, sc->group) == 0)) {
		*out = db;
		return PH_OK;
	}
	if (locked)
		pool_rollback(db);
	pool_release(s, db);
	if ((db = pool_acquire_for(s, sc->group)) == NULL)
		return PH_BUSY;
	if ((st = send_begin(db, token, proto, 1, sc, &locked)) != PH_OK) {
		pool_release(s, db);
		return st;
	}
	*out = db;
	return PH_OK;
}

enum ph_err
corestore_ping(PGconn *db, const char *token, int *done)
{
	const char *p[] = { token };
	PGresult *r;
	enum ph_err st;

	*done = 0;
	if ((st = tuples(db, "SELECT pollhub.ping($1)", 1, p, &r)) != PH_OK)
		return st;
	*done = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_send_queue(PGconn *db, const char *connection_id, const char *record, long long stamp)
{
	char st[24];
	const char *p[] = { connection_id, record, stamp >= 0 ? st : NULL };
	PGresult *r;

	enum ph_err status;

	snprintf(st, sizeof(st), "%lld", stamp);
	status = tuples(db,
	    "WITH q AS (INSERT INTO pollhub.connection_messages (connection_id, payload, group_seq)"
	    " VALUES ($1, $2, $3::bigint)) SELECT pg_notify('" SQL_CHANNEL "', '" SQL_NOTIFY_CONN "' || $1)",
	    3, p, &r);
	PQclear(r);
	return status;
}

enum ph_err
corestore_join_group(PGconn *db, const char *connection_id, const char *group)
{
	const char *p[] = { connection_id, group };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.join_group($1, $2)", 2, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_mark_closing(PGconn *db, const char *connection_id)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum ph_err st;

	st = command(db, "UPDATE pollhub.connections SET state = 'closing' WHERE id = $1", 1, p);
	if (st == PH_OK)
		st = command(db, "DELETE FROM pollhub.memberships WHERE connection_id = $1", 1, p);
	/* Wake its held poll or stream (at commit): there may be nothing to send. */
	if (st == PH_OK && (st = tuples(db,
	    "SELECT pg_notify('" SQL_CHANNEL "', '" SQL_NOTIFY_CONN "' || $1)",
	    1, p, &r)) == PH_OK)
		PQclear(r);
	return st;
}

enum ph_err
corestore_send_commit(PGconn *db, const struct send_conn *sc, const char *rest, size_t restlen)
{
	const char *p[] = { sc->id, rest, sc->handshaken ? "t" : "f" };
	int lens[] = { 0, (int)restlen, 0 };
	int fmts[] = { 0, 1, 0 };
	PGresult *r;
	enum ph_err st;

	if (restlen > 0 || sc->stored_len > 0 || !sc->handshaken != !sc->stored_handshaken) {
		r = pool_exec_params(db, "UPDATE pollhub.connections SET inbound = $2,"
		    " handshaken = $3, last_seen = now() WHERE id = $1", 3, p, lens, fmts, 0,
		    PGRES_COMMAND_OK, &st);
		if (r == NULL) {
			pool_rollback(db);
			return st;
		}
		PQclear(r);
	}
	if ((st = command(db, "COMMIT", 0, NULL)) != PH_OK)
		pool_rollback(db);
	return st;
}


enum ph_err
corestore_savepoint(PGconn *db)
{
	return command(db, "SAVEPOINT invocation", 0, NULL);
}

enum ph_err
corestore_savepoint_release(PGconn *db)
{
	return command(db, "RELEASE SAVEPOINT invocation", 0, NULL);
}

enum ph_err
corestore_savepoint_rollback(PGconn *db)
{
	return command(db, "ROLLBACK TO SAVEPOINT invocation", 0, NULL);
}

enum ph_err
corestore_responder_seen(PGconn *db, const char *id, int *poll_timeout,
    int *disconnect_timeout)
{
	char pt[32], dt[32];
	const char *p[] = { id, pt, dt };
	PGresult *r;
	enum ph_err st;

	snprintf(pt, sizeof(pt), "%d seconds", *poll_timeout);
	snprintf(dt, sizeof(dt), "%d seconds", *disconnect_timeout);
	if ((st = tuples(db, "SELECT extract(epoch FROM poll_timeout)::integer,"
	    " extract(epoch FROM disconnect_timeout)::integer"
	    " FROM pollhub.responder_seen($1, $2, $3)", 3, p, &r)) != PH_OK)
		return st;
	*poll_timeout = atoi(PQgetvalue(r, 0, 0));
	*disconnect_timeout = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_responder_leave(PGconn *db, const char *id)
{
	const char *p[] = { id };
	PGresult *r;
	enum ph_err st;

	if ((st = tuples(db, "SELECT pollhub.responder_leave($1)", 1, p, &r)) != PH_OK)
		return st;
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_maintain(PGconn *db, const char *id, int poll_timeout, int disconnect_timeout,
    int max_pending, struct maintain_result *res)
{
	char pt[32], dt[32], mp[16];
	const char *p[] = { id, pt, dt, mp };
	PGresult *r;
	enum ph_err st;

	snprintf(pt, sizeof(pt), "%d seconds", poll_timeout);
	snprintf(dt, sizeof(dt), "%d seconds", disconnect_timeout);
	snprintf(mp, sizeof(mp), "%d", max_pending);
	/* A procedure that commits step by step: never inside a transaction. */
	if ((st = tuples(db, "CALL pollhub.maintain($1, $2, $3, $4)", 4, p, &r)) != PH_OK)
		return st;
	res->removed = atoi(PQgetvalue(r, 0, 0));
	res->closed = atoi(PQgetvalue(r, 0, 1));
	res->skipped = atoi(PQgetvalue(r, 0, 2));
	res->max_lock_ms = strtod(PQgetvalue(r, 0, 3), NULL);
	res->removed_ids[0] = res->closed_ids[0] = '\0';
	/* A text[] of ids (no quoting needed: ids are [A-Za-z0-9_-]): drop the braces. */
	if (PQnfields(r) >= 6) {
		const char *v;

		v = PQgetvalue(r, 0, 4);
		snprintf(res->removed_ids, sizeof(res->removed_ids), "%.*s",
		    strlen(v) >= 2 ? (int)strlen(v) - 2 : 0, v + (strlen(v) >= 2));
		v = PQgetvalue(r, 0, 5);
		snprintf(res->closed_ids, sizeof(res->closed_ids), "%.*s",
		    strlen(v) >= 2 ? (int)strlen(v) - 2 : 0, v + (strlen(v) >= 2));
	}
	PQclear(r);
	return PH_OK;
}

enum ph_err
corestore_queued_bytes(PGconn *db, const char *connection_id, long long *bytes)
{
	const char *p[] = { connection_id };
	PGresult *r;
	enum ph_err st;

	st = tuples(db, "SELECT coalesce(sum(octet_length(d.payload) + 1), 0)"
	    " FROM pollhub.connection_messages d WHERE d.connection_id = $1", 1, p, &r);
	if (st != PH_OK)
		return st;
	*bytes = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return PH_OK;
}
