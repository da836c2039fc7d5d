/*
 * fanout: the listener's drain callback. Drains every waiter of a batch with
 * one query on the listener's drain connection, so a push to a group of N
 * waiting members of this process costs one round trip, not N. A group's
 * turn reads the group's new rows once (fanout_group: one read, one cursor
 * UPDATE for all, the rows framed once and appended whole to each member
 * that sent none of them); members it does not serve (a queued completion,
 * a cursor of their own, a row held elsewhere) drain alone. The turn of the
 * connection ids ('c:' notifications) merges each one's queue and pushes
 * (drain_many).
 *
 * A batch is bounded: at most WAITERS_BATCH waiters (waiters.c forms them,
 * fewer while the bytes cut its group's batches) and FANOUT_BATCH_BYTES
 * bytes of records in all (or one waiter's POLLHUB_MAX_ANSWER when that is
 * larger); waiters past the bytes are answered 'later' and stay pending for
 * the next batch of their group. Each statement has a deadline of
 * FANOUT_DEADLINE_MS kept by the responder (pgwait): a stopped or hung
 * session is cancelled, then given up, and the batch's waiters drain
 * themselves.
 */
#ifndef POLLHUB_FANOUT_H
#define POLLHUB_FANOUT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "waiters.h"

#define FANOUT_BATCH_BYTES	(1024 * 1024)
#define FANOUT_DEADLINE_MS	3000

/* A listen_drain_fn (db: the listener's own connection); ctx is the
 * struct config (its max_answer: one waiter's budget). */
int	fanout_drain(void *ctx, PGconn *db, const char *group, struct waiter **waiters,
	    size_t n);

#endif
