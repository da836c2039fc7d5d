#include "hubstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubproto.h"
#include "kendoquery.h"
#include "log.h"
#include "pool.h"

/* A method's failure that is the method's, not the database's: its SQLSTATE
 * and message go to the client. The database's own troubles (a connection
 * lost, resources, a shutdown, an internal error) and our bounds are not. */
static int
method_failure(const PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	static const char *const ours[] = { "08", "53", "57P", "58", "XX", "55P03", "57014",
	    "40P01", "40001" };

	if (state == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strncmp(state, ours[i], strlen(ours[i])) == 0)
			return 0;
	return 1;
}

/* A statement the server ended at statement_timeout (not one we cancelled
 * at our own deadline, which is a session in trouble): the method's own
 * slowness, told to the client as such. */
static int
method_too_slow(const PGresult *r, enum pgwait_status ws)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return ws != PGWAIT_TIMEOUT && state != NULL && strcmp(state, "57014") == 0;
}

static void
method_error(const PGresult *r, struct hub_invoked *call)
{
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	snprintf(call->state, sizeof(call->state), "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
	snprintf(call->message, sizeof(call->message), "%s", m != NULL ? m : "");
}

enum ph_err
hubstore_invoke(PGconn *db, const char *connection_id, const char *method,
    const char *arguments, struct hub_invoked *call)
{
	const char *p[] = { connection_id, method, arguments };
	enum pgwait_status ws;
	PGresult *r;
	enum ph_err st = PH_OK;

	memset(call, 0, sizeof(*call));
	r = pool_run(db, "SELECT kind, result, fn, item, call_hub, call_group, call_user,"
	    " call_permission FROM pollhub.invoke($1, $2, $3::json)",
	    3, p, &ws);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		if (r != NULL && PQresultStatus(r) == PGRES_FATAL_ERROR && method_failure(r)) {
			method_error(r, call);
			st = PH_INVALID;
		} else {
			st = pool_failure(r, db, ws);
			if (method_too_slow(r, ws))
				st = PH_TIMEOUT;
		}
		PQclear(r);
		return st;
	}
	call->query = strcmp(PQgetvalue(r, 0, 0), "query") == 0;
	if (!PQgetisnull(r, 0, 1) &&
	    buf_append(&call->result, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1)) == -1)
		st = PH_NOMEM;
	if (call->query && st == PH_OK &&
	    ((call->fn = strdup(PQgetvalue(r, 0, 2))) == NULL ||
	    (call->item = strdup(PQgetvalue(r, 0, 3))) == NULL))
		st = PH_NOMEM;
	for (int i = 0; call->query && st == PH_OK && i < 4; i++)
		if (!PQgetisnull(r, 0, 4 + i) &&
		    (call->caller[i] = strdup(PQgetvalue(r, 0, 4 + i))) == NULL)
			st = PH_NOMEM;
	PQclear(r);
	if (st != PH_OK)
		hubstore_call_free(call);
	return st;
}

void
hubstore_call_free(struct hub_invoked *call)
{
	buf_free(&call->result);
	free(call->fn);
	free(call->item);
	call->fn = call->item = NULL;
	for (int i = 0; i < 4; i++) {
		free(call->caller[i]);
		call->caller[i] = NULL;
	}
}

/* The fewest bytes one row's JSON object takes, from its columns: braces
 * and a comma, and per column its quoted name, a colon, the shortest value
 * ("null" or a digit: 1) and a comma. MeetingHub's: about 170. */
static size_t
row_json_min(const struct kq_field *f, size_t n)
{
	size_t min = 3;

	for (size_t i = 0; i < n; i++)
		min += strlen(f[i].name) + 5;
	return min;
}

/* Columns of a query method's rows that a query may name. */
#define QUERY_FIELDS_MAX	200

/* A query method's columns (pollhub.invoke's description) as the fields a
 * Kendo query may name. The names and SQL borrow from cols. */
static int
query_fields(json_object *cols, struct kq_field *f, size_t max, size_t *n)
{
	static const struct { const char *type; enum kq_type kq; } types[] = {
		{ "text", KQ_TEXT }, { "character varying", KQ_TEXT }, { "character", KQ_TEXT },
		{ "citext", KQ_TEXT }, { "name", KQ_TEXT },
		{ "smallint", KQ_INT }, { "integer", KQ_INT }, { "bigint", KQ_INT },
		{ "numeric", KQ_NUMBER }, { "real", KQ_NUMBER }, { "double precision", KQ_NUMBER },
		{ "boolean", KQ_BOOL }, { "uuid", KQ_UUID },
		{ "timestamp with time zone", KQ_TIME }, { "timestamp without time zone", KQ_TIME },
		{ "date", KQ_TIME },
	};

	if (!json_object_is_type(cols, json_type_array) || json_object_array_length(cols) > max)
		return -1;
	*n = json_object_array_length(cols);
	for (size_t i = 0; i < *n; i++) {
		json_object *c = json_object_array_get_idx(cols, i), *name, *type, *sql;

		if (!json_object_object_get_ex(c, "name", &name) ||
		    !json_object_object_get_ex(c, "type", &type) ||
		    !json_object_object_get_ex(c, "sql", &sql))
			return -1;
		f[i].name = json_object_get_string(name);
		f[i].column = json_object_get_string(sql);
		f[i].type = KQ_OPAQUE;
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (strcmp(json_object_get_string(type), types[t].type) == 0)
				f[i].type = types[t].kq;
	}
	return 0;
}

/* Build the query's one statement: the group's stamp and (paged) the total
 * in the same snapshot as the page, one row per item (NULL j: none).
 * $1 the group's key, $2..$6 the caller's fields, $7 the query; the
 * translation's from $8. The caller is a ROW of parameters, not one of
 * type pollhub.hub_call: the planner then sees its group as a value. */
static int
query_sql(struct buf *b, const struct hub_invoked *call, const struct kq_sql *q, int paged,
    int limit_param)
{
	struct buf from = { 0 };
	char lim[64];
	int rc;

	rc = buf_puts(&from, call->fn) | buf_puts(&from, "(ROW($2, $3, $4, $5, $6)::pollhub.hub_call, $7::jsonb) r WHERE ") |
	    buf_puts(&from, q->where.data) | buf_putc(&from, '\0');
	if (rc == 0) {
		rc = buf_puts(b, "SELECT s.stamp, s.total, p.j FROM (SELECT coalesce((SELECT"
		    " g.last_seq FROM pollhub.groups g WHERE g.name = $1), 0) AS stamp, ");
		if (paged)
			rc |= buf_puts(b, "(SELECT count(*) FROM ") | buf_puts(b, from.data) |
			    buf_puts(b, ") AS total");
		else
			rc |= buf_puts(b, "NULL::bigint AS total");
		/* Start and End are the method's to apply (it has the query); the
		 * translation checked them and bound them: typed here, unused. */
		for (int i = 0; i < 2; i++) {
			char range[40];
			int n = i == 0 ? q->range_start : q->range_end;

			if (n > 0) {
				snprintf(range, sizeof(range), ", $%d::timestamptz AS range%d", n, i);
				rc |= buf_puts(b, range);
			}
		}
		rc |= buf_puts(b, ") s LEFT JOIN LATERAL (SELECT (") | buf_puts(b, call->item) |
		    buf_puts(b, ")::text AS j FROM ") | buf_puts(b, from.data);
		if (q->order.data[0] != '\0')
			rc |= buf_puts(b, " ORDER BY ") | buf_puts(b, q->order.data);
		snprintf(lim, sizeof(lim), " LIMIT $%d::bigint OFFSET $%d::bigint",
		    limit_param, limit_param + 1);
		rc |= buf_puts(b, lim) | buf_puts(b, ") p ON true") | buf_putc(b, '\0');
	}
	buf_free(&from);
	return rc ? -1 : 0;
}

/* The rows of r as the answer: a bare array, or Kendo's { Data, Total }. */
static enum ph_err
query_answer(const PGresult *r, int paged, size_t max_answer, struct buf *out,
    struct hub_read *rd)
{
	int n = PQntuples(r);
	size_t len = paged ? 32 : 2;

	for (int i = 0; i < n; i++)
		len += (size_t)PQgetlength(r, i, 2) + 1;
	if ((max_answer > 0 && len + 64 > max_answer) || rd->at_least) {
		rd->too_large = len;
		return PH_TOO_LARGE;
	}
	if (buf_puts(out, paged ? "{\"Data\":[" : "[") == -1)
		return PH_NOMEM;
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(r, i, 2))
			continue;
		if ((i > 0 && buf_putc(out, ',') == -1) ||
		    buf_append(out, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2)) == -1)
			return PH_NOMEM;
	}
	if (buf_putc(out, ']') == -1 ||
	    (paged && (buf_puts(out, ",\"Total\":") == -1 ||
	    buf_puts(out, PQgetvalue(r, 0, 1)) == -1 || buf_putc(out, '}') == -1)))
		return PH_NOMEM;
	return PH_OK;
}

enum ph_err
hubstore_query(PGconn *db, const char *group_key, const char *connection_id,
    const struct hub_invoked *call, json_object *query, size_t max_answer, struct buf *out,
    struct hub_read *rd)
{
	struct kq_field fields[QUERY_FIELDS_MAX];
	struct kq_schema schema = { fields, 0, "", NULL, 1 };
	struct kq_sql q;
	struct buf sql = { 0 };
	const char *p[KQ_MAX_PARAMS + 9];
	const char *query_text = query != NULL ?
	    json_object_to_json_string_ext(query, JSON_C_TO_STRING_PLAIN) : NULL;
	char take[24], skip[24];
	json_object *cols;
	enum pgwait_status ws;
	PGresult *r = NULL;
	enum ph_err st;
	long long cap, limit;
	int paged, n;

	rd->stamp = -1;
	rd->at_least = 0;
	rd->too_large = 0;
	rd->why[0] = '\0';
	rd->state[0] = '\0';
	if ((cols = hubproto_json_parse(call->result.data, call->result.len)) == NULL ||
	    query_fields(cols, fields, QUERY_FIELDS_MAX, &schema.nfields) == -1) {
		json_object_put(cols);
		log_error("hub query %s: a column list pollhub.invoke should not give", call->fn);
		return PH_DB;
	}
	/* Pages never overlap: a sort is completed by the first column (a key,
	 * by convention: ID); without one the method's own order stands. */
	schema.tiebreak = schema.nfields > 0 ? fields[0].column : NULL;
	st = kendoquery_translate(&schema, query, 8, &q, rd->why, sizeof(rd->why));
	if (st != PH_OK) {
		json_object_put(cols);
		return st;
	}
	paged = q.take >= 0;
	rd->whole = q.range_start == 0 && q.range_end == 0 && strcmp(q.where.data, "true") == 0 &&
	    !paged && q.skip == 0;
	p[0] = group_key;
	p[1] = call->caller[0];		/* hub */
	p[2] = connection_id;
	p[3] = call->caller[1];		/* group, as the client named it */
	p[4] = call->caller[2];		/* user */
	p[5] = call->caller[3];		/* permission */
	p[6] = query_text;
	for (n = 0; n < q.nparams; n++)
		p[n + 7] = q.params[n];
	/* An answer of more rows than cap passes max_answer whatever they hold:
	 * fetch one row past it and refuse, rather than build a whole large
	 * calendar to measure it (7.9 MB, half a second, for 20,000 meetings). */
	cap = max_answer > 0 ?
	    (long long)(max_answer / row_json_min(fields, schema.nfields)) + 1 : -1;
	limit = paged && (cap < 0 || q.take < cap) ? q.take : cap;
	snprintf(take, sizeof(take), "%lld", limit);
	snprintf(skip, sizeof(skip), "%lld", q.skip);
	p[n + 7] = limit >= 0 ? take : NULL;	/* LIMIT NULL: no limit */
	p[n + 8] = skip;
	if (query_sql(&sql, call, &q, paged, n + 8) == -1) {
		st = PH_NOMEM;
		goto done;
	}
	r = pool_run(db, sql.data, n + 9, p, &ws);
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
		rd->stamp = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rd->at_least = limit == cap && PQntuples(r) == cap;
		st = query_answer(r, paged, max_answer, out, rd);
	} else if (r != NULL && PQresultStatus(r) == PGRES_FATAL_ERROR && method_failure(r)) {
		/* The method's own RAISE, or a value PostgreSQL refuses (a date
		 * out of its range): the client's to read. */
		snprintf(rd->state, sizeof(rd->state), "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
		snprintf(rd->why, sizeof(rd->why), "%s", PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
		st = PH_INVALID;
	} else {
		st = pool_failure(r, db, ws);
		if (method_too_slow(r, ws))
			st = PH_TIMEOUT;
	}
done:
	PQclear(r);
	buf_free(&sql);
	kendoquery_free(&q);
	json_object_put(cols);
	return st;
}

