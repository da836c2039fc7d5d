/*
 * fanout: the notifier's drain callback. Drains every waiter of a batch with
 * one query (drain_many) on the notifier's drain connection, so a push to a
 * group of N waiting members of this process costs one round trip, not N.
 *
 * A batch is bounded: at most WAITERS_BATCH waiters (notify.c forms
 * them, fewer while the bytes cut its group's batches) and FANOUT_BATCH_BYTES bytes of records in all (or one
 * waiter's POLLHUB_MAX_ANSWER when that is larger); waiters past the bytes
 * are answered 'later' and stay with the notifier for the next batch of
 * their group. Each statement has a deadline of FANOUT_DEADLINE_MS kept by
 * the responder (pgwait): a stopped or hung session is cancelled, then given
 * up, and the batch's waiters drain themselves.
 */
#ifndef POLLHUB_FANOUT_H
#define POLLHUB_FANOUT_H

#include <stddef.h>

#include "waiters.h"

#define FANOUT_BATCH_BYTES	(1024 * 1024)
#define FANOUT_DEADLINE_MS	3000

/* A listen_drain_fn (db: the notifier's own connection); ctx is the struct app. */
int	fanout_drain(void *ctx, PGconn *db, struct waiter **waiters, size_t n);

#endif
