#include "http.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	h->user_agent = param(r, "HTTP_USER_AGENT");
	if (*h->user_agent == '\0')
		h->user_agent = param(r, "HTTP_X_SIGNALR_USER_AGENT");
	h->content_length = FCGX_GetParam("CONTENT_LENGTH", r->envp);
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

enum body_status
http_read_body(struct http_request *h, size_t max, struct buf *out)
{
	char chunk[8192];
	int n;

	if (h->content_length != NULL && *h->content_length != '\0') {
		char *end;
		unsigned long long cl = strtoull(h->content_length, &end, 10);
		if (*end != '\0')
			return BODY_ERROR;
		if (cl > max)
			return BODY_TOO_LARGE;
	}
	/* Bounded even without a Content-Length (chunked uploads). */
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), h->fcgi->in)) > 0) {
		if (out->len + (size_t)n > max)
			return BODY_TOO_LARGE;
		if (buf_append(out, chunk, (size_t)n) == -1)
			return BODY_ERROR;
	}
	return FCGX_GetError(h->fcgi->in) != 0 ? BODY_ERROR : BODY_OK;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int
http_respond(struct http_request *h, int status, const char *content_type,
    const char *body, size_t len, int flags)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "\r\n",
	    status, reason(status), content_type, status == 204 ? (size_t)0 : len,
	    flags & HTTP_NO_CACHE ? "Cache-Control: no-cache, no-store\r\n"
	    "Pragma: no-cache\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n" : "");
	if (FCGX_PutStr(head, n, h->fcgi->out) != n)
		return -1;
	if (status != 204 && len > 0 && FCGX_PutStr(body, (int)len, h->fcgi->out) != (int)len)
		return -1;
	return FCGX_FFlush(h->fcgi->out) == 0 ? 0 : -1;
}

int
http_stream_start(struct http_request *h)
{
	/* No Content-Length: the web server ends the body when we finish.
	 * identity keeps compressing filters off; X-Accel-Buffering: no asks
	 * nginx-style proxies in front not to buffer the stream. */
	static const char head[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache, no-store\r\n"
	    "Pragma: no-cache\r\n"
	    "Content-Encoding: identity\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "\r\n";

	return http_write(h, head, sizeof(head) - 1);
}

int
http_write(struct http_request *h, const char *data, size_t len)
{
	if (len > 0 && FCGX_PutStr(data, (int)len, h->fcgi->out) != (int)len)
		return -1;
	return FCGX_FFlush(h->fcgi->out) == 0 ? 0 : -1;
}

int
http_text(struct http_request *h, int status, const char *body)
{
	return http_respond(h, status, "text/plain", body, strlen(body), HTTP_NO_CACHE);
}

int
http_client_gone(struct http_request *h)
{
	struct pollfd p = { .fd = h->fcgi->ipcFd, .events = POLLRDHUP };

	/* Only useful when the web server closes the FastCGI connection on a
	 * client abort; lighttpd 1.4 notices an abort only when it writes. */
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}
