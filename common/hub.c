#include "hub.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "corestore.h"
#include "meeting.h"
#include "utf8.h"

enum method { M_READ, M_CREATE, M_UPDATE, M_DESTROY, M_UNKNOWN };

static const char *const method_names[] = { "read", "create", "update", "destroy" };

static enum method
method_lookup(const char *target)
{
	for (int i = 0; i < M_UNKNOWN; i++)
		if (strcasecmp(target, method_names[i]) == 0)
			return (enum method)i;
	return M_UNKNOWN;
}

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
run_meeting(const struct hub_caller *c, enum method m, const char *target,
    json_object *arg, struct outcome *o)
{
	struct meeting mt;
	char why[300];
	enum ph_err st;
	static const enum meeting_mode modes[] = {
		[M_CREATE] = MEETING_CREATE, [M_UPDATE] = MEETING_UPDATE,
		[M_DESTROY] = MEETING_DESTROY };

	if (meeting_from_json(arg, modes[m], &mt, why, sizeof(why)) == -1) {
		fail_invoke(o, c, target, "HubException", why);
		return;
	}
	why[0] = '\0';
	if (m == M_CREATE)
		st = corestore_meeting_create(c->db, c->group, &mt, &o->result, why, sizeof(why));
	else if (m == M_UPDATE)
		st = corestore_meeting_update(c->db, c->group, &mt, &o->result, why, sizeof(why));
	else
		st = corestore_meeting_destroy(c->db, c->group, &mt, &o->result);
	meeting_free(&mt);
	switch (st) {
	case PH_OK:
		/* destroy is void, like the seed's Destroy(). */
		if (m == M_DESTROY)
			buf_reset(&o->result);
		break;
	case PH_NOT_FOUND:
		fail_invoke(o, c, target, "HubException",
		    "Meeting not found: no meeting with this 'ID' in this calendar.");
		break;
	case PH_INVALID:
		fail_invoke(o, c, target, "HubException", why);
		break;
	case PH_FORBIDDEN:
		/* The trigger's own words: they begin "Not allowed:". */
		snprintf(o->error, sizeof(o->error), "%s", why);
		break;
	case PH_BUSY:
		/* An open transaction elsewhere (an administrator's in psql) holds
		 * this calendar or meeting past lock_timeout: nothing was saved. */
		fail_invoke(o, c, target, "HubException", "The calendar is being changed in"
		    " another session; nothing was saved. Try again.");
		break;
	default:	/* PH_DB: the statements answer nothing else */
		o->db_failed = 1;
		fail_invoke(o, c, target, "PostgresException", "the database is unavailable.");
		break;
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

/* read(query): the meetings Kendo's DataSource asks for (corestore's
 * translation of its range, filter, sort and page). */
static void
run_read(const struct hub_caller *c, const char *target, json_object *q, struct outcome *o)
{
	struct corestore_read rd;
	char why[400];

	switch (corestore_meetings_query(c->db, c->group, q, c->max_answer, &o->result, &rd)) {
	case PH_OK:
		o->stamp = rd.stamp;
		pending_bound(c, target, o);
		break;
	case PH_INVALID:
		fail_invoke(o, c, target, "HubException", rd.why);
		break;
	case PH_TOO_LARGE:
		/* A poll answer or event is bounded: an answer too large for one
		 * is refused by name rather than sent whole, with the way out. */
		if (rd.whole)
			snprintf(why, sizeof(why), "The calendar is too large to send (%s%zu bytes;"
			    " POLLHUB_MAX_ANSWER is %zu). Read it by range: set the DataSource's"
			    " serverFiltering: true and a parameterMap that sends the visible range"
			    " as { Start, End } (README, \"Reading by range\").",
			    rd.at_least ? "more than " : "", rd.too_large,
			    c->max_answer);
		else
			snprintf(why, sizeof(why), "The result is too large to send (%s%zu bytes;"
			    " POLLHUB_MAX_ANSWER is %zu). Ask for less: a narrower range, a filter,"
			    " or take.", rd.at_least ? "more than " : "", rd.too_large,
			    c->max_answer);
		buf_free(&o->result);
		fail_invoke(o, c, target, "HubException", why);
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
	/* A target with an embedded NUL names no method, whatever its prefix. */
	enum method m = strlen(msg->target) == msg->target_len ?
	    method_lookup(msg->target) : M_UNKNOWN;
	size_t argc = json_object_array_length(msg->arguments);
	char detail[160];

	if (m == M_UNKNOWN) {
		/* ASP.NET Core says this in every mode: binding throws a HubException. */
		snprintf(o->error, sizeof(o->error), "Failed to invoke '%.*s' due to an error on"
		    " the server. HubException: Method does not exist.",
		    utf8_prefix(msg->target, 100), msg->target);
		return;
	}
	if (msg->type == HUB_STREAM_INVOCATION) {
		snprintf(o->error, sizeof(o->error), "The client attempted to invoke the"
		    " non-streaming '%.*s' method with a streaming invocation.",
		    utf8_prefix(msg->target, 100), msg->target);
		return;
	}
	/* read takes the Kendo query object or nothing; the others one meeting. */
	if ((m == M_READ && argc > 1) || (m != M_READ && argc != 1)) {
		snprintf(detail, sizeof(detail), "InvalidDataException: Invocation provides %zu"
		    " argument(s) but target expects %s.", argc, m == M_READ ? "0 or 1" : "1");
		fail_binding(o, c, msg->target, detail);
		return;
	}
	if (m == M_READ) {
		json_object *q = argc ? json_object_array_get_idx(msg->arguments, 0) : NULL;
		if (q != NULL && !json_object_is_type(q, json_type_object)) {
			fail_binding(o, c, msg->target, "InvalidDataException: Error binding"
			    " arguments. Make sure that the types of the provided values match the"
			    " types of the hub method being invoked.");
			return;
		}
		run_read(c, msg->target, q, o);
		return;
	}
	if (c->read_only) {
		/* Checked again by the meetings trigger, in the same transaction:
		 * a grant lowered meanwhile is not missed. */
		snprintf(o->error, sizeof(o->error), "Not allowed: user '%.*s' may only read"
		    " calendar '%.*s'.", utf8_prefix(c->user, 200), c->user,
		    utf8_prefix(c->group, 200), c->group);
		return;
	}
	run_meeting(c, m, msg->target, json_object_array_get_idx(msg->arguments, 0), o);
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
	if (corestore_savepoint(c->db) != PH_OK)
		return -1;
	dispatch(c, msg, &o);
	if (o.error[0] != '\0' ? corestore_savepoint_rollback(c->db) : corestore_savepoint_release(c->db))
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
	enum method m;

	if (msg->type != HUB_INVOCATION && msg->type != HUB_STREAM_INVOCATION)
		return 0;
	m = strlen(msg->target) == msg->target_len ? method_lookup(msg->target) : M_UNKNOWN;
	return m == M_CREATE || m == M_UPDATE || m == M_DESTROY;
}
