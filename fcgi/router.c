#include "router.h"

#include <string.h>

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
	PGconn *db = store_acquire(app->store);
	enum store_status st;

	if (db == NULL) {
		http_text(h, 503, "Service Unavailable");
		return;
	}
	st = store_connection_delete(db, token);
	store_release(app->store, db);
	if (st == STORE_OK)
		http_text(h, 202, "");
	else if (st == STORE_NOT_FOUND)
		http_text(h, 404, "No Connection with that ID");
	else
		http_text(h, 503, "Service Unavailable");
}

void
router_handle(struct app *app, struct http_request *h)
{
	char token[64];
	int found;

	/* Never the query: it holds the connection token. */
	log_debug("%s %s", h->method, h->path);
	/* The web server decides which paths reach us; we only tell negotiate
	 * apart from the connection endpoint. */
	if (ends_with(h->path, "/negotiate")) {
		negotiate_handle(app, h);
		return;
	}
	if (strcmp(h->method, "GET") != 0 && strcmp(h->method, "POST") != 0 &&
	    strcmp(h->method, "DELETE") != 0) {
		http_text(h, 405, "Method Not Allowed");
		return;
	}
	found = query_get(h->query, strlen(h->query), "id", token, sizeof(token));
	if (found == 0 || (found == 1 && token[0] == '\0')) {
		http_text(h, 400, "Connection ID required");
		return;
	}
	/* Anything that cannot be one of our tokens is unknown: no query needed. */
	if (found < 0 || !id_is_wellformed(token, strlen(token))) {
		http_text(h, 404, "No Connection with that ID");
		return;
	}
	if (strcmp(h->method, "GET") == 0 && strstr(h->accept, "text/event-stream") != NULL)
		sse_handle(app, h, token);
	else if (strcmp(h->method, "GET") == 0)
		longpoll_handle(app, h, token);
	else if (strcmp(h->method, "POST") == 0)
		send_handle(app, h, token);
	else
		disconnect(app, h, token);
}
