/*
 * router: maps a request's method, path, query and Origin to negotiate,
 * preflight, poll, stream, send or delete, with ASP.NET Core's status codes
 * for the cases it decides itself.
 */
#ifndef POLLHUB_ROUTER_H
#define POLLHUB_ROUTER_H

#include <stddef.h>

#include "app.h"
#include "http.h"

/* What a request is, decided from its bytes alone. */
enum route {
	ROUTE_NEGOTIATE,	/* POST <hub>/negotiate */
	ROUTE_PREFLIGHT,	/* OPTIONS: 204 (CORS preflight) */
	ROUTE_STREAM,		/* GET ?id= with Accept: text/event-stream */
	ROUTE_POLL,		/* GET ?id= */
	ROUTE_SEND,		/* POST ?id= */
	ROUTE_DELETE,		/* DELETE ?id= */
	ROUTE_CLASSIC,		/* classic SignalR 2.x: GET <hub>/negotiate?clientProtocol=,
				 * GET/POST <hub>/connect, /poll, /send, ... (fcgi/classic.c) */
	ROUTE_FORBIDDEN,	/* 403: from a refused origin, anything but GET, HEAD and
				 * OPTIONS, and classic requests whatever their method */
	ROUTE_NOT_ALLOWED,	/* 405 */
	ROUTE_NO_ID,		/* 400 "Connection ID required" */
	ROUTE_UNKNOWN_ID	/* 404 "No Connection with that ID": cannot be a token */
};

/* Decide a request. method, path (without the query), accept: NUL-terminated,
 * "" when absent; query[0..qlen); origin: http_request_origin's verdict. For
 * ROUTE_STREAM, _POLL, _SEND and _DELETE the decoded, well-formed token is in
 * token (tokenlen bytes, at least ID_LEN + 1). No I/O. */
enum route	router_route(const char *method, const char *path, const char *query,
		    size_t qlen, const char *accept, enum http_origin origin, char *token,
		    size_t tokenlen);

/* Serve one request: decide its route and CORS headers, then hand it on. */
void	router_handle(struct app *, struct http_request *);

#endif
