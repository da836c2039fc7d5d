#include "hub.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "corestore.h"
#include "hubstore.h"
#include "log.h"
#include "utf8.h"

/* A method that runs past statement_timeout (POLLHUB_DB_STATEMENT_TIMEOUT):
 * the server ended it, and its transaction's savepoint is rolled back. */
#define TOO_SLOW "The method ran longer than the database allows a statement"\
	" (POLLHUB_DB_STATEMENT_TIMEOUT); nothing was saved."

/* A value method's result above this many bytes is checked against the
 * connection's pending bound, as every query method's is. */
#define VALUE_PENDING_CHECK	65536

/* What one invocation produced: a result (JSON text) or an error message. */
struct outcome {
	struct buf	result;		/* JSON text; empty = null */
	char		error[600];	/* non-empty = failed */
	int		db_failed;
	long long	stamp;		/* the group's last_seq the result reflects; -1 */
};

static void
fail_invoke(struct outcome *o, const struct hub_caller *c, const char *target,
    const char *type, const char *detail)
{
	/* HubException details always reach the client; others only when detailed. */
	if (detail != NULL && (strcmp(type, "HubException") == 0 || c->detailed_errors))
		snprintf(o->error, sizeof(o->error),
		    "An unexpected error occurred invoking '%.*s' on the server. %s: %s",
		    utf8_prefix(target, 100), target, type, detail);
	else
		snprintf(o->error, sizeof(o->error),
		    "An unexpected error occurred invoking '%.*s' on the server.",
		    utf8_prefix(target, 100), target);
}

static void
fail_binding(struct outcome *o, const struct hub_caller *c, const char *target,
    const char *detail)
{
	if (c->detailed_errors && detail != NULL)
		snprintf(o->error, sizeof(o->error),
		    "Failed to invoke '%.*s' due to an error on the server. %s",
		    utf8_prefix(target, 100), target, detail);
	else
		snprintf(o->error, sizeof(o->error),
		    "Failed to invoke '%.*s' due to an error on the server.",
		    utf8_prefix(target, 100), target);
}

static void
method_missing(struct outcome *o, const char *target)
{
	/* ASP.NET Core says this in every mode: binding throws a HubException. */
	snprintf(o->error, sizeof(o->error), "Failed to invoke '%.*s' due to an error on"
	    " the server. HubException: Method does not exist.", utf8_prefix(target, 100), target);
}

/* A method's failure, by its SQLSTATE (pollhub.invoke's own are class PH),
 * in ASP.NET Core's words. */
static void
method_failed(struct outcome *o, const struct hub_caller *c, const char *target,
    const char *state, const char *message)
{
	char detail[480];

	if (strcmp(state, "PHM01") == 0) {
		method_missing(o, target);
	} else if (strcmp(state, "PHA01") == 0) {
		snprintf(detail, sizeof(detail), "InvalidDataException: %s", message);
		fail_binding(o, c, target, detail);
	} else if (strcmp(state, "42501") == 0) {
		/* invoke's, or a trigger's: they begin "Not allowed:". */
		snprintf(o->error, sizeof(o->error), "%s", message);
	} else if (strcmp(state, "22P05") == 0) {
		/* \u0000 in an argument of a method that takes jsonb. */
		fail_invoke(o, c, target, "HubException", "An argument holds the character U+0000,"
		    " which PostgreSQL cannot store in text.");
	} else if (strcmp(state, "P0001") == 0) {
		/* The method's RAISE EXCEPTION: its message is for the client. */
		fail_invoke(o, c, target, "HubException", message);
	} else {
		/* A broken method (a mistake in its SQL, a cast that fails): the
		 * administrator's to read, in the log; the client learns it only
		 * with detailed errors. */
		log_warn("hub method '%s' failed: SQLSTATE %s: %s", LOG_TEXT(target), state,
		    LOG_TEXT(message));
		fail_invoke(o, c, target, "PostgresException", message);
	}
}

/* A read's result is queued for the connection until it polls: one POST of
 * many reads of a large calendar would fill the database. Refuse the result
 * that would take the connection's queue past max_pending_bytes. */
static void
pending_bound(const struct hub_caller *c, const char *target, struct outcome *o)
{
	long long queued;
	char why[300];

	if (c->max_pending_bytes == 0)
		return;
	if (corestore_queued_bytes(c->db, c->connection_id, &queued) != PH_OK) {
		o->db_failed = 1;
		fail_invoke(o, c, target, "PostgresException", "the database is unavailable.");
		return;
	}
	if ((size_t)queued + o->result.len + 64 <= c->max_pending_bytes)
		return;
	snprintf(why, sizeof(why), "The result (%zu bytes) would take what is queued for this"
	    " connection (%lld bytes) past POLLHUB_MAX_PENDING_BYTES (%zu); nothing was queued."
	    " Take what is pending, then read again.", o->result.len, queued, c->max_pending_bytes);
	buf_free(&o->result);
	o->stamp = -1;
	fail_invoke(o, c, target, "HubException", why);
}

/* A query method's rows: what Kendo's DataSource sent (its range, filter,
 * sort and page) over the rows the method returns. */
static void
run_query(const struct hub_caller *c, const char *target, const struct hub_invoked *call,
    json_object *args, struct outcome *o)
{
	struct hub_read rd;
	json_object *q = json_object_array_length(args) > 0 ?
	    json_object_array_get_idx(args, 0) : NULL;
	char why[400];

	if (q != NULL && !json_object_is_type(q, json_type_object)) {
		fail_binding(o, c, target, "InvalidDataException: Error binding arguments. Make sure"
		    " that the types of the provided values match the types of the hub method being"
		    " invoked.");
		return;
	}
	switch (hubstore_query(c->db, c->group, c->connection_id, call, q, c->max_answer,
	    &o->result, &rd)) {
	case PH_OK:
		o->stamp = rd.stamp;
		pending_bound(c, target, o);
		break;
	case PH_INVALID:
		if (strcmp(rd.state, "P0001") == 0 || rd.state[0] == '\0' ||
		    strncmp(rd.state, "22", 2) == 0)
			fail_invoke(o, c, target, "HubException", rd.why);
		else
			method_failed(o, c, target, rd.state, rd.why);
		break;
	case PH_TOO_LARGE:
		/* A poll answer or event is bounded: an answer too large for one
		 * is refused by name rather than sent whole, with the way out. */
		if (rd.whole)
			snprintf(why, sizeof(why), "The calendar is too large to send (%s%zu bytes;"
			    " POLLHUB_MAX_ANSWER is %zu). Read it by range: set the DataSource's"
			    " serverFiltering: true and a parameterMap that sends the visible range"
			    " as { Start, End } (README, \"Reading by range\").",
			    rd.at_least ? "more than " : "", rd.too_large, c->max_answer);
		else
			snprintf(why, sizeof(why), "The result is too large to send (%s%zu bytes;"
			    " POLLHUB_MAX_ANSWER is %zu). Ask for less: a narrower range, a filter,"
			    " or take.", rd.at_least ? "more than " : "", rd.too_large,
			    c->max_answer);
		buf_free(&o->result);
		fail_invoke(o, c, target, "HubException", why);
		break;
	case PH_TIMEOUT:
		fail_invoke(o, c, target, "HubException", TOO_SLOW);
		break;
	case PH_BUSY:
		/* A lock held elsewhere (a restore's TRUNCATE in psql). */
		fail_invoke(o, c, target, "HubException", "The calendar is being"
		    " changed in another session. Try again.");
		break;
	default:
		o->db_failed = 1;
		fail_invoke(o, c, target, "PostgresException", "the database is unavailable.");
		break;
	}
}

static void
dispatch(const struct hub_caller *c, const struct hub_message *msg, struct outcome *o)
{
	struct hub_invoked call;
	const char *args;

	/* A target with an embedded NUL names no method, whatever its prefix. */
	if (strlen(msg->target) != msg->target_len) {
		method_missing(o, msg->target);
		return;
	}
	if (msg->type == HUB_STREAM_INVOCATION) {
		snprintf(o->error, sizeof(o->error), "The client attempted to invoke the"
		    " non-streaming '%.*s' method with a streaming invocation.",
		    utf8_prefix(msg->target, 100), msg->target);
		return;
	}
	/* Borrowed from msg->arguments: valid until it is changed or freed. */
	args = json_object_to_json_string_ext(msg->arguments, JSON_C_TO_STRING_PLAIN);
	switch (hubstore_invoke(c->db, c->connection_id, msg->target, args, &call)) {
	case PH_OK:
		if (call.query) {
			run_query(c, msg->target, &call, msg->arguments, o);
		} else {
			/* Ownership of the result moves to the outcome. */
			o->result = call.result;
			memset(&call.result, 0, sizeof(call.result));
			if (c->max_answer > 0 && o->result.len + 64 > c->max_answer) {
				char why[200];

				snprintf(why, sizeof(why), "The result is too large to send (%zu bytes;"
				    " POLLHUB_MAX_ANSWER is %zu).", o->result.len, c->max_answer);
				buf_free(&o->result);
				fail_invoke(o, c, msg->target, "HubException", why);
			} else if (o->result.len > VALUE_PENDING_CHECK) {
				/* Only a large result can fill the queue: a create's
				 * answer costs no statement for it. */
				pending_bound(c, msg->target, o);
			}
		}
		hubstore_call_free(&call);
		break;
	case PH_INVALID:
		method_failed(o, c, msg->target, call.state, call.message);
		break;
	case PH_TIMEOUT:
		fail_invoke(o, c, msg->target, "HubException", TOO_SLOW);
		break;
	case PH_BUSY:
		/* An open transaction elsewhere (an administrator's in psql) holds
		 * what the method changes past lock_timeout: nothing was saved. */
		fail_invoke(o, c, msg->target, "HubException", "The calendar is being changed in"
		    " another session; nothing was saved. Try again.");
		break;
	default:	/* PH_DB, PH_NOMEM */
		o->db_failed = 1;
		fail_invoke(o, c, msg->target, "PostgresException", "the database is unavailable.");
		break;
	}
}

int
hub_invoke(const struct hub_caller *c, const struct hub_message *msg, struct buf *completion,
    long long *stamp)
{
	struct outcome o;
	json_object *result = NULL;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	o.stamp = -1;
	/* The savepoint is left open after the method: what follows (its
	 * completion, the connection's row) runs inside it and COMMIT commits
	 * it all the same, without a RELEASE's round trip. Only a POST's next
	 * invocation releases it first, so that savepoints do not nest. */
	if (c->savepoint != NULL && *c->savepoint) {
		if (corestore_savepoint_release(c->db) != PH_OK)
			return -1;
		*c->savepoint = 0;
	}
	if (corestore_savepoint(c->db) != PH_OK)
		return -1;
	if (c->savepoint != NULL)
		*c->savepoint = 1;
	dispatch(c, msg, &o);
	if (o.error[0] != '\0' && corestore_savepoint_rollback(c->db) != PH_OK)
		o.db_failed = 1;
	if (o.db_failed)
		rc = -1;
	if (msg->invocation_id == NULL)
		goto done;
	if (o.error[0] != '\0') {
		if (hubproto_completion_error(completion, msg->invocation_id, o.error) == -1)
			rc = -1;
		goto done;
	}
	if (o.result.len > 0 && (result = hubproto_json_parse(o.result.data, o.result.len)) == NULL)
		rc = -1;
	else if (hubproto_completion_result(completion, msg->invocation_id, result) == -1)
		rc = -1;
	json_object_put(result);
done:
	if (stamp != NULL)
		*stamp = o.error[0] != '\0' ? -1 : o.stamp;
	buf_free(&o.result);
	return rc;
}

int
hub_refuse(const struct hub_caller *c, const struct hub_message *msg, const char *why,
    struct buf *completion)
{
	struct outcome o;

	if (msg->invocation_id == NULL)
		return 0;
	memset(&o, 0, sizeof(o));
	fail_invoke(&o, c, msg->target, "HubException", why);
	return hubproto_completion_error(completion, msg->invocation_id, o.error);
}

int
hub_writes(const struct hub_message *msg)
{
	/* Decided before the POST's transaction, from the name alone: every
	 * method may write but read, which a query method or a STABLE function
	 * serves by convention (as Kendo's DataSource names it). */
	if (msg->type != HUB_INVOCATION && msg->type != HUB_STREAM_INVOCATION)
		return 0;
	return strlen(msg->target) != msg->target_len || strcasecmp(msg->target, "read") != 0;
}
