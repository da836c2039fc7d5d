#include "classicstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void
copy_field(char *dst, size_t dstlen, const PGresult *r, int col)
{
	snprintf(dst, dstlen, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

enum store_status
classicstore_negotiate(PGconn *db, const char *id, const char *token, const char *group,
    const char *remote_addr, const char *user_agent)
{
	const char *p[] = { id, token, group, remote_addr, user_agent };
	PGresult *r = store_exec(db, "SELECT pollhub.classic_negotiate($1, $2, $3, $4, $5)", 5, p,
	    PGRES_TUPLES_OK);

	if (r == NULL)
		return STORE_ERROR;
	PQclear(r);
	return STORE_OK;
}

enum store_status
classicstore_connect(PGconn *db, const char *token, const char *transport,
    struct classic_conn *cc)
{
	const char *p[] = { token, transport };
	PGresult *r = store_exec(db, "SELECT status, connection_id, group_name, cursor"
	    " FROM pollhub.classic_connect($1, $2)", 2, p, PGRES_TUPLES_OK);
	enum store_status st = STORE_OK;
	const char *status;

	if (r == NULL)
		return STORE_ERROR;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, "ok") == 0) {
		copy_field(cc->id, sizeof(cc->id), r, 1);
		copy_field(cc->group, sizeof(cc->group), r, 2);
		cc->cursor = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	} else
		st = strcmp(status, "transport") == 0 ? STORE_INVALID : STORE_NOT_FOUND;
	PQclear(r);
	return st;
}

enum store_status
classicstore_receive_begin(PGconn *db, const char *token, struct classic_conn *cc)
{
	const char *p[] = { token };
	PGresult *r = store_exec(db, "SELECT connection_id, group_name, poll_no, transport"
	    " FROM pollhub.classic_receive_begin($1)", 1, p, PGRES_TUPLES_OK);
	enum store_status st = STORE_OK;

	if (r == NULL)
		return STORE_ERROR;
	if (PQgetisnull(r, 0, 3))
		st = STORE_NOT_FOUND;
	else if (PQgetisnull(r, 0, 0))
		st = STORE_INVALID;
	else {
		copy_field(cc->id, sizeof(cc->id), r, 0);
		copy_field(cc->group, sizeof(cc->group), r, 1);
		cc->poll_no = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);
	return st;
}

enum store_status
classicstore_drain(PGconn *db, const char *token, long long poll_no, long long *cursor,
    int limit, struct buf *out, enum classic_drain_status *ds)
{
	char pn[24], cu[24], li[16];
	const char *p[] = { token, pn, cu, li };
	PGresult *r;
	const char *status;

	snprintf(pn, sizeof(pn), "%lld", poll_no);
	snprintf(cu, sizeof(cu), "%lld", *cursor);
	snprintf(li, sizeof(li), "%d", limit);
	r = store_exec(db, "SELECT status, cursor, payload FROM pollhub.classic_drain($1, $2, $3, $4)",
	    4, p, PGRES_TUPLES_OK);
	if (r == NULL)
		return STORE_ERROR;
	status = PQgetvalue(r, 0, 0);
	if (strcmp(status, "ok") == 0) {
		*ds = CDRAIN_OK;
		*cursor = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		if (buf_append(out, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2)) == -1) {
			PQclear(r);
			return STORE_ERROR;
		}
	} else if (strcmp(status, "superseded") == 0)
		*ds = CDRAIN_SUPERSEDED;
	else if (strcmp(status, "closed") == 0) {
		*ds = CDRAIN_CLOSED;
		if (buf_append(out, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2)) == -1) {
			PQclear(r);
			return STORE_ERROR;
		}
	} else
		*ds = CDRAIN_GONE;
	PQclear(r);
	return STORE_OK;
}
