/*
 * timerheap: timers in a binary heap by due time, for one thread (the event
 * loop's). A timer is a node embedded in its owner's struct; the heap holds
 * pointers to nodes and keeps each node's index, so a timer is moved or
 * removed in O(log n) without a search.
 */
#ifndef POLLHUB_TIMERHEAP_H
#define POLLHUB_TIMERHEAP_H

#include <stddef.h>

#include "pherr.h"

struct timer_node {
	long long	 at_ms;		/* when it is due (CLOCK_MONOTONIC ms), 0: not set */
	size_t		 index;		/* in the heap, or TIMERHEAP_NONE */
};
#define TIMERHEAP_NONE	((size_t)-1)

struct timerheap {
	struct timer_node	**v;
	size_t			  n, cap;
};

/* A node not in any heap (set once before its first timerheap_set). */
void	timer_node_init(struct timer_node *);
/* Due at at_ms (0: no timer), moved if it was set. PH_NOMEM when the heap
 * cannot grow: the node is then in no heap. */
enum ph_err timerheap_set(struct timerheap *, struct timer_node *, long long at_ms);
/* Take the node out (nothing when it is in none). */
void	timerheap_remove(struct timerheap *, struct timer_node *);
/* The node due first, or NULL when the heap is empty. */
struct timer_node *timerheap_first(const struct timerheap *);
/* The heap's storage (the nodes are their owners'). */
void	timerheap_free(struct timerheap *);

#endif
