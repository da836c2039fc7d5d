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

#endif
