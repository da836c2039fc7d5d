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
/* A held stream, as the loop holds it: parked at a restart in place as
 * HANDOFF_STREAM and resumed by the next image (main.c lists it). */
extern const struct hold_kind sse_kind;

/* Append payload[0..len) to out as one event: a "data: " line per LF-separated
 * line (a CR before the LF dropped), then a blank line. -1 when out of memory. */
int	sse_frame(struct buf *out, const char *payload, size_t len);

#endif
