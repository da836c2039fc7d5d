/*
 * router: maps a request's method and path to negotiate, poll, send or
 * delete, with ASP.NET Core's status codes for the cases it decides itself.
 */
#ifndef POLLHUB_ROUTER_H
#define POLLHUB_ROUTER_H

#include "app.h"
#include "http.h"

void	router_handle(struct app *, struct http_request *);

#endif
