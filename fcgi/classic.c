#include "classic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classicproto.h"
#include "classicreceive.h"
#include "classicrequest.h"
#include "classicstore.h"
#include "hub.h"
#include "ids.h"
#include "log.h"
#include "negotiate.h"
#include "query.h"
#include "sqlproto.h"

static enum ph_err
reply_str(struct classic_request *cr, const char *json)
{
	return classic_reply(cr, json, strlen(json));
}

/* Add key -> val (consumed, also on failure; NULL: out of memory). */
static int
put(json_object *o, const char *key, json_object *val)
{
	if (val == NULL || json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

static void
negotiate(struct classic_request *cr)
{
	struct app *app = cr->app;
	struct http_request *h = cr->h;
	char id[ID_LEN + 1], token[ID_LEN + 1], key[ID_KEY_LEN + 1], group[SQL_GROUP_SIZE];
	char named_group[SQL_GROUP_SIZE];
	struct connection_ask ask;
	struct connection_grant got;
	json_object *o = NULL;
	struct buf body = BUF_INIT;
	size_t plen = strlen(h->path);
	PGconn *db;
	enum ph_err st;
	int named;

	if (negotiate_group(h->query, strlen(h->query), app->cfg.group_param, h->client_addr,
	    group, sizeof(group)) != PH_OK) {
		http_text(h, 400, "The group name must be 1 to 256 printable characters.");
		return;
	}
	if (id_generate(id) == -1 || id_generate(token) == -1 ||
	    id_token_key(h->user, token, key) == -1) {
		http_text(h, 500, "Internal Server Error");
		return;
	}
	/* The Core negotiate's rules (negotiate.c): with an identity, the
	 * calendar named or the user's default, as the grants allow. */
	named = app->cfg.group_param[0] != '\0' &&
	    classic_param(cr, app->cfg.group_param, 0, named_group, sizeof(named_group)) == 1 &&
	    named_group[0] != '\0';
	ask.hub = cr->hub[0] != '\0' ? cr->hub : NULL;
	ask.user = h->user[0] != '\0' ? h->user : NULL;
	ask.group = ask.user == NULL || named ? group : NULL;
	ask.remote_addr = h->client_addr;
	ask.user_agent = h->user_agent;
	if ((db = pool_acquire(app->pool)) == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	st = classicstore_negotiate(db, id, key, &ask, &got);
	pool_release(app->pool, db);
	if (st == PH_NOT_FOUND) {
		http_text(h, 400, "Protocol error: a Hub in connectionData could not be resolved.");
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
	/* Url: the path as the browser sent it, without "/negotiate" (trap 9):
	 * /connect, /poll and /reconnect are built from it. Timeouts in seconds,
	 * as doubles like Json.NET writes TimeSpans. No availableTransports key
	 * (the client would take us for a Core server) and no WebSockets. */
	h->path[plen - strlen("/negotiate")] = '\0';
	if ((o = json_object_new_object()) == NULL ||
	    put(o, "Url", json_object_new_string(h->path)) == -1 ||
	    put(o, "ConnectionToken", json_object_new_string(token)) == -1 ||
	    put(o, "ConnectionId", json_object_new_string(id)) == -1 ||
	    put(o, "KeepAliveTimeout",
		json_object_new_double(2.0 * app->cfg.keepalive_interval)) == -1 ||
	    put(o, "DisconnectTimeout", json_object_new_double(app->cfg.disconnect_timeout)) == -1 ||
	    put(o, "ConnectionTimeout", json_object_new_double(app->cfg.poll_timeout)) == -1 ||
	    put(o, "TryWebSockets", json_object_new_boolean(0)) == -1 ||
	    put(o, "ProtocolVersion", json_object_new_string("2.0")) == -1 ||
	    put(o, "TransportConnectTimeout", json_object_new_double(5.0)) == -1 ||
	    put(o, "LongPollDelay", json_object_new_double(0.0)) == -1 ||
	    buf_puts(&body, json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) == -1) {
		http_text(h, 500, "Internal Server Error");
	} else {
		log_debug("negotiated classic connection %s (group %s, user %s, user agent %s)", id,
		    LOG_TEXT(got.group), ask.user != NULL ? LOG_TEXT(ask.user) : "-",
		    LOG_TEXT(h->user_agent));
		classic_reply(cr, body.data, body.len);
	}
	json_object_put(o);
	buf_free(&body);
}

static void
connect_transport(struct classic_request *cr)
{
	struct classic_conn cc;
	struct buf body = BUF_INIT;
	PGconn *db = pool_acquire(cr->app->pool);
	enum ph_err st = PH_DB;

	if (db != NULL) {
		st = classicstore_connect(db, cr->token,
		    cr->sse ? SQL_TRANSPORT_CLASSIC_SSE : SQL_TRANSPORT_CLASSIC_LP, &cc);
		/* A stream begins its receive request on the same connection. */
		if (st != PH_OK || !cr->sse) {
			pool_release(cr->app->pool, db);
			db = NULL;
		}
	}
	if (st == PH_OK) {
		snprintf(cr->h->conn_id, sizeof(cr->h->conn_id), "%s", cc.id);
		log_info("connection %s: connected (classic %s, group %s)", cc.id,
		    cr->sse ? "ServerSentEvents" : "LongPolling", LOG_TEXT(cc.group));
	}
	/* A Core connection's token is unknown here, like any other. */
	if (st != PH_OK) {
		http_error(cr->h, st);
	} else if (cr->sse) {
		classic_stream(cr, db, cc.cursor, 1);
	} else if (classic_persistent(&body, cc.cursor, 1, NULL, "", 0) == -1) {
		http_text(cr->h, 500, "Internal Server Error");
	} else {
		/* Answered at once (trap 7): S:1 makes the client send /start. */
		classic_reply(cr, body.data, body.len);
	}
	buf_free(&body);
}

static void
receive(struct classic_request *cr)
{
	char text[CLASSIC_CURSOR_LEN];
	long long cursor;
	int found = classic_param(cr, "messageId", 0, text, sizeof(text));

	if (found != 1 || classic_cursor_parse(text, strlen(text), &cursor) == -1) {
		http_text(cr->h, 400, "Protocol error: messageId is missing or malformed.");
		return;
	}
	if (cr->sse) {
		if (cr->verb != CLASSIC_RECONNECT)
			http_text(cr->h, 400, "Protocol error: Unknown transport.");
		else
			classic_stream(cr, NULL, cursor, 0);
		return;
	}
	classic_long_poll(cr, cursor);
}

/* /start (OnConnected ran at /connect: the group is joined) and /ping. */
static void
start(struct classic_request *cr)
{
	struct send_conn sc;
	PGconn *db = pool_acquire(cr->app->pool);
	enum ph_err st = PH_DB;

	memset(&sc, 0, sizeof(sc));
	if (db != NULL) {
		st = corestore_send_begin(db, cr->token, PROTO_CLASSIC, &sc);
		if (st == PH_OK)
			pool_rollback(db);
		pool_release(cr->app->pool, db);
	}
	buf_free(&sc.inbound);
	if (st != PH_OK)
		http_error(cr->h, st);
	else
		reply_str(cr, "{ \"Response\": \"started\" }");
}

/* Run the invocation in the connection's transaction; the result goes in
 * this response (trap 6), pushes to the others through the outbox.
 * PH_NOT_FOUND when the token names no classic connection (nothing was
 * done), else PH_OK (result holds the answer, an error one included). */
static enum ph_err
invoke(struct classic_request *cr, struct classic_invocation *inv, struct buf *result)
{
	struct app *app = cr->app;
	struct send_conn sc;
	struct buf completion = BUF_INIT;
	PGconn *db = NULL;
	enum ph_err st;

	memset(&sc, 0, sizeof(sc));
	/* Counted against the group's share of the pool (it may wait on the
	 * calendar's locks). */
	st = corestore_send_open(app->pool, cr->token, PROTO_CLASSIC, hub_writes(&inv->msg), &sc, &db);
	if (st == PH_NOT_FOUND) {
		/* Unknown, or a Core connection's token: its row is not touched. */
	} else if (st != PH_OK) {
		classic_result_error(result, inv->id, "The server is unavailable.");
	} else if (sc.closing) {
		pool_rollback(db);
		classic_result_error(result, inv->id, "The connection is closing.");
	} else {
		/* The result goes in this answer, not the queue: no pending bound. */
		struct hub_caller caller = { db, sc.id, sc.group, app->cfg.detailed_errors,
		    app->cfg.max_answer, 0, NULL };

		if (hub_invoke(&caller, &inv->msg, &completion, NULL) == -1 ||
		    corestore_send_commit(db, &sc, "", 0) != PH_OK) {
			pool_rollback(db);
			buf_reset(&completion);
			classic_result_error(result, inv->id, "The server is unavailable.");
		} else if (completion.len == 0 || classic_result_from_completion(result,
		    completion.data, strlen(completion.data)) == -1) {
			buf_reset(result);
			classic_result_error(result, inv->id, "Internal server error.");
		}
	}
	if (db != NULL)
		pool_release(app->pool, db);
	buf_free(&completion);
	buf_free(&sc.inbound);
	return st == PH_NOT_FOUND ? PH_NOT_FOUND : PH_OK;
}

static void
send_invocation(struct classic_request *cr)
{
	size_t max = cr->app->cfg.max_message_size;
	char *data = malloc(max + 1), err[200];
	struct classic_invocation inv;
	struct buf result = BUF_INIT;
	enum ph_err st;
	int found, parsed;

	if (data == NULL) {
		http_text(cr->h, 500, "Internal Server Error");
		return;
	}
	/* The form first, then the query (JSONP sends are GETs). */
	found = classic_param(cr, "data", 1, data, max + 1);
	if (found != 1) {
		http_text(cr->h, found == 0 ? 400 : 413, found == 0 ?
		    "Protocol error: data is missing." : "Payload Too Large");
		goto done;
	}
	parsed = classic_invocation_parse(data, strlen(data), &inv, err, sizeof(err));
	if (parsed == 0 && cr->hub[0] != '\0' && strcasecmp(inv.hub, cr->hub) != 0) {
		/* The connection serves the one hub its connectionData names. */
		snprintf(err, sizeof(err), "The hub named in 'H' could not be resolved.");
		classic_invocation_free(&inv);
		parsed = -1;
	}
	if (parsed == -1) {
		/* An answer the client can route needs the invocation's I. */
		if (inv.id[0] == '\0')
			http_text(cr->h, 400, err);
		else if (classic_result_error(&result, inv.id, err) == 0)
			classic_reply(cr, result.data, result.len);
		goto done;
	}
	st = invoke(cr, &inv, &result);
	classic_invocation_free(&inv);
	/* Errors are 200 with E: the only form every transport can deliver. An
	 * unknown connection is not one (the hubs client fails the invocation
	 * on a failed /send). */
	if (st != PH_OK)
		http_error(cr->h, st);
	else if (result.len > 0)
		classic_reply(cr, result.data, result.len);
	else
		http_text(cr->h, 500, "Internal Server Error");
done:
	buf_free(&result);
	free(data);
}

static void
abort_connection(struct classic_request *cr)
{
	PGconn *db = pool_acquire(cr->app->pool);
	enum ph_err st = PH_DB;

	if (db != NULL) {
		st = corestore_connection_remove(db, cr->token, PROTO_CLASSIC, cr->h->conn_id,
		    sizeof(cr->h->conn_id), NULL);
		pool_release(cr->app->pool, db);
	}
	if (st == PH_OK)
		log_info("connection %s: disconnected: client (classic abort)", cr->h->conn_id);
	/* A token of no classic connection (gone already, or a Core one's:
	 * that row is not touched) is 404 as on every endpoint; the client
	 * fires /abort and forgets it (the page may be unloading). */
	if (st == PH_NOT_FOUND)
		http_error(cr->h, st);
	else
		http_respond(cr->h, 200, "text/plain", "", 0, HTTP_NO_CACHE);
}

/* Name the connection by its key from here on (router.c says why). */
static enum ph_err
keyed(struct classic_request *cr)
{
	char key[ID_KEY_LEN + 1];

	if (id_token_key(cr->h->user, cr->token, key) == -1) {
		http_text(cr->h, 500, "Internal Server Error");
		return PH_SYSTEM;
	}
	memcpy(cr->token, key, sizeof(key));
	return PH_OK;
}

/* /ping: jquery.signalR sends no connection token (a keep-alive of the
 * page's session, answered without the database); one that names a token
 * names a classic connection, like every other endpoint. */
static void
ping(struct classic_request *cr)
{
	PGconn *db;
	enum ph_err st = PH_DB;

	switch (classic_param(cr, "connectionToken", 0, cr->token, sizeof(cr->token))) {
	case 0:
		reply_str(cr, "{ \"Response\": \"pong\" }");
		return;
	case 1:
		if (id_is_wellformed(cr->token, strlen(cr->token)))
			break;
		/* fall through */
	default:
		http_text(cr->h, 400, "The ConnectionId is in the incorrect format.");
		return;
	}
	if (keyed(cr) != PH_OK)
		return;
	if ((db = pool_acquire(cr->app->pool)) != NULL) {
		st = classicstore_exists(db, cr->token);
		pool_release(cr->app->pool, db);
	}
	if (st != PH_OK)
		http_error(cr->h, st);
	else
		reply_str(cr, "{ \"Response\": \"pong\" }");
}

/* The parameters every endpoint after negotiate needs. PH_OK, or PH_INVALID
 * after answering as the reference server does (plain text, not JSONP). */
static enum ph_err
common_params(struct classic_request *cr)
{
	char transport[32];

	if (classic_param(cr, "transport", 0, transport, sizeof(transport)) != 1 ||
	    (strcasecmp(transport, "longPolling") != 0 &&
	    strcasecmp(transport, "serverSentEvents") != 0)) {
		http_text(cr->h, 400, "Protocol error: Unknown transport.");
		return PH_INVALID;
	}
	cr->sse = strcasecmp(transport, "serverSentEvents") == 0;
	switch (classic_param(cr, "connectionToken", 0, cr->token, sizeof(cr->token))) {
	case 0:
		http_text(cr->h, 400, "Protocol error: Missing connection token.");
		return PH_INVALID;
	case 1:
		if (id_is_wellformed(cr->token, strlen(cr->token)))
			return keyed(cr);
		break;
	default:
		break;
	}
	http_text(cr->h, 400, "The ConnectionId is in the incorrect format.");
	return PH_INVALID;
}

/* connectionData: which hubs the page has handlers for. PH_OK, or (after
 * answering) PH_INVALID or PH_NOMEM. */
static enum ph_err
hubs(struct classic_request *cr)
{
	size_t max = cr->app->cfg.max_message_size;
	char *cd = malloc(max + 1);
	enum ph_err st = PH_INVALID;
	int found;

	if (cd == NULL) {
		http_text(cr->h, 500, "Internal Server Error");
		return PH_NOMEM;
	}
	found = classic_param(cr, "connectionData", 0, cd, max + 1);
	cr->hub[0] = '\0';
	if (found == 0) {
		st = PH_OK;
	} else if (found == 1) {
		switch (classic_connection_data(cd, strlen(cd), cr->hub)) {
		case 1:
		case 0:	/* [] : the page has no handlers (yet) */
			st = PH_OK;
			break;
		case -2:
			http_text(cr->h, 400, "Protocol error: a Hub in connectionData could"
			    " not be resolved.");
			break;
		default:
			http_text(cr->h, 400, "Protocol error: connectionData is malformed.");
			break;
		}
	} else
		http_text(cr->h, 400, "Protocol error: connectionData is malformed.");
	free(cd);
	return st;
}

void
classic_handle(struct app *app, struct http_request *h)
{
	struct classic_request cr;
	int found;

	memset(&cr, 0, sizeof(cr));
	cr.app = app;
	cr.h = h;
	cr.verb = classic_verb(h->path, strlen(h->path));
	found = query_get(h->query, strlen(h->query), "callback", cr.callback, sizeof(cr.callback));
	if (found == -1 || (found == 1 && !classic_callback_valid(cr.callback,
	    strlen(cr.callback)))) {
		http_text(h, 400, "Invalid JSONP callback name.");
		return;
	}
	if (cr.verb == CLASSIC_PING) {
		ping(&cr);
		return;
	}
	if (strcmp(h->method, "POST") == 0) {
		enum ph_err st = http_read_body(h, app->cfg.max_message_size,
		    app->cfg.body_timeout, &cr.form);

		if (st != PH_OK) {	/* PH_TOO_LARGE, PH_LEFT or PH_TIMEOUT */
			http_error(h, st);
			goto done;
		}
	}
	if (hubs(&cr) != PH_OK)
		goto done;
	if (cr.verb == CLASSIC_NEGOTIATE) {
		negotiate(&cr);
		goto done;
	}
	if (common_params(&cr) != PH_OK)
		goto done;
	switch (cr.verb) {
	case CLASSIC_CONNECT:
		connect_transport(&cr);
		break;
	case CLASSIC_RECONNECT:
	case CLASSIC_POLL:
		receive(&cr);
		break;
	case CLASSIC_START:
		start(&cr);
		break;
	case CLASSIC_SEND:
		send_invocation(&cr);
		break;
	case CLASSIC_ABORT:
		abort_connection(&cr);
		break;
	default:
		http_text(h, 404, "Not Found");
		break;
	}
done:
	buf_free(&cr.form);
}
