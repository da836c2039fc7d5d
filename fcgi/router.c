#include "router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "classic.h"
#include "classicproto.h"
#include "ids.h"
#include "log.h"
#include "longpoll.h"
#include "negotiate.h"
#include "query.h"
#include "send.h"
#include "sse.h"

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void
disconnect(struct app *app, struct http_request *h, const char *token)
{
	PGconn *db = pool_acquire(app->pool);
	enum ph_err st;
	int was_open = 0;

	if (db == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	st = corestore_connection_remove(db, token, PROTO_CORE, h->conn_id, sizeof(h->conn_id),
	    &was_open);
	pool_release(app->pool, db);
	/* A closing connection's disconnect was logged with its Close. */
	if (st == PH_OK)
		log_msg(was_open ? LOG_INFO : LOG_DEBUG, "connection %s: disconnected: client"
		    " (DELETE)", h->conn_id);
	if (st == PH_OK)
		http_text(h, 202, "");
	else
		http_error(h, st);	/* PH_NOT_FOUND, PH_DB or PH_BUSY */
}

/* Classic GETs change state too (JSONP negotiates, connects and sends with
 * GETs, and any page may read a JSONP answer): a refused origin gets none. */
static enum route
classic_route(enum http_origin origin)
{
	return origin == HTTP_ORIGIN_REFUSED ? ROUTE_FORBIDDEN : ROUTE_CLASSIC;
}

enum route
router_route(const char *method, const char *path, const char *query, size_t qlen,
    const char *accept, enum http_origin origin, char *token, size_t tokenlen)
{
	int found;

	if (strcmp(method, "OPTIONS") == 0)
		return ROUTE_PREFLIGHT;
	/* A page of a foreign site may make the browser send anything but read
	 * nothing; what changes state it must not even make happen. GET and HEAD
	 * change nothing a stranger can name (a poll needs the secret token). */
	if (origin == HTTP_ORIGIN_REFUSED && strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0)
		return ROUTE_FORBIDDEN;
	/* The web server decides which paths reach us; we only tell negotiate
	 * apart from the connection endpoint. */
	if (ends_with(path, "/negotiate")) {
		char v[16];

		/* Classic negotiate is a GET with clientProtocol (Core's is a POST). */
		if (strcmp(method, "GET") == 0 &&
		    query_get(query, qlen, "clientProtocol", v, sizeof(v)) != 0)
			return classic_route(origin);
		return strcmp(method, "POST") == 0 ? ROUTE_NEGOTIATE : ROUTE_NOT_ALLOWED;
	}
	/* The Core protocol has no other paths below the hub. */
	if ((strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0) &&
	    classic_verb(path, strlen(path)) != CLASSIC_NONE)
		return classic_route(origin);
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
	    strcmp(method, "DELETE") != 0)
		return ROUTE_NOT_ALLOWED;
	found = query_get(query, qlen, "id", token, tokenlen);
	if (found == 0 || (found == 1 && token[0] == '\0'))
		return ROUTE_NO_ID;
	/* Anything that cannot be one of our tokens is unknown: no query needed. */
	if (found < 0 || !id_is_wellformed(token, strlen(token)))
		return ROUTE_UNKNOWN_ID;
	if (strcmp(method, "GET") == 0)
		return strstr(accept, "text/event-stream") != NULL ? ROUTE_STREAM : ROUTE_POLL;
	return strcmp(method, "POST") == 0 ? ROUTE_SEND : ROUTE_DELETE;
}

static const char *const route_names[] = {
	[ROUTE_NEGOTIATE] = "negotiate", [ROUTE_PREFLIGHT] = "preflight",
	[ROUTE_STREAM] = "stream", [ROUTE_POLL] = "poll", [ROUTE_SEND] = "send",
	[ROUTE_DELETE] = "delete", [ROUTE_CLASSIC] = "classic",
	[ROUTE_FORBIDDEN] = "forbidden", [ROUTE_NOT_ALLOWED] = "not-allowed",
	[ROUTE_NO_ID] = "no-id", [ROUTE_UNKNOWN_ID] = "unknown-id",
};

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void route_request(struct app *, struct http_request *, enum route, const char *);

/* Copy s into a quoted-string of RFC 7230 (WWW-Authenticate's
 * error_description): printable ASCII without '"' and '\\'. */
static void
quotable(char *out, size_t outlen, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < outlen; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? *s : '?';
	out[n] = '\0';
}

/* Who the request comes from (h->user, h->client_addr). 0, or -1 when it was
 * answered 401. Only the routes that reach a connection or make one ask:
 * a preflight, a refusal or a malformed request needs no identity. */
static int
identify(struct app *app, struct http_request *h, enum route rt)
{
	struct auth_request ar = { h->remote_user, h->authorization, h->query, strlen(h->query),
	    rt == ROUTE_STREAM || rt == ROUTE_CLASSIC };
	struct auth_verdict v;
	char challenge[400], desc[220];

	auth_client_addr(app->auth, h->remote_addr, h->forwarded_for, h->client_addr,
	    sizeof(h->client_addr));
	switch (rt) {
	case ROUTE_NEGOTIATE: case ROUTE_STREAM: case ROUTE_POLL: case ROUTE_SEND:
	case ROUTE_DELETE: case ROUTE_CLASSIC:
		break;
	default:
		return 0;
	}
	if (auth_identify(app->auth, &ar, &v) == PH_OK) {
		memcpy(h->user, v.user, sizeof(h->user));
		return 0;
	}
	snprintf(h->reason, sizeof(h->reason), "not authenticated (POLLHUB_AUTH=%s): %s",
	    auth_mode_name(auth_mode(app->auth)), v.why);
	if (auth_mode(app->auth) != AUTH_JWT) {
		/* The web server authenticates: asking the browser for a
		 * password it would never check is no answer. */
		http_unauthorized(h, NULL, "Unauthorized");
		return -1;
	}
	if (v.error == NULL) {
		http_unauthorized(h, "Bearer", "Unauthorized");
		return -1;
	}
	quotable(desc, sizeof(desc), v.why);
	snprintf(challenge, sizeof(challenge), "Bearer error=\"%s\", error_description=\"%s\"",
	    v.error, desc);
	http_unauthorized(h, challenge, "Unauthorized");
	return -1;
}

void
router_handle(struct app *app, struct http_request *h)
{
	char token[64];
	char *const *allowed = app->cfg.allowed_origins;
	enum http_origin origin = http_request_origin(h->origin, h->sec_fetch_site, h->referer,
	    h->host, h->https, allowed);
	struct timespec t0;
	enum route rt;
	const char *name;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Only a listed origin is told it may read the answer (never "*": the
	 * client sends credentials). Once any is listed, answers depend on
	 * Origin, and caches must know. */
	if (origin == HTTP_ORIGIN_ALLOWED && h->origin[0] != '\0')
		/* The configured entry (equal to the header): it outlives the
		 * request, which the event loop may answer later. */
		for (char *const *p = allowed; *p != NULL; p++)
			if (strcmp(*p, h->origin) == 0) {
				h->cors_origin = *p;
				break;
			}
	h->vary_origin = allowed != NULL && allowed[0] != NULL;
	rt = router_route(h->method, h->path, h->query, strlen(h->query), h->accept, origin,
	    token, sizeof(token));
	name = (size_t)rt < sizeof(route_names) / sizeof(route_names[0]) &&
	    route_names[rt] != NULL ? route_names[rt] : "?";
	if (identify(app, h, rt) == 0)
		route_request(app, h, rt, token);
	/* A stream handed to the next image is logged there, when it ends. */
	if (h->detached)
		return;
	/* Never the query: it holds the connection token. */
	if (h->status >= 400)
		log_info("refused %s %s (%s): %d %s", LOG_TEXT(h->method), LOG_TEXT(h->path), name,
		    h->status, h->reason[0] != '\0' ? LOG_TEXT(h->reason) : "(no reason given)");
	log_debug("request %s %s route %s connection %s: status %d in %.1f ms",
	    LOG_TEXT(h->method), LOG_TEXT(h->path), name,
	    h->conn_id[0] != '\0' ? h->conn_id : "-", h->status, ms_since(&t0));
}

static void
route_request(struct app *app, struct http_request *h, enum route rt, const char *token)
{
	char key[ID_KEY_LEN + 1];

	/* Below here a connection is named by its key, never its token: the
	 * key is what the database stores, and it binds the connection to the
	 * user it was opened by. */
	if (rt == ROUTE_STREAM || rt == ROUTE_POLL || rt == ROUTE_SEND || rt == ROUTE_DELETE) {
		if (id_token_key(h->user, token, key) == -1) {
			http_text(h, 500, "Internal Server Error");
			return;
		}
		token = key;
	}
	switch (rt) {
	case ROUTE_NEGOTIATE:
		negotiate_handle(app, h);
		break;
	case ROUTE_PREFLIGHT:
		http_preflight(h);
		break;
	case ROUTE_STREAM:
		sse_handle(app, h, token);
		break;
	case ROUTE_POLL:
		longpoll_handle(app, h, token);
		break;
	case ROUTE_SEND:
		send_handle(app, h, token);
		break;
	case ROUTE_DELETE:
		disconnect(app, h, token);
		break;
	case ROUTE_CLASSIC:
		classic_handle(app, h);
		break;
	case ROUTE_FORBIDDEN:
		if (h->origin[0] != '\0')
			snprintf(h->reason, sizeof(h->reason), "Origin %.200s is not in"
			    " POLLHUB_ALLOWED_ORIGINS", h->origin);
		else
			snprintf(h->reason, sizeof(h->reason), "a page of another origin"
			    " (Sec-Fetch-Site: %.50s) is not in POLLHUB_ALLOWED_ORIGINS",
			    h->sec_fetch_site);
		http_text(h, 403, "Origin not allowed");
		break;
	case ROUTE_NOT_ALLOWED:
		http_text(h, 405, "Method Not Allowed");
		break;
	case ROUTE_NO_ID:
		http_text(h, 400, "Connection ID required");
		break;
	case ROUTE_UNKNOWN_ID:
		http_text(h, 404, "No Connection with that ID");
		break;
	}
}
