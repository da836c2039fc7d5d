/*
 * turns: the keys whose waiters are pending, queued for their turn (the
 * waiter registry's, under its lock; nothing here locks). A group has one
 * turn queued at a time: a busy group queued twice would take two turns to
 * another's one. The connection ids of 'c:' notifications wait in a list of
 * their own and take one turn together, its mark a turn with an empty key.
 */
#ifndef POLLHUB_TURNS_H
#define POLLHUB_TURNS_H

#include <stddef.h>

struct turn {
	struct turn	*next;
	struct turn	*hnext;		/* a group's: same bucket of the queued groups */
	/* A group's batch size: halved down to what the byte budget admitted
	 * when it left some 'later' (their backlog would be read for nothing),
	 * grown back when all fit. */
	size_t		 cap;
	char		 key[];		/* "" for the connection ids' turn */
};

struct turns;

/* An empty queue (NULL: out of memory), and freeing it with every turn in it. */
struct turns	*turns_new(void);
void		 turns_free(struct turns *);

/* Queue key for a turn: a group's (unless it has one), or a connection id's
 * in the shared turn, whose mark is queued if it is not. cap: a new group
 * turn's batch size. -1: out of memory (the key is not queued). */
int		 turns_queue(struct turns *, int is_group, const char *key, size_t cap);
/* 1 when a turn is queued. */
int		 turns_any(const struct turns *);
/* The turn at the head, taken off the queue (NULL: none). A group's: the
 * caller puts it back with turns_requeue, or frees it. The connection ids'
 * (an empty key): the caller takes them with turns_direct_* and ends with
 * turns_direct_done. */
struct turn	*turns_next(struct turns *);
/* Put a group's turn back at the tail. */
void		 turns_requeue(struct turns *, struct turn *group);

/* The next connection id of the shared turn (NULL: none left); the caller
 * frees it, or hands it back with one of the two below. */
struct turn	*turns_direct_pop(struct turns *);
/* Back at the front: no room in this batch, it comes first in the next. */
void		 turns_direct_unpop(struct turns *, struct turn *);
/* Busy: after the others, once this turn is done. */
void		 turns_direct_later(struct turns *, struct turn *);
/* End the connection ids' turn (mark: what turns_next returned): the busy
 * ones go to the tail, and the mark is queued again while ids are left. */
void		 turns_direct_done(struct turns *, struct turn *mark);

#endif
