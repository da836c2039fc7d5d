/*
 * hub: runs one invocation of the connection's hub, whose methods are SQL
 * functions (sql/functions/12_hubs.sql: pollhub.invoke finds the method by
 * name, case-insensitively, and arity, and runs it; a query method's rows
 * are read here with Kendo's query, hubstore_query). Inside a savepoint;
 * the completion record in ASP.NET Core's error wording. Pushes are the
 * methods' own (push_* in SQL, or their tables' triggers), never made here.
 */
#ifndef POLLHUB_HUB_H
#define POLLHUB_HUB_H

#include <libpq-fe.h>

#include "buf.h"
#include "hubproto.h"

struct hub_caller {
	PGconn		*db;		/* inside the POST's transaction */
	const char	*connection_id;
	const char	*group;		/* its key (connections.group_name) */
	int		 detailed_errors;
	size_t		 max_answer;	/* a result above this is a completion error */
	size_t		 max_pending_bytes; /* a result that would queue more for the
					     * connection is refused; 0: no bound */
	int		*savepoint;	/* 1: an invocation's savepoint is open in the
					 * transaction (released before the next one's);
					 * NULL: one invocation per transaction */
};

/* Run one invocation (type 1 or 4). When it has an invocationId, exactly one
 * completion record (NUL-terminated JSON, no 0x1E) is appended to completion;
 * without one nothing is appended, errors included. *stamp (when not NULL):
 * the group's last_seq the result reflects (a read's snapshot), or -1; queue
 * the completion with it (corestore_send_queue) so pushes it reflects go first.
 * Returns 0, or -1 when the database failed (the POST should fail; the caller
 * rolls back). A lock held elsewhere past lock_timeout is a completion error. */
int	hub_invoke(const struct hub_caller *, const struct hub_message *,
	    struct buf *completion, long long *stamp);

/* Answer an invocation without running it: a completion error (a
 * HubException naming why) when it has an invocationId, nothing otherwise.
 * Returns 0, or -1 when out of memory. */
int	hub_refuse(const struct hub_caller *, const struct hub_message *, const char *why,
	    struct buf *completion);

/* 1 when the invocation writes meetings (create, update, destroy): it may
 * wait for a calendar's locks, so its POST counts against the group's share
 * of the pool (corestore_send_open). Reads, handshakes and pings never wait. */
int	hub_writes(const struct hub_message *);

#endif
