/*
 * sse: the ServerSentEvents transport. A GET with Accept: text/event-stream
 * holds the connection's one stream open: each batch of pending records goes
 * out as one event, a hub Ping goes out when the stream has been quiet for
 * the keep-alive interval (the client gives up after 30 s of silence), and
 * the end of the stream, for whatever reason, removes the connection.
 */
#ifndef POLLHUB_SSE_H
#define POLLHUB_SSE_H

#include <stddef.h>

#include "app.h"
#include "buf.h"
#include "http.h"

void	sse_handle(struct app *, struct http_request *, const char *token);
/* Go on with a stream a previous image of this process parked (handoff):
 * its headers are sent; what became pending meanwhile goes out first. */
/* A stream the previous image handed over (restart in place), on conn:
 * the loop holds it on. -1 when out of memory (conn is the caller's). */
int	sse_resume(struct app *, const struct http_held *conn, const char *token,
	    const struct poll_info *);

/* Append payload[0..len) to out as one event: a "data: " line per LF-separated
 * line (a CR before the LF dropped), then a blank line. -1 when out of memory. */
int	sse_frame(struct buf *out, const char *payload, size_t len);

#endif
