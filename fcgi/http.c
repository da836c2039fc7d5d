#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <fastcgi.h>

#include "log.h"

/* What the preflight allows: the methods SignalR uses and the headers
 * @microsoft/signalr sends (Authorization with an access token factory).
 * Chromium caps Max-Age at 7200 s. */
#define CORS_ALLOW_METHODS	"GET, POST, DELETE"
#define CORS_ALLOW_HEADERS	"x-requested-with, x-signalr-user-agent, content-type, authorization"
#define CORS_MAX_AGE		"7200"

static const char *
param(FCGX_Request *r, const char *name)
{
	const char *v = FCGX_GetParam(name, r->envp);

	return v != NULL ? v : "";
}

void
http_request_init(struct http_request *h, FCGX_Request *r)
{
	const char *uri, *q;
	size_t n;

	memset(h, 0, sizeof(*h));
	h->fcgi = r;
	h->method = param(r, "REQUEST_METHOD");
	h->query = param(r, "QUERY_STRING");
	h->accept = param(r, "HTTP_ACCEPT");
	h->remote_addr = param(r, "REMOTE_ADDR");
	h->remote_port = param(r, "REMOTE_PORT");
	h->server_addr = param(r, "SERVER_ADDR");
	h->server_port = param(r, "SERVER_PORT");
	h->user_agent = param(r, "HTTP_USER_AGENT");
	if (*h->user_agent == '\0')
		h->user_agent = param(r, "HTTP_X_SIGNALR_USER_AGENT");
	h->content_length = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	h->origin = param(r, "HTTP_ORIGIN");
	h->host = param(r, "HTTP_HOST");
	h->sec_fetch_site = param(r, "HTTP_SEC_FETCH_SITE");
	h->referer = param(r, "HTTP_REFERER");
	h->remote_user = param(r, "REMOTE_USER");
	h->authorization = param(r, "HTTP_AUTHORIZATION");
	h->forwarded_for = param(r, "HTTP_X_FORWARDED_FOR");
	h->https = strcasecmp(param(r, "HTTPS"), "on") == 0 ||
	    strcmp(param(r, "HTTPS"), "1") == 0 ||
	    strcasecmp(param(r, "REQUEST_SCHEME"), "https") == 0;
	/* REQUEST_URI is what the browser asked for, whatever prefix the web
	 * server matched; fall back to SCRIPT_NAME + PATH_INFO. */
	uri = param(r, "REQUEST_URI");
	if (*uri != '\0') {
		q = strchr(uri, '?');
		n = q != NULL ? (size_t)(q - uri) : strlen(uri);
		if (n < sizeof(h->path)) {
			memcpy(h->path, uri, n);
			h->path[n] = '\0';
		}
	} else {
		snprintf(h->path, sizeof(h->path), "%s%s", param(r, "SCRIPT_NAME"),
		    param(r, "PATH_INFO"));
	}
}

/* n without a trailing ":<port>" when that port is the scheme's default. */
static size_t
without_default_port(const char *s, size_t n, int https)
{
	const char *port = https ? ":443" : ":80";
	size_t m = strlen(port);

	return n > m && memcmp(s + n - m, port, m) == 0 ? n - m : n;
}

enum http_origin
http_origin_check(const char *origin, const char *host, int https, char *const *allowed)
{
	const char *auth;
	size_t alen, hlen;
	int origin_https;

	if (origin[0] == '\0')
		return HTTP_ORIGIN_NONE;
	for (char *const *p = allowed; p != NULL && *p != NULL; p++)
		if (strcmp(origin, *p) == 0)
			return HTTP_ORIGIN_ALLOWED;
	if (strncmp(origin, "http://", 7) == 0)
		origin_https = 0, auth = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		origin_https = 1, auth = origin + 8;
	else
		return HTTP_ORIGIN_REFUSED;	/* "null", or not an origin at all */
	if (https && !origin_https)
		return HTTP_ORIGIN_REFUSED;
	alen = without_default_port(auth, strlen(auth), origin_https);
	hlen = without_default_port(host, strlen(host), origin_https);
	/* An origin has no path, query or user; a Host header has none either. */
	if (alen == 0 || alen != hlen || strcspn(auth, "/?#@\\") < alen ||
	    strncasecmp(auth, host, alen) != 0)
		return HTTP_ORIGIN_REFUSED;
	return HTTP_ORIGIN_SAME;
}

enum http_origin
http_request_origin(const char *origin, const char *sec_fetch_site, const char *referer,
    const char *host, int https, char *const *allowed)
{
	char from[300];
	size_t skip, n;

	if (origin[0] != '\0')
		return http_origin_check(origin, host, https, allowed);
	if (strcmp(sec_fetch_site, "cross-site") != 0 && strcmp(sec_fetch_site, "same-site") != 0)
		return HTTP_ORIGIN_NONE;
	/* The Referer's scheme://host[:port], as its Origin would have been. */
	if (strncmp(referer, "http://", 7) == 0)
		skip = 7;
	else if (strncmp(referer, "https://", 8) == 0)
		skip = 8;
	else
		return HTTP_ORIGIN_REFUSED;
	n = skip + strcspn(referer + skip, "/?#");
	if (n == skip || n >= sizeof(from))
		return HTTP_ORIGIN_REFUSED;
	memcpy(from, referer, n);
	from[n] = '\0';
	return http_origin_check(from, host, https, allowed);
}

/* The receive timeout of the request's descriptor: ms, 0 for none. */
static int
set_receive_timeout(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* libfcgi reads the body with blocking read(2)s of the FastCGI connection,
 * as many as the web server's records take: a client that sends a byte a
 * second behind Apache (which passes the body on as it comes) would hold
 * this worker for as long as it likes. So each call asks libfcgi only for
 * what it has buffered, or for one more byte (one refill), with the
 * descriptor's receive timeout set to what is left of timeout_ms; a read
 * that times out sets the stream's error (EAGAIN), and FCGX_Finish_r closes
 * a connection whose input failed, so the rest of the body is never taken
 * for the next request. */
enum ph_err
http_read_body(struct http_request *h, size_t max, long timeout_ms, struct buf *out)
{
	FCGX_Stream *in = h->fcgi->in;
	struct timespec t0;
	enum ph_err st = PH_OK;
	char chunk[8192];
	int n, want;
	long left;

	if (h->content_length != NULL && *h->content_length != '\0') {
		char *end;
		unsigned long long cl = strtoull(h->content_length, &end, 10);
		if (*end != '\0')
			st = PH_LEFT;
		else if (cl > max)
			st = PH_TOO_LARGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (st == PH_OK) {
		if (in->rdNext < in->stop) {
			want = (int)(in->stop - in->rdNext);
			if (want > (int)sizeof(chunk))
				want = (int)sizeof(chunk);
		} else {
			if ((left = timeout_ms - ms_since(&t0)) <= 0) {
				st = PH_TIMEOUT;
				break;
			}
			if (set_receive_timeout(h->fcgi->ipcFd, left) == -1) {
				st = PH_LEFT;
				break;
			}
			want = 1;
		}
		if ((n = FCGX_GetStr(chunk, want, in)) <= 0) {
			int err = FCGX_GetError(in);

			if (err == EAGAIN || err == EWOULDBLOCK)
				st = PH_TIMEOUT;
			else if (err != 0)
				st = PH_LEFT;
			break;
		}
		/* Bounded even without a Content-Length (chunked uploads). */
		if (out->len + (size_t)n > max)
			st = PH_TOO_LARGE;
		else if (buf_append(out, chunk, (size_t)n) == -1)
			st = PH_LEFT;
	}
	/* A connection the web server keeps must never be used again with
	 * part of this body unread: close it once this request is answered. */
	if (st != PH_OK)
		h->fcgi->keepConnection = 0;
	set_receive_timeout(h->fcgi->ipcFd, 0);
	return st;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* The headers every response carries: nosniff, and the CORS answer the
 * router chose. cors_origin is one of the configured origins (validated at
 * start-up), never the client's bytes as such. */
static int
common_headers(const char *cors_origin, int vary_origin, struct buf *head)
{
	if (buf_puts(head, "X-Content-Type-Options: nosniff\r\n") == -1)
		return -1;
	if (cors_origin != NULL &&
	    (buf_puts(head, "Access-Control-Allow-Origin: ") == -1 ||
	    buf_puts(head, cors_origin) == -1 ||
	    buf_puts(head, "\r\nAccess-Control-Allow-Credentials: true\r\n") == -1))
		return -1;
	if (vary_origin && buf_puts(head, "Vary: Origin\r\n") == -1)
		return -1;
	return 0;
}

/* Send head (ended here by the blank line), then body. */
static enum ph_err
send_head(struct http_request *h, struct buf *head, const char *body, size_t len)
{
	enum ph_err rc = PH_NOMEM;

	if (common_headers(h->cors_origin, h->vary_origin, head) == -1 ||
	    buf_puts(head, "\r\n") == -1)
		goto done;
	rc = PH_LEFT;
	if (FCGX_PutStr(head->data, (int)head->len, h->fcgi->out) != (int)head->len)
		goto done;
	if (len > 0 && FCGX_PutStr(body, (int)len, h->fcgi->out) != (int)len)
		goto done;
	rc = FCGX_FFlush(h->fcgi->out) == 0 ? PH_OK : PH_LEFT;
done:
	buf_free(head);
	return rc;
}

/* The status line and entity headers of a complete response. */
static int
response_head(struct buf *head, int status, const char *content_type, size_t len, int flags)
{
	char line[512];

	snprintf(line, sizeof(line),
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s",
	    status, reason(status), content_type, len,
	    flags & HTTP_NO_CACHE ? "Cache-Control: no-cache, no-store\r\n"
	    "Pragma: no-cache\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n" : "");
	return buf_puts(head, line);
}

enum ph_err
http_respond(struct http_request *h, int status, const char *content_type,
    const char *body, size_t len, int flags)
{
	struct buf head = BUF_INIT;

	if (status == 204)
		len = 0;
	h->status = status;
	/* A refusal's plain-text body is its reason, unless the caller gave one. */
	if (status >= 400 && h->reason[0] == '\0' && body != NULL &&
	    strncmp(content_type, "text/plain", 10) == 0)
		snprintf(h->reason, sizeof(h->reason), "%.*s", (int)(len < 200 ? len : 200), body);
	if (response_head(&head, status, content_type, len, flags) == -1) {
		buf_free(&head);
		return PH_NOMEM;
	}
	return send_head(h, &head, body, len);
}

enum ph_err
http_unauthorized(struct http_request *h, const char *challenge, const char *body)
{
	struct buf head = BUF_INIT;
	size_t len = strlen(body);

	h->status = 401;
	if (h->reason[0] == '\0')
		snprintf(h->reason, sizeof(h->reason), "%.200s", body);
	if (response_head(&head, 401, "text/plain", len, HTTP_NO_CACHE) == -1 ||
	    (challenge != NULL && (buf_puts(&head, "WWW-Authenticate: ") == -1 ||
	    buf_puts(&head, challenge) == -1 || buf_puts(&head, "\r\n") == -1))) {
		buf_free(&head);
		return PH_NOMEM;
	}
	return send_head(h, &head, body, len);
}

enum ph_err
http_response_bytes(const struct http_held *held, int status, const char *content_type,
    const char *body, size_t len, int flags, struct buf *out)
{
	size_t mark = out->len;

	if (status == 204)
		len = 0;
	if (response_head(out, status, content_type, len, flags) == -1 ||
	    common_headers(held->cors_origin, held->vary_origin, out) == -1 ||
	    buf_puts(out, "\r\n") == -1 ||
	    (len > 0 && buf_append(out, body, len) == -1)) {
		out->len = mark;
		return PH_NOMEM;
	}
	return PH_OK;
}

/* libfcgi's private state of a stream (fcgiapp.c's FCGX_Stream_Data, the
 * same in every release since 2.0, Debian's 2.4.2 included): the reader's
 * position in its records, which no public call tells. http_detach checks
 * that what it finds is consistent before it trusts it. */
struct libfcgi_stream_data {
	unsigned char	*buff;		/* the buffer */
	int		 bufflen;
	unsigned char	*mbuff;
	unsigned char	*buff_stop;	/* end of the bytes read from the socket */
	int		 type;		/* FCGI_STDIN once the params are read */
	int		 eor_stop;
	int		 skip;
	int		 content_len;	/* content of the current record not yet in buff */
	int		 padding_len;	/* its padding not yet passed over */
	int		 is_anything_written;
	int		 raw_write;
	void		*req_data;
};

void
http_held_free(struct http_held *held)
{
	free(held->ahead);
	free(held->carry);
	held->ahead = held->carry = NULL;
	held->ahead_len = held->carry_len = 0;
}

/* Where libfcgi's reader of r's stdin stands, and what it read past that:
 * bytes rdNext..stop are the current STDIN record's content, content_len
 * more of it are still on the socket, then padding_len of padding; every
 * byte up to buff_stop was read from the socket and is the loop's to read
 * next. -1 when the state is not what this libfcgi should have. */
static int
take_reader(FCGX_Request *r, struct http_held *out)
{
	FCGX_Stream *in = r->in;
	struct libfcgi_stream_data *d = in != NULL ? in->data : NULL;
	size_t here;

	if (d == NULL || !in->isReader || d->type != FCGI_STDIN || d->skip || d->eor_stop ||
	    in->rdNext < d->buff || in->stop < in->rdNext || d->buff_stop < in->stop ||
	    d->buff_stop > d->buff + d->bufflen || d->content_len < 0 ||
	    d->content_len > FCGIREC_MAX_CONTENT || d->padding_len < 0 || d->padding_len > 255) {
		log_error("http: libfcgi's reader is not in a state this build knows; a held"
		    " request is refused");
		return -1;
	}
	here = (size_t)(in->stop - in->rdNext);
	memset(&out->rd, 0, sizeof(out->rd));
	out->rd.request_id = (uint16_t)r->requestId;
	out->rd.stdin_done = in->isClosed;
	out->rd.content_left = in->isClosed ? 0 : here + (size_t)d->content_len;
	out->rd.in_stdin = out->rd.content_left > 0;
	out->rd.padding_left = (size_t)d->padding_len;
	out->rd.stdin_total = out->rd.content_left;
	out->ahead_len = (size_t)(d->buff_stop - in->rdNext);
	out->ahead = NULL;
	if (out->ahead_len > 0) {
		if ((out->ahead = malloc(out->ahead_len)) == NULL)
			return -1;
		memcpy(out->ahead, in->rdNext, out->ahead_len);
	}
	return 0;
}

enum ph_err
http_detach(struct http_request *h, struct http_held *out)
{
	FCGX_Request *r = h->fcgi;
	int flags;

	memset(out, 0, sizeof(*out));
	/* A read that failed (the web server left) leaves nothing to hold. */
	if (FCGX_FFlush(r->out) != 0 || FCGX_GetError(r->in) != 0)
		return PH_LEFT;
	/* The rest of the body is not read here: a client that sends it slowly
	 * would hold this worker. The loop reads it, with its reader. */
	if (take_reader(r, out) == -1)
		return PH_LEFT;
	if ((flags = fcntl(r->ipcFd, F_GETFL)) == -1 ||
	    fcntl(r->ipcFd, F_SETFL, flags | O_NONBLOCK) == -1) {
		http_held_free(out);
		return PH_LEFT;
	}
	out->fd = r->ipcFd;
	out->request_id = r->requestId;
	out->keep = r->keepConnection;
	out->cors_origin = h->cors_origin;
	out->vary_origin = h->vary_origin;
	/* Streams and params freed, the descriptor kept: the next accept takes
	 * a new connection. */
	FCGX_Free(r, 0);
	r->ipcFd = -1;
	h->detached = 1;
	return PH_OK;
}

enum ph_err
http_preflight(struct http_request *h)
{
	struct buf head = BUF_INIT;

	h->status = 204;
	if (buf_puts(&head, "Status: 204 No Content\r\nAllow: GET, POST, DELETE, OPTIONS\r\n") == -1 ||
	    (h->cors_origin != NULL && buf_puts(&head,
	    "Access-Control-Allow-Methods: " CORS_ALLOW_METHODS "\r\n"
	    "Access-Control-Allow-Headers: " CORS_ALLOW_HEADERS "\r\n"
	    "Access-Control-Max-Age: " CORS_MAX_AGE "\r\n") == -1)) {
		buf_free(&head);
		return PH_NOMEM;
	}
	return send_head(h, &head, NULL, 0);
}

enum ph_err
http_stream_start(struct http_request *h)
{
	/* No Content-Length: the web server ends the body when we finish.
	 * identity keeps compressing filters off; X-Accel-Buffering: no asks
	 * nginx-style proxies in front not to buffer the stream. */
	struct buf head = BUF_INIT;

	h->status = 200;
	if (buf_puts(&head,
	    "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache, no-store\r\n"
	    "Pragma: no-cache\r\n"
	    "Content-Encoding: identity\r\n"
	    "X-Accel-Buffering: no\r\n") == -1) {
		buf_free(&head);
		return PH_NOMEM;
	}
	return send_head(h, &head, NULL, 0);
}

enum ph_err
http_write(struct http_request *h, const char *data, size_t len)
{
	if (len > 0 && FCGX_PutStr(data, (int)len, h->fcgi->out) != (int)len)
		return PH_LEFT;
	return FCGX_FFlush(h->fcgi->out) == 0 ? PH_OK : PH_LEFT;
}

enum ph_err
http_text(struct http_request *h, int status, const char *body)
{
	return http_respond(h, status, "text/plain", body, strlen(body), HTTP_NO_CACHE);
}

int
http_status_of(enum ph_err e)
{
	switch (e) {
	case PH_OK:
	case PH_DELIVERED:
		return 200;
	case PH_CLOSED:
	case PH_SUPERSEDED:
		return 204;
	case PH_INVALID:
	case PH_LEFT:
	case PH_TRANSPORT:
		return 400;
	case PH_UNAUTHORIZED:
		return 401;
	case PH_FORBIDDEN:
		return 403;
	case PH_NOT_FOUND:
		return 404;
	case PH_TIMEOUT:
		return 408;
	case PH_TOO_LARGE:
		return 413;
	case PH_DB:
	case PH_BUSY:
		return 503;
	default:
		return 500;
	}
}

const char *
http_text_of(enum ph_err e)
{
	switch (e) {
	case PH_OK:
	case PH_DELIVERED:
	case PH_CLOSED:
	case PH_SUPERSEDED:
		return "";
	case PH_INVALID:
	case PH_LEFT:
		return "Bad Request";
	case PH_TRANSPORT:
		return "Cannot change transports mid-connection";
	case PH_UNAUTHORIZED:
		return "Unauthorized";
	case PH_FORBIDDEN:
		return "Forbidden";
	case PH_NOT_FOUND:
		return "No Connection with that ID";
	case PH_TIMEOUT:
		return "Request Timeout";
	case PH_TOO_LARGE:
		return "Payload Too Large";
	case PH_DB:
	case PH_BUSY:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

enum ph_err
http_error(struct http_request *h, enum ph_err e)
{
	return http_text(h, http_status_of(e), http_text_of(e));
}
