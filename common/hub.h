/*
 * hub: the MeetingHub. Dispatches one invocation (method names match
 * case-insensitively, like ASP.NET Core), checks arguments, runs the
 * meeting's SQL inside a savepoint, and produces the completion record with
 * ASP.NET Core's error wording. Pushes to the other members of the group are
 * written by the database triggers, not here.
 */
#ifndef POLLHUB_HUB_H
#define POLLHUB_HUB_H

#include <libpq-fe.h>

#include "buf.h"
#include "hubproto.h"

struct hub_caller {
	PGconn		*db;		/* inside the POST's transaction */
	const char	*connection_id;
	const char	*group;
	int		 detailed_errors;
};

/* Run one invocation (type 1 or 4). When it has an invocationId, exactly one
 * completion record (NUL-terminated JSON, no 0x1E) is appended to completion;
 * without one nothing is appended, errors included. Returns 0, or -1 when the
 * database failed (the POST should fail; the caller rolls back). */
int	hub_invoke(const struct hub_caller *, const struct hub_message *,
	    struct buf *completion);

#endif
