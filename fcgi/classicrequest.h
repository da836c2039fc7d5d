/*
 * classicrequest: one classic (SignalR 2.x) request as every endpoint reads
 * it, and its JSON answer (JSONP when the request named a callback). Used
 * by the endpoints (classic.c) and the receive requests (classicreceive.c).
 */
#ifndef POLLHUB_CLASSICREQUEST_H
#define POLLHUB_CLASSICREQUEST_H

#include <stddef.h>

#include "app.h"
#include "buf.h"
#include "classicproto.h"
#include "http.h"

/* One classic request: what every endpoint reads from it (classic.c fills it). */
struct classic_request {
	struct app		*app;
	struct http_request	*h;
	enum classic_verb	 verb;
	char			 callback[CLASSIC_MAX_CALLBACK + 1];	/* "" = plain JSON */
	char			 token[64];
	int			 sse;		/* transport=serverSentEvents */
	char			 hub[CLASSIC_HUB_NAME_MAX];	/* connectionData's hub; "": none */
	struct buf		 form;		/* the POST body (x-www-form-urlencoded) */
	char			 reason[512];	/* set by classicreceive: why the server closed it */
};

/* Answer json[0..len) as JSON, or as callback(json); under JSONP (the
 * request's callback). Returns http_respond's result. */
enum ph_err classic_reply(struct classic_request *, const char *json, size_t len);

/* The same answer as bytes, for a request the event loop holds. */
enum ph_err classic_reply_bytes(const struct classic_request *, const struct http_held *,
	    const char *json, size_t len, struct buf *out);

/* A parameter from the query string or the form body, in the order the
 * reference server reads it (form_first: the form before the query). Returns
 * query_get's codes: 1 found, 0 absent, -1 too long or badly encoded. */
int	classic_param(const struct classic_request *, const char *key, int form_first,
	    char *out, size_t outlen);

#endif
