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
#include "http.h"

/* Serve one request the router found to be classic. */
void	classic_handle(struct app *, struct http_request *);

#endif
