/*
 * send: POST <hub>?id=TOKEN. One or more 0x1E-terminated hub records; the
 * first of a connection is its handshake. Everything a POST does (meetings,
 * pushes, completions, the carried-over partial record) commits together.
 */
#ifndef POLLHUB_SEND_H
#define POLLHUB_SEND_H

#include "app.h"
#include "http.h"

void	send_handle(struct app *, struct http_request *, const char *token);

/* Log a Close message among the records data[0..len) that connection id is
 * being sent: one drained from the database is an administrator's
 * disconnect_connection (a protocol error's or the pending cap's Close was
 * logged when it was queued). Returns whether there was one. */
int	send_log_close(const char *id, const char *data, size_t len);

#endif
