#include "classicstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlproto.h"

static void
copy_field(char *dst, size_t dstlen, const PGresult *r, int col)
{
	snprintf(dst, dstlen, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/* A one-row result (a function with OUT parameters), or NULL (logged) and
 * *st: PH_BUSY when it gave up waiting, else PH_DB. */
static PGresult *
one_row(PGconn *db, const char *sql, int n, const char *const *params, enum ph_err *st)
{
	PGresult *r = pool_exec(db, sql, n, params, PGRES_TUPLES_OK, st);

	if (r != NULL && PQntuples(r) < 1) {
		log_error("classic query returned no row: %s", sql);
		PQclear(r);
		r = NULL;
		*st = PH_DB;
	}
	return r;
}

enum ph_err
classicstore_negotiate(PGconn *db, const char *id, const char *key,
    const struct connection_ask *ask, struct connection_grant *out)
{
	char addr[CORESTORE_HEADER_SIZE], agent[CORESTORE_HEADER_SIZE];
	const char *p[] = { id, key, ask->user, ask->group,
	    corestore_header_text(addr, ask->remote_addr),
	    corestore_header_text(agent, ask->user_agent), ask->hub };
	enum ph_err st;
	PGresult *r = pool_exec(db, "SELECT verdict, group_name, permission"
	    " FROM pollhub.classic_negotiate($1, $2, $3, $4, $5, $6, $7)",
	    7, p, PGRES_TUPLES_OK, &st);

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return PH_DB;
	}
	snprintf(out->group, sizeof(out->group), "%s", PQgetvalue(r, 0, 1));
	snprintf(out->permission, sizeof(out->permission), "%s", PQgetvalue(r, 0, 2));
	st = corestore_connection_verdict(r, ask, out);
	PQclear(r);
	return st;
}

enum ph_err
classicstore_exists(PGconn *db, const char *token)
{
	const char *p[] = { token };
	enum ph_err st;
	PGresult *r = one_row(db, "SELECT pollhub.classic_exists($1)", 1, p, &st);

	if (r == NULL)
		return st;
	st = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? PH_OK : PH_NOT_FOUND;
	PQclear(r);
	return st;
}

/* A statement answering (status, connection_id, group_name, a number): on
 * SQL_OK, cc's id and group and *no filled, PH_OK; else PH_NOT_FOUND
 * (SQL_GONE: unknown, or a Core connection; SQL_CLOSED alike). */
static enum ph_err
conn_row(PGconn *db, const char *sql, int n, const char *const *p, struct classic_conn *cc,
    long long *no)
{
	enum ph_err st;
	PGresult *r = one_row(db, sql, n, p, &st);

	if (r == NULL)
		return st;
	st = PH_NOT_FOUND;
	if (strcmp(PQgetvalue(r, 0, 0), SQL_OK) == 0) {
		copy_field(cc->id, sizeof(cc->id), r, 1);
		copy_field(cc->group, sizeof(cc->group), r, 2);
		*no = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		st = PH_OK;
	}
	PQclear(r);
	return st;
}

enum ph_err
classicstore_connect(PGconn *db, const char *token, const char *transport,
    struct classic_conn *cc)
{
	const char *p[] = { token, transport };

	return conn_row(db, "SELECT status, connection_id, group_name, cursor"
	    " FROM pollhub.classic_connect($1, $2)", 2, p, cc, &cc->cursor);
}

enum ph_err
classicstore_receive_begin(PGconn *db, const char *token, struct classic_conn *cc)
{
	const char *p[] = { token };

	return conn_row(db, "SELECT status, connection_id, group_name, poll_no"
	    " FROM pollhub.classic_receive_begin($1)", 1, p, cc, &cc->poll_no);
}

enum ph_err
classicstore_drain(PGconn *db, const char *token, const struct classic_drain_at *at,
    classic_record_fn fn, void *arg, long long *cursor, struct buf *reason,
    enum ph_err *ds)
{
	char pn[24], ack[24], from[24], li[16];
	const char *p[] = { token, pn, ack, from, at->stream ? "t" : "f", li };
	PGresult *r;
	const char *status;
	enum ph_err st = PH_OK;

	snprintf(pn, sizeof(pn), "%lld", at->poll_no);
	snprintf(ack, sizeof(ack), "%lld", at->ack);
	snprintf(from, sizeof(from), "%lld", at->from);
	snprintf(li, sizeof(li), "%d", at->limit);
	/* One row per record (seq, payload), or one with both NULL; status and
	 * cursor are the same in every row. */
	r = one_row(db, "SELECT status, cursor, seq, payload"
	    " FROM pollhub.classic_drain($1, $2, $3, $4, $5, $6)", 6, p, &st);
	if (r == NULL)
		return st;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, SQL_OK) == 0) {
		*ds = PH_OK;
		for (int i = 0; i < PQntuples(r) && st == PH_OK; i++) {
			if (PQgetisnull(r, i, 2) || PQgetisnull(r, i, 3))
				continue;
			if (fn(arg, strtoll(PQgetvalue(r, i, 2), NULL, 10), PQgetvalue(r, i, 3),
			    (size_t)PQgetlength(r, i, 3)) == -1) {
				log_error("classic drain: out of memory");
				st = PH_DB;
			}
		}
		if (st == PH_OK)
			*cursor = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	} else if (strcmp(status, SQL_SUPERSEDED) == 0) {
		*ds = PH_SUPERSEDED;
	} else if (strcmp(status, SQL_CLOSED) == 0) {
		*ds = PH_CLOSED;
		if (!PQgetisnull(r, 0, 3) &&
		    buf_append(reason, PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3)) == -1)
			st = PH_DB;
	} else
		*ds = PH_NOT_FOUND;
	PQclear(r);
	return st;
}
