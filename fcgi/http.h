/*
 * http: one FastCGI request seen as HTTP: the CGI parameters pollhub uses,
 * a bounded body read, and response writing.
 */
#ifndef POLLHUB_HTTP_H
#define POLLHUB_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>

#include "auth.h"
#include "buf.h"
#include "fcgirec.h"
#include "pherr.h"

struct http_request {
	FCGX_Request	*fcgi;
	/* Borrowed from the FastCGI environment: valid until FCGX_Finish_r. */
	const char	*method;
	const char	*query;		/* "" when absent */
	const char	*accept;	/* "" when absent */
	const char	*remote_addr;	/* "" when absent */
	/* The client's TCP connection as the web server sees it (tcpdiag). */
	const char	*remote_port, *server_addr, *server_port;	/* "" when absent */
	const char	*user_agent;	/* User-Agent or X-SignalR-User-Agent; "" when absent */
	const char	*content_length;	/* NULL when absent */
	const char	*origin;	/* the Origin header; "" when absent */
	const char	*host;		/* the Host header; "" when absent */
	const char	*sec_fetch_site;	/* the Sec-Fetch-Site header; "" when absent */
	const char	*referer;	/* the Referer header; "" when absent */
	int		 https;		/* the web server says the request came over TLS */
	/* Identity as offered (auth.h): never logged. */
	const char	*remote_user;	/* REMOTE_USER; "" when absent */
	const char	*authorization;	/* the Authorization header; "" when absent */
	const char	*forwarded_for;	/* X-Forwarded-For; "" when absent */
	/* Set by the router: the user the request comes from ("" without
	 * identity), and the client's address (REMOTE_ADDR, or behind a
	 * trusted proxy the address it forwarded for): the default group and
	 * what admin_connections shows. remote_addr stays the peer's, which
	 * tcpdiag needs. */
	char		 user[AUTH_USER_SIZE];
	char		 client_addr[128];
	/* Set by the router: the Origin to echo in Access-Control-Allow-Origin
	 * (NULL: no CORS headers), and whether to send Vary: Origin. */
	const char	*cors_origin;
	int		 vary_origin;
	char		 path[1024];	/* request path without the query; "" if too long */
	int		 detached;	/* handed to the event loop (http_detach): do not finish */
	/* For the request's log line: the status answered (0: none yet), why a
	 * refusal was refused (raw, possibly client text: log through
	 * LOG_TEXT), and the connection id once a handler knows it. */
	int		 status;
	char		 reason[256];
	char		 conn_id[64];
	int		 server_closed;	/* a Close from the server went out */
};

void	http_request_init(struct http_request *, FCGX_Request *);

/* What a request's Origin header means (see http_origin_check). */
enum http_origin {
	HTTP_ORIGIN_NONE,	/* no Origin header: not a cross-site browser request */
	HTTP_ORIGIN_SAME,	/* the page is served from the hub's own origin */
	HTTP_ORIGIN_ALLOWED,	/* one of POLLHUB_ALLOWED_ORIGINS */
	HTTP_ORIGIN_REFUSED	/* anything else, "null" included */
};
/* Judge origin ("" when absent) against allowed (NULL-terminated, normalised
 * by config_parse_origins; NULL = none), byte for byte. An origin not listed
 * is the page's own when its host[:port] equals the Host header (ASCII case
 * aside, the scheme's default port left out of both); the scheme is only
 * compared when https says the request came over TLS (an http:// page is then
 * foreign), since a TLS-terminating proxy in front hides it. Pure. */
enum http_origin http_origin_check(const char *origin, const char *host, int https,
	    char *const *allowed);
/* The verdict on a whole request: its Origin header's; or, without one, when
 * the browser says the request comes from another origin's page
 * (Sec-Fetch-Site: cross-site or same-site: script, image and navigation GETs,
 * JSONP's included, carry no Origin), the verdict on its Referer's origin, or
 * REFUSED when it has none. A request that says neither is NONE (older
 * browsers, and clients that are not browsers). Pure. */
enum http_origin http_request_origin(const char *origin, const char *sec_fetch_site,
	    const char *referer, const char *host, int https, char *const *allowed);

/* A request handed to the event loop: its FastCGI connection and what its
 * answer needs of it. */
struct http_held {
	int		 fd;		/* the FastCGI connection (non-blocking, close-on-exec) */
	int		 request_id;
	int		 keep;		/* the web server asked to keep the connection */
	const char	*cors_origin;	/* a configured origin (lives as long as the process) */
	int		 vary_origin;
	/* Where the connection's records stand (the event loop reads on from
	 * there with fcgirec), and the bytes already read past that point
	 * (libfcgi's read-ahead): malloc'd, owned by whoever holds the struct
	 * (loop_add takes it; http_held_free otherwise). */
	struct fcgirec_state	 rd;
	char		*ahead;
	size_t		 ahead_len;
	/* Records a previous image queued and did not write (a restart in
	 * place): written before anything else; malloc'd, owned likewise. */
	char		*carry;
	size_t		 carry_len;
};
/* Free what a held connection owns besides its descriptor (not closed). */
void	http_held_free(struct http_held *);
/* Take the request away from libfcgi: what was written is flushed, and the
 * connection goes to *out, non-blocking, with where its records stand and
 * what libfcgi read ahead of the handler (what is left of the body is the
 * event loop's to read, never a worker's); libfcgi forgets it (h->detached:
 * the request's borrowed strings are gone, nobody answers or finishes it).
 * PH_LEFT when the client is gone already. */
enum ph_err http_detach(struct http_request *, struct http_held *out);
/* A complete response (what http_respond writes) as bytes for held: PH_OK,
 * or PH_NOMEM (out unchanged). */
enum ph_err http_response_bytes(const struct http_held *, int status, const char *content_type,
	    const char *body, size_t len, int flags, struct buf *out);

/* PH_OK, PH_TOO_LARGE, PH_LEFT (a read failed: the client left) or PH_TIMEOUT. */
/* Read the whole body into out, refusing more than max bytes, within
 * timeout_ms (POLLHUB_BODY_TIMEOUT) in all: PH_TIMEOUT when the body has
 * not all come by then (answer 408). On anything but PH_OK the FastCGI
 * connection is closed when the request finishes (never reused half-read). */
enum ph_err http_read_body(struct http_request *, size_t max, long timeout_ms,
	    struct buf *out);

/* Response headers pollhub sends besides Status/Content-Type/Content-Length
 * (every response also carries X-Content-Type-Options: nosniff and, when the
 * router set them, the CORS headers). */
#define HTTP_NO_CACHE 1		/* Cache-Control/Pragma/Expires like ASP.NET's polls */

/* Answer an OPTIONS request: 204 with Allow and, for an allowed origin
 * (h->cors_origin), the preflight headers @microsoft/signalr needs. */
enum ph_err http_preflight(struct http_request *);

/* Write a complete response: PH_OK, PH_LEFT when the client is gone, or
 * PH_NOMEM. */
enum ph_err http_respond(struct http_request *, int status, const char *content_type,
	    const char *body, size_t len, int flags);
/* Start an open-ended text/event-stream response: headers only, flushed.
 * Then http_write sends each piece as soon as it is written. Both return
 * PH_OK, or PH_LEFT when the client is gone (PH_NOMEM). */
enum ph_err http_stream_start(struct http_request *);
enum ph_err http_write(struct http_request *, const char *data, size_t len);
/* 401 with WWW-Authenticate: challenge (NULL: none) and body as text. */
enum ph_err http_unauthorized(struct http_request *, const char *challenge, const char *body);
/* A text/plain response with the no-cache headers. */
enum ph_err http_text(struct http_request *, int status, const char *body);

/* A ph_err that is also an HTTP status, mapped in this one place: PH_OK and
 * PH_DELIVERED (an answer with records) 200; PH_CLOSED and PH_SUPERSEDED 204
 * (a long poll ended); PH_INVALID, PH_LEFT (a body read failed) and
 * PH_TRANSPORT 400; PH_NOT_FOUND 404; PH_TIMEOUT 408; PH_TOO_LARGE 413;
 * PH_DB and PH_BUSY 503; anything else 500. */
int	http_status_of(enum ph_err);
/* The text answered with it (ASP.NET Core's where the client reads it). */
const char *http_text_of(enum ph_err);
/* Answer e: http_text with http_status_of(e) and http_text_of(e). */
enum ph_err http_error(struct http_request *, enum ph_err e);

#endif
