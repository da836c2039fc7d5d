/*
 * classic: the classic ASP.NET SignalR 2.x endpoints (jquery.signalR 2.4.3)
 * under the hub's URL: <hub>/negotiate (GET with clientProtocol), /connect,
 * /start, /poll, /reconnect, /send, /abort and /ping, over long polling
 * (JSONP included: a `callback` parameter wraps every answer) and
 * server-sent events. Connections, groups and pushes are the Core ones
 * (common/classicstore.c, sql/migrations/008_classic.sql); the wire format
 * is common/classicproto.c.
 */
#ifndef POLLHUB_CLASSIC_H
#define POLLHUB_CLASSIC_H

#include "app.h"
#include "buf.h"
#include "classicproto.h"
#include "http.h"

/* One classic request: what every endpoint reads from it (fcgi/classic.c fills it). */
struct classic_request {
	struct app		*app;
	struct http_request	*h;
	enum classic_verb	 verb;
	char			 callback[CLASSIC_MAX_CALLBACK + 1];	/* "" = plain JSON */
	char			 token[64];
	int			 sse;		/* transport=serverSentEvents */
	int			 our_hub;	/* connectionData lists the meetings hub */
	struct buf		 form;		/* the POST body (x-www-form-urlencoded) */
	char			 reason[512];	/* set by classicreceive: why the server closed it */
};

/* Answer json[0..len) as JSON, or as callback(json); under JSONP (the
 * request's callback). Returns http_respond's result. */
int	classic_reply(struct classic_request *, const char *json, size_t len);

/* The same answer as bytes, for a request the event loop holds. */
int	classic_reply_bytes(const struct classic_request *, const struct http_held *,
	    const char *json, size_t len, struct buf *out);

/* Serve one request the router found to be classic. */
void	classic_handle(struct app *, struct http_request *);

#endif
