/*
 * http: one FastCGI request seen as HTTP: the CGI parameters pollhub uses,
 * a bounded body read, and response writing.
 */
#ifndef POLLHUB_HTTP_H
#define POLLHUB_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>

#include "buf.h"

struct http_request {
	FCGX_Request	*fcgi;
	/* Borrowed from the FastCGI environment: valid until FCGX_Finish_r. */
	const char	*method;
	const char	*query;		/* "" when absent */
	const char	*accept;	/* "" when absent */
	const char	*remote_addr;	/* "" when absent */
	const char	*user_agent;	/* User-Agent or X-SignalR-User-Agent; "" when absent */
	const char	*content_length;	/* NULL when absent */
	char		 path[1024];	/* request path without the query; "" if too long */
};

void	http_request_init(struct http_request *, FCGX_Request *);

enum body_status { BODY_OK, BODY_TOO_LARGE, BODY_ERROR };
/* Read the whole body into out, refusing more than max bytes. */
enum body_status http_read_body(struct http_request *, size_t max, struct buf *out);

/* Response headers pollhub sends besides Status/Content-Type/Content-Length. */
#define HTTP_NO_CACHE 1		/* Cache-Control/Pragma/Expires like ASP.NET's polls */

/* Write a complete response. Returns 0, or -1 when the client is gone. */
int	http_respond(struct http_request *, int status, const char *content_type,
	    const char *body, size_t len, int flags);
/* Start an open-ended text/event-stream response: headers only, flushed.
 * Then http_write sends each piece as soon as it is written. Both return 0,
 * or -1 when the client is gone. */
int	http_stream_start(struct http_request *);
int	http_write(struct http_request *, const char *data, size_t len);
/* 1 when the web server has closed this request's connection (its client
 * went away), 0 otherwise. Never blocks. */
int	http_client_gone(struct http_request *);
/* A text/plain response with the no-cache headers. */
int	http_text(struct http_request *, int status, const char *body);

#endif
