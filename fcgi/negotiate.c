#include "negotiate.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ids.h"
#include "log.h"
#include "query.h"
#include "utf8.h"

int
negotiate_version(const char *query, size_t len)
{
	char v[32], *end;
	long n;
	int found = query_get(query, len, "negotiateVersion", v, sizeof(v));

	if (found == 0)
		return 0;
	if (found < 0 || v[0] == '\0')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	if (n < 0)
		return -2;
	return n >= 1 ? 1 : 0;
}

enum ph_err
negotiate_group(const char *query, size_t len, const char *param,
    const char *remote_addr, char *out, size_t outlen)
{
	const char *g = remote_addr;
	int found = 0;

	if (param != NULL && *param != '\0') {
		found = query_get(query, len, param, out, outlen);
		if (found < 0)
			return PH_INVALID;
	}
	if (found == 0 || out[0] == '\0') {
		if (strlen(g) + 1 > outlen)
			return PH_INVALID;
		memcpy(out, g, strlen(g) + 1);
	}
	return negotiate_group_valid(out) ? PH_OK : PH_INVALID;
}

int
negotiate_group_valid(const char *name)
{
	return utf8_name_valid(name, strlen(name), SQL_GROUP_MAX);
}

static int
add(json_object *o, const char *k, json_object *v)
{
	if (v == NULL || json_object_object_add(o, k, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Append t (consumed) to the array a. */
static int
append(json_object *a, json_object *t)
{
	if (t == NULL || json_object_array_add(a, t) != 0) {
		json_object_put(t);
		return -1;
	}
	return 0;
}

static json_object *
transport(const char *name, int binary)
{
	json_object *t = json_object_new_object(), *f = json_object_new_array();

	if (t == NULL || f == NULL)
		goto fail;
	if (json_object_array_add(f, json_object_new_string("Text")) != 0 ||
	    (binary && json_object_array_add(f, json_object_new_string("Binary")) != 0))
		goto fail;
	if (add(t, "transport", json_object_new_string(name)) == -1)
		goto fail;
	if (add(t, "transferFormats", f) == -1) {
		f = NULL;
		goto fail;
	}
	return t;
fail:
	json_object_put(f);
	json_object_put(t);
	return NULL;
}

int
negotiate_body(struct buf *out, int version, const char *id, const char *token)
{
	json_object *o = json_object_new_object(), *ts = json_object_new_array();
	int rc = -1;

	if (o == NULL || ts == NULL)
		goto done;
	/* ASP.NET's order: negotiateVersion, connectionId, connectionToken, transports.
	 * Only transports that work here: no WebSockets through FastCGI. */
	if (add(o, "negotiateVersion", json_object_new_int(version)) == -1 ||
	    add(o, "connectionId", json_object_new_string(id)) == -1 ||
	    (version > 0 && add(o, "connectionToken", json_object_new_string(token)) == -1))
		goto done;
	/* ASP.NET's order too: the client takes the first that works. */
	if (append(ts, transport("ServerSentEvents", 0)) == -1 ||
	    append(ts, transport("LongPolling", 1)) == -1)
		goto done;
	if (add(o, "availableTransports", ts) == -1) {
		ts = NULL;
		goto done;
	}
	ts = NULL;
	rc = buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
done:
	json_object_put(ts);
	json_object_put(o);
	return rc;
}

void
negotiate_decide(const char *query, size_t len, const char *group_param,
    const char *remote_addr, struct negotiate_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->version = negotiate_version(query, len);
	if (out->version == -1)
		out->refusal = "The client requested a non-integer protocol version.";
	else if (out->version == -2)
		out->refusal = "The client requested a negative protocol version.";
	else if (negotiate_group(query, len, group_param, remote_addr, out->group,
	    sizeof(out->group)) != PH_OK)
		out->refusal = "The group name must be 1 to 256 printable characters.";
	else {
		char g[SQL_GROUP_SIZE];

		out->group_named = group_param != NULL && *group_param != '\0' &&
		    query_get(query, len, group_param, g, sizeof(g)) == 1 && g[0] != '\0';
	}
}

int
negotiate_refusal_body(struct buf *out, const char *why)
{
	json_object *o = json_object_new_object();
	int rc = -1;

	if (o != NULL && add(o, "error", json_object_new_string(why)) == 0)
		rc = buf_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return rc;
}

/* Protocol-level refusals are 200 + {"error": ...}, as ASP.NET Core answers. */
int
negotiate_hub_path(const char *path, char *out, size_t outlen)
{
	size_t len = strlen(path), end, start;

	/* The segment before /negotiate: a hub is one segment (pollhub.hubs'
	 * path), wherever the web server mounts the site. */
	if (len < strlen("/negotiate") || strcmp(path + len - strlen("/negotiate"), "/negotiate") != 0)
		return -1;
	end = len - strlen("/negotiate");
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (start == 0 || start == end || end - start + 2 > outlen)
		return -1;
	snprintf(out, outlen, "/%.*s", (int)(end - start), path + start);
	return 0;
}

static void
refuse(struct http_request *h, const char *why)
{
	struct buf body = BUF_INIT;

	if (negotiate_refusal_body(&body, why) == -1)
		http_text(h, 500, "out of memory");
	else
		http_respond(h, 200, "application/json", body.data, body.len, 0);
	buf_free(&body);
}

void
negotiate_handle(struct app *app, struct http_request *h)
{
	char id[ID_LEN + 1], token[ID_LEN + 1], key[ID_KEY_LEN + 1], hub_path[NEGOTIATE_HUB_PATH];
	struct negotiate_plan plan;
	struct connection_ask ask;
	struct connection_grant got;
	struct buf body = BUF_INIT;
	PGconn *db;
	enum ph_err st;

	if (strcmp(h->method, "POST") != 0) {
		http_text(h, 405, "Method Not Allowed");
		return;
	}
	if (negotiate_hub_path(h->path, hub_path, sizeof(hub_path)) == -1) {
		http_text(h, 404, "Not Found: no hub at this path (pollhub.hubs).");
		return;
	}
	negotiate_decide(h->query, strlen(h->query), app->cfg.group_param, h->client_addr, &plan);
	if (plan.refusal != NULL) {
		refuse(h, plan.refusal);
		return;
	}
	if (id_generate(id) == -1 || id_generate(token) == -1 ||
	    id_token_key(h->user, token, key) == -1) {
		log_error("getrandom or SHA-256 failed");
		http_text(h, 500, "Internal Server Error");
		return;
	}
	/* With an identity, the calendar is the one named, or the user's
	 * default; the grants decide (pollhub.connection_create). */
	ask.hub = hub_path;
	ask.user = h->user[0] != '\0' ? h->user : NULL;
	ask.group = ask.user == NULL || plan.group_named ? plan.group : NULL;
	ask.remote_addr = h->client_addr;
	ask.user_agent = h->user_agent;
	if ((db = pool_acquire(app->pool)) == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	st = corestore_connection_create(db, id, key, &ask, &got);
	pool_release(app->pool, db);
	if (st == PH_NOT_FOUND) {
		http_text(h, 404, "Not Found: no hub at this path (pollhub.hubs).");
		return;
	}
	if (st == PH_FORBIDDEN) {
		snprintf(h->reason, sizeof(h->reason), "%.250s", got.why);
		http_text(h, 403, "Forbidden");
		return;
	}
	if (st != PH_OK) {
		http_error(h, st);	/* PH_DB or PH_BUSY */
		return;
	}
	/* A version 0 client sends its connectionId as the token: it gets the token
	 * there, and the row keeps a distinct id, the one logs and notifications
	 * name (were they the same, every log line naming it would hold the secret). */
	if (negotiate_body(&body, plan.version, plan.version == 0 ? token : id, token) == -1) {
		http_text(h, 500, "Internal Server Error");
	} else {
		log_debug("negotiated connection %s (group %s, user %s, permission %s, user agent %s)",
		    id, LOG_TEXT(got.group), ask.user != NULL ? LOG_TEXT(ask.user) : "-",
		    got.permission[0] != '\0' ? got.permission : "-", LOG_TEXT(h->user_agent));
		http_respond(h, 200, "application/json", body.data, body.len, 0);
	}
	buf_free(&body);
}
