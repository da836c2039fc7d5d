/*
 * longpoll: GET <hub>?id=TOKEN. The first poll answers at once; later polls
 * drain what is pending or wait (woken by the notifier) until something is,
 * a newer poll or a DELETE ends them (204), or the poll timeout passes (200
 * empty).
 */
#ifndef POLLHUB_LONGPOLL_H
#define POLLHUB_LONGPOLL_H

#include "app.h"
#include "http.h"
#include "tcpdiag.h"

void	longpoll_handle(struct app *, struct http_request *, const char *token);
/* A held poll, as the loop holds it: parked at a restart in place as
 * HANDOFF_POLL, with what is left of its timeout and its client's
 * connection, and resumed by the next image (main.c lists it). */
extern const struct hold_kind longpoll_kind;

#endif
