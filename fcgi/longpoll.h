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
/* A poll the previous image held (restart in place), on conn, with left_ms
 * of its timeout to go, its client's connection peer (family 0: unknown):
 * the loop holds it on. -1 when out of memory (conn is the caller's). */
int	longpoll_resume(struct app *, const struct http_held *conn, const char *token,
	    const struct poll_info *, const struct tcpdiag_conn *peer, long long left_ms);

#endif
