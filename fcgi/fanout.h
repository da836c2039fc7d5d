/*
 * fanout: the notifier's drain callback. Drains every waiter of a batch with
 * one query (store_drain_many), in chunks, so a push to a group of N waiting
 * members of this process costs one round trip, not N.
 */
#ifndef POLLHUB_FANOUT_H
#define POLLHUB_FANOUT_H

#include <stddef.h>

#include "notify.h"

/* A notify_drain_fn (db: the notifier's own connection); ctx is the struct app. */
void	fanout_drain(void *ctx, PGconn *db, struct waiter **waiters, size_t n);

#endif
