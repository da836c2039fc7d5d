#include "classic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "classicproto.h"
#include "classicstore.h"
#include "hub.h"
#include "ids.h"
#include "log.h"
#include "negotiate.h"
#include "query.h"
#include "utf8.h"

#define POLL_BATCH 1000		/* outbox rows per poll answer */
#define STREAM_BATCH 100	/* outbox rows per event */
#define GONE_CHECK_INTERVAL 5	/* seconds between checks for a vanished client */
#define DB_RETRY 1		/* seconds between tries while the database is away */

static const char json_content_type[] = "application/json; charset=UTF-8";
static const char jsonp_content_type[] = "application/javascript; charset=UTF-8";

/* One classic request: what every endpoint reads from it. */
struct creq {
	struct app		*app;
	struct http_request	*h;
	enum classic_verb	 verb;
	char			 callback[CLASSIC_MAX_CALLBACK + 1];	/* "" = plain JSON */
	char			 token[64];
	int			 sse;		/* transport=serverSentEvents */
	int			 our_hub;	/* connectionData lists the meetings hub */
	struct buf		 form;		/* the POST body (x-www-form-urlencoded) */
	char			 reason[512];	/* why the server closed the connection */
};

/* Answer json[0..len) as JSON, or as callback(json); under JSONP. */
static int
reply(struct creq *cr, const char *json, size_t len)
{
	struct buf out = BUF_INIT;
	int rc;

	if (cr->callback[0] == '\0')
		return http_respond(cr->h, 200, json_content_type, json, len, HTTP_NO_CACHE);
	if (classic_jsonp(&out, cr->callback, json, len) == -1)
		rc = http_text(cr->h, 500, "Internal Server Error");
	else
		rc = http_respond(cr->h, 200, jsonp_content_type, out.data, out.len, HTTP_NO_CACHE);
	buf_free(&out);
	return rc;
}

static int
reply_str(struct creq *cr, const char *json)
{
	return reply(cr, json, strlen(json));
}

/* A parameter from the query string or the form body, in the order the
 * reference server reads it (trap 3: same-origin polls send messageId in the
 * form, cross-origin JSONP in the query). Returns query_get's codes. */
static int
param(const struct creq *cr, const char *key, int form_first, char *out, size_t outlen)
{
	const char *q = cr->h->query;
	int found;

	if (form_first && cr->form.len > 0 &&
	    (found = query_get(cr->form.data, cr->form.len, key, out, outlen)) != 0)
		return found;
	if ((found = query_get(q, strlen(q), key, out, outlen)) != 0 || form_first)
		return found;
	return cr->form.len > 0 ? query_get(cr->form.data, cr->form.len, key, out, outlen) : 0;
}

/* Pushes from Core records (0x1E-terminated), comma-separated, onto out;
 * nothing when the page has no handlers for the hub (trap 2). */
static int
pushes(const struct creq *cr, const struct buf *records, struct buf *out)
{
	size_t off = 0;
	long n;

	while (cr->our_hub && off < records->len &&
	    (n = hubproto_record_len(records->data + off, records->len - off)) >= 0) {
		size_t mark = out->len;
		int r;

		if (out->len > 0 && buf_putc(out, ',') == -1)
			return -1;
		r = classic_push_from_record(out, records->data + off, (size_t)n);
		if (r == -1)
			return -1;
		if (r == 0)
			out->len = mark;	/* not an invocation: drop the comma */
		off += (size_t)n + 1;
	}
	return 0;
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
negotiate(struct creq *cr)
{
	struct app *app = cr->app;
	struct http_request *h = cr->h;
	char id[ID_LEN + 1], token[ID_LEN + 1], group[300];
	json_object *o = NULL;
	struct buf body = BUF_INIT;
	size_t plen = strlen(h->path);
	PGconn *db;
	enum store_status st;

	if (negotiate_group(h->query, strlen(h->query), app->cfg.group_param, h->remote_addr,
	    group, sizeof(group)) == -1) {
		http_text(h, 400, "The group name must be 1 to 256 printable characters.");
		return;
	}
	if (id_generate(id) == -1 || id_generate(token) == -1) {
		http_text(h, 500, "Internal Server Error");
		return;
	}
	if ((db = store_acquire(app->store)) == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	st = classicstore_negotiate(db, id, token, group, h->remote_addr, h->user_agent);
	store_release(app->store, db);
	if (st != STORE_OK) {
		http_text(h, 503, "Service Unavailable");
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
		log_debug("negotiated classic connection %s (group %s)", id, group);
		reply(cr, body.data, body.len);
	}
	json_object_put(o);
	buf_free(&body);
}

static int
passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void
later(struct timespec *t, int secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += secs;
}

/* Why a receive loop ended. */
enum receive_end { RECV_MESSAGES, RECV_IDLE, RECV_SUPERSEDED, RECV_GONE, RECV_CLOSED, RECV_LEFT };

/* Drain once: pushes after *cursor go to messages. Returns 1 when the
 * connection can go on, 0 when it ended (*end says why), -1 when the
 * database could not be asked. */
static int
drain(struct creq *cr, const struct classic_conn *cc, struct waiter *w, long long *cursor,
    int limit, struct buf *messages, enum receive_end *end)
{
	struct buf records = BUF_INIT, ignored = BUF_INIT;
	enum classic_drain_status ds = CDRAIN_OK;
	enum store_status st = STORE_ERROR;
	PGconn *db;
	int rc = 1;

	/* drain_many never serves a classic waiter: nothing is delivered here,
	 * but the bracket keeps a wake-up during the drain from being lost. */
	waiter_drain_begin(cr->app->notifier, w, &ignored);
	if ((db = store_acquire(cr->app->store)) != NULL) {
		st = classicstore_drain(db, cr->token, cc->poll_no, cursor, limit, &records, &ds);
		store_release(cr->app->store, db);
	}
	waiter_drain_end(cr->app->notifier, w);
	if (st != STORE_OK) {
		rc = -1;
	} else if (ds != CDRAIN_OK) {
		*end = ds == CDRAIN_SUPERSEDED ? RECV_SUPERSEDED :
		    ds == CDRAIN_CLOSED ? RECV_CLOSED : RECV_GONE;
		if (ds == CDRAIN_CLOSED && records.len > 0)
			snprintf(cr->reason, sizeof(cr->reason), "%.*s",
			    utf8_prefix(records.data, (int)sizeof(cr->reason) - 1), records.data);
		rc = 0;
	} else if (pushes(cr, &records, messages) == -1) {
		rc = -1;
	}
	buf_free(&records);
	buf_free(&ignored);
	return rc;
}

static void
receive_end(struct app *app, const struct classic_conn *cc, enum receive_end end)
{
	PGconn *db;

	/* Idle until the next receive request; the reaper removes a connection
	 * whose client never comes back. */
	if (end == RECV_GONE || end == RECV_CLOSED || (db = store_acquire(app->store)) == NULL)
		return;
	store_poll_end(db, cc->id, cc->poll_no);
	store_release(app->store, db);
}

/* Start a receive request. Returns 0, or -1 after answering the refusal. */
static int
receive_begin(struct creq *cr, struct classic_conn *cc)
{
	PGconn *db = store_acquire(cr->app->store);
	enum store_status st = STORE_ERROR;

	if (db != NULL) {
		st = classicstore_receive_begin(db, cr->token, cc);
		store_release(cr->app->store, db);
	}
	if (st == STORE_OK)
		return 0;
	if (st == STORE_NOT_FOUND)
		http_text(cr->h, 404, "No Connection with that ID");
	else if (st == STORE_INVALID)
		http_text(cr->h, 400, "Cannot change transports mid-connection");
	else
		http_text(cr->h, 503, "Service Unavailable");
	return -1;
}

/* What a client whose connection the server closed is told (its Close's reason, if any). */
static const char *
closed_text(const struct creq *cr)
{
	return cr->reason[0] != '\0' ? cr->reason : "The connection was closed by the server.";
}

/* A long poll (also /reconnect): answer at once when pushes after cursor
 * exist, else hold until one arrives, a newer receive request supersedes
 * this one, or the poll timeout. The answer's C is where the client goes on. */
static void
long_poll(struct creq *cr, long long cursor)
{
	struct app *app = cr->app;
	struct classic_conn cc;
	struct waiter w;
	struct buf messages = BUF_INIT, body = BUF_INIT, ignored = BUF_INIT;
	struct timespec deadline, slice;
	enum receive_end end = RECV_IDLE;
	int rc;

	if (receive_begin(cr, &cc) == -1)
		return;
	later(&deadline, app->cfg.poll_timeout);
	/* A poll number no row has (drain_many would drain it the Core way):
	 * the notifier tells this waiter to drain itself. Registered before the
	 * first drain so no wake-up can fall in between. */
	waiter_register(app->notifier, &w, cc.id, cc.group, -cc.poll_no, 0);
	for (;;) {
		rc = drain(cr, &cc, &w, &cursor, POLL_BATCH, &messages, &end);
		if (rc == 0)
			break;
		if (rc == 1 && messages.len > 0) {
			end = RECV_MESSAGES;
			break;
		}
		if (atomic_load(&app->stopping) || atomic_load(&app->handing_off) ||
		    passed(&deadline))
			break;
		later(&slice, rc == -1 ? DB_RETRY : GONE_CHECK_INTERVAL);
		if (slice.tv_sec > deadline.tv_sec)
			slice = deadline;
		buf_reset(&ignored);
		if (waiter_wait(app->notifier, &w, &slice, &ignored) == WAIT_TIMEOUT &&
		    rc == 1 && http_client_gone(cr->h)) {
			end = RECV_LEFT;
			break;
		}
	}
	buf_reset(&ignored);
	waiter_unregister(app->notifier, &w, &ignored);
	receive_end(app, &cc, end);
	if (end == RECV_GONE)
		http_text(cr->h, 404, "No Connection with that ID");
	else if (end != RECV_LEFT && classic_persistent(&body, cursor, 0,
	    end == RECV_CLOSED ? closed_text(cr) : NULL, messages.data, messages.len) == 0)
		reply(cr, body.data, body.len);
	else if (end != RECV_LEFT)
		http_text(cr->h, 500, "Internal Server Error");
	buf_free(&messages);
	buf_free(&body);
	buf_free(&ignored);
}

/* One SSE event holding a persistent response. -1 when the client is gone. */
static int
event(struct http_request *h, long long cursor, int initializing, const char *error,
    const struct buf *messages)
{
	struct buf ev = BUF_INIT;
	int rc = -1;

	if (buf_puts(&ev, "data: ") == 0 &&
	    classic_persistent(&ev, cursor, initializing, error, messages->data,
		messages->len) == 0 &&
	    buf_puts(&ev, "\n\n") == 0)
		rc = http_write(h, ev.data, ev.len);
	buf_free(&ev);
	return rc;
}

/* A server-sent events stream (/connect or /reconnect): "initialized",
 * the S:1 frame on connect, then one event per batch and a keep-alive
 * `data: {}` after keepalive_interval quiet seconds. When it ends for any
 * reason the connection stays (the client reconnects with its cursor). */
static void
stream(struct creq *cr, long long cursor, int initializing)
{
	static const char initialized[] = "data: initialized\n\n", keepalive[] = "data: {}\n\n";
	struct app *app = cr->app;
	struct classic_conn cc;
	struct waiter w;
	struct buf messages = BUF_INIT, ignored = BUF_INIT;
	struct timespec last_write, wake, retry;
	enum receive_end end = RECV_LEFT;
	int need_drain = 1, rc;

	if (atomic_load(&app->stopping) || atomic_load(&app->handing_off)) {
		http_text(cr->h, 503, "Service Unavailable");
		return;
	}
	if (receive_begin(cr, &cc) == -1)
		return;
	waiter_register(app->notifier, &w, cc.id, cc.group, -cc.poll_no, 1);
	if (http_stream_start(cr->h) == -1 ||
	    http_write(cr->h, initialized, sizeof(initialized) - 1) == -1 ||
	    (initializing && event(cr->h, cursor, 1, NULL, &messages) == -1))
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &last_write);
	retry = last_write;
	for (;;) {
		/* A restart in place ends streams: the clients reconnect by cursor. */
		if (atomic_load(&app->stopping) || atomic_load(&app->handing_off))
			break;
		if (need_drain && passed(&retry)) {
			buf_reset(&messages);
			rc = drain(cr, &cc, &w, &cursor, STREAM_BATCH, &messages, &end);
			if (rc == 0) {
				if (end == RECV_CLOSED)
					event(cr->h, cursor, 0, closed_text(cr), &messages);
				break;
			}
			if (rc == -1) {
				later(&retry, DB_RETRY);
			} else if (messages.len > 0) {
				if (event(cr->h, cursor, 0, NULL, &messages) == -1) {
					end = RECV_LEFT;
					break;
				}
				clock_gettime(CLOCK_MONOTONIC, &last_write);
				/* A full batch may have more behind it. */
			} else
				need_drain = 0;
			end = RECV_LEFT;
			continue;
		}
		if (http_client_gone(cr->h))
			break;
		wake = last_write;
		wake.tv_sec += app->cfg.keepalive_interval;
		if (passed(&wake)) {
			if (http_write(cr->h, keepalive, sizeof(keepalive) - 1) == -1)
				break;
			clock_gettime(CLOCK_MONOTONIC, &last_write);
			continue;
		}
		if (need_drain && (retry.tv_sec < wake.tv_sec))
			wake = retry;
		buf_reset(&ignored);
		if (waiter_wait(app->notifier, &w, &wake, &ignored) != WAIT_TIMEOUT)
			need_drain = 1;
	}
done:
	buf_reset(&ignored);
	waiter_unregister(app->notifier, &w, &ignored);
	receive_end(app, &cc, end);
	buf_free(&messages);
	buf_free(&ignored);
}

static void
connect_transport(struct creq *cr)
{
	struct classic_conn cc;
	struct buf body = BUF_INIT;
	PGconn *db = store_acquire(cr->app->store);
	enum store_status st = STORE_ERROR;

	if (db != NULL) {
		st = classicstore_connect(db, cr->token,
		    cr->sse ? "ClassicServerSentEvents" : "ClassicLongPolling", &cc);
		store_release(cr->app->store, db);
	}
	if (st == STORE_NOT_FOUND) {
		http_text(cr->h, 404, "No Connection with that ID");
	} else if (st == STORE_INVALID) {
		http_text(cr->h, 400, "Cannot change transports mid-connection");
	} else if (st != STORE_OK) {
		http_text(cr->h, 503, "Service Unavailable");
	} else if (cr->sse) {
		stream(cr, cc.cursor, 1);
	} else if (classic_persistent(&body, cc.cursor, 1, NULL, "", 0) == -1) {
		http_text(cr->h, 500, "Internal Server Error");
	} else {
		/* Answered at once (trap 7): S:1 makes the client send /start. */
		reply(cr, body.data, body.len);
	}
	buf_free(&body);
}

static void
receive(struct creq *cr)
{
	char text[CLASSIC_CURSOR_LEN];
	long long cursor;
	int found = param(cr, "messageId", 0, text, sizeof(text));

	if (found != 1 || classic_cursor_parse(text, strlen(text), &cursor) == -1) {
		http_text(cr->h, 400, "Protocol error: messageId is missing or malformed.");
		return;
	}
	if (cr->sse) {
		if (cr->verb != CLASSIC_RECONNECT)
			http_text(cr->h, 400, "Protocol error: Unknown transport.");
		else
			stream(cr, cursor, 0);
		return;
	}
	long_poll(cr, cursor);
}

/* /start (OnConnected ran at /connect: the group is joined) and /ping. */
static void
start(struct creq *cr)
{
	struct send_conn sc;
	PGconn *db = store_acquire(cr->app->store);
	enum store_status st = STORE_ERROR;

	memset(&sc, 0, sizeof(sc));
	if (db != NULL) {
		st = store_send_begin(db, cr->token, &sc);
		if (st == STORE_OK)
			store_rollback(db);
		store_release(cr->app->store, db);
	}
	buf_free(&sc.inbound);
	if (st == STORE_NOT_FOUND)
		http_text(cr->h, 404, "No Connection with that ID");
	else if (st != STORE_OK)
		http_text(cr->h, 503, "Service Unavailable");
	else
		reply_str(cr, "{ \"Response\": \"started\" }");
}

/* Run the invocation in the connection's transaction; the result goes in
 * this response (trap 6), pushes to the others through the outbox. */
static void
invoke(struct creq *cr, struct classic_invocation *inv, struct buf *result)
{
	struct app *app = cr->app;
	struct send_conn sc;
	struct buf completion = BUF_INIT;
	PGconn *db = store_acquire(app->store);
	enum store_status st;

	memset(&sc, 0, sizeof(sc));
	if (db == NULL) {
		classic_result_error(result, inv->id, "The server is unavailable.");
		return;
	}
	st = store_send_begin(db, cr->token, &sc);
	if (st == STORE_NOT_FOUND) {
		classic_result_error(result, inv->id, "No Connection with that ID.");
	} else if (st != STORE_OK) {
		classic_result_error(result, inv->id, "The server is unavailable.");
	} else if (sc.closing) {
		store_rollback(db);
		classic_result_error(result, inv->id, "The connection is closing.");
	} else {
		struct hub_caller caller = { db, sc.id, sc.group, app->cfg.detailed_errors };

		if (store_set_sender(db, sc.id) != STORE_OK ||
		    hub_invoke(&caller, &inv->msg, &completion) == -1 ||
		    store_send_commit(db, &sc, "", 0) != STORE_OK) {
			store_rollback(db);
			buf_reset(&completion);
			classic_result_error(result, inv->id, "The server is unavailable.");
		} else if (classic_result_from_completion(result, completion.data,
		    strlen(completion.data)) == -1) {
			buf_reset(result);
			classic_result_error(result, inv->id, "Internal server error.");
		}
	}
	store_release(app->store, db);
	buf_free(&completion);
	buf_free(&sc.inbound);
}

static void
send_invocation(struct creq *cr)
{
	size_t max = cr->app->cfg.max_message_size;
	char *data = malloc(max + 1), err[200];
	struct classic_invocation inv;
	struct buf result = BUF_INIT;
	int found;

	if (data == NULL) {
		http_text(cr->h, 500, "Internal Server Error");
		return;
	}
	/* The form first, then the query (JSONP sends are GETs). */
	found = param(cr, "data", 1, data, max + 1);
	if (found != 1) {
		http_text(cr->h, found == 0 ? 400 : 413, found == 0 ?
		    "Protocol error: data is missing." : "Payload Too Large");
		goto done;
	}
	if (classic_invocation_parse(data, strlen(data), &inv, err, sizeof(err)) == -1) {
		/* An answer the client can route needs the invocation's I. */
		if (inv.id[0] == '\0')
			http_text(cr->h, 400, err);
		else if (classic_result_error(&result, inv.id, err) == 0)
			reply(cr, result.data, result.len);
		goto done;
	}
	invoke(cr, &inv, &result);
	classic_invocation_free(&inv);
	/* Errors are 200 with E: the only form every transport can deliver. */
	if (result.len > 0)
		reply(cr, result.data, result.len);
	else
		http_text(cr->h, 500, "Internal Server Error");
done:
	buf_free(&result);
	free(data);
}

static void
abort_connection(struct creq *cr)
{
	PGconn *db = store_acquire(cr->app->store);

	if (db != NULL) {
		store_connection_delete(db, cr->token);
		store_release(cr->app->store, db);
	}
	/* Even for a connection already gone: the page may be unloading. */
	http_respond(cr->h, 200, "text/plain", "", 0, HTTP_NO_CACHE);
}

/* The parameters every endpoint after negotiate needs. Returns 0, or -1
 * after answering as the reference server does (plain text, not JSONP). */
static int
common_params(struct creq *cr)
{
	char transport[32];

	if (param(cr, "transport", 0, transport, sizeof(transport)) != 1 ||
	    (strcasecmp(transport, "longPolling") != 0 &&
	    strcasecmp(transport, "serverSentEvents") != 0)) {
		http_text(cr->h, 400, "Protocol error: Unknown transport.");
		return -1;
	}
	cr->sse = strcasecmp(transport, "serverSentEvents") == 0;
	switch (param(cr, "connectionToken", 0, cr->token, sizeof(cr->token))) {
	case 0:
		http_text(cr->h, 400, "Protocol error: Missing connection token.");
		return -1;
	case 1:
		if (id_is_wellformed(cr->token, strlen(cr->token)))
			return 0;
		break;
	default:
		break;
	}
	http_text(cr->h, 400, "The ConnectionId is in the incorrect format.");
	return -1;
}

/* connectionData: which hubs the page has handlers for. */
static int
hubs(struct creq *cr)
{
	size_t max = cr->app->cfg.max_message_size;
	char *cd = malloc(max + 1);
	int found, rc = -1;

	if (cd == NULL) {
		http_text(cr->h, 500, "Internal Server Error");
		return -1;
	}
	found = param(cr, "connectionData", 0, cd, max + 1);
	if (found == 0) {
		cr->our_hub = 0;
		rc = 0;
	} else if (found == 1) {
		int listed = classic_connection_data(cd, strlen(cd));

		switch (listed) {
		case 1:
		case 0:	/* [] : the page has no handlers (yet) */
			cr->our_hub = listed == 1;
			rc = 0;
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
	return rc;
}

void
classic_handle(struct app *app, struct http_request *h)
{
	struct creq cr;
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
		reply_str(&cr, "{ \"Response\": \"pong\" }");
		return;
	}
	if (strcmp(h->method, "POST") == 0) {
		switch (http_read_body(h, app->cfg.max_message_size, &cr.form)) {
		case BODY_OK:
			break;
		case BODY_TOO_LARGE:
			http_text(h, 413, "Payload Too Large");
			goto done;
		case BODY_ERROR:
			http_text(h, 400, "Bad Request");
			goto done;
		}
	}
	if (hubs(&cr) == -1)
		goto done;
	if (cr.verb == CLASSIC_NEGOTIATE) {
		negotiate(&cr);
		goto done;
	}
	if (common_params(&cr) == -1)
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
