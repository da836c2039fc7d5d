/*
 * hubstore: the statements of a hub invocation (sql/functions/12_hubs.sql),
 * beside corestore.c and classicstore.c, on a pool connection the caller
 * holds, with the pool's rules: parameters only (a query method's SQL text
 * is built from what pollhub.invoke read in the catalog and kendoquery's
 * translation, never from a client's bytes), every result checked and
 * cleared, a failure mapped by pool_failure unless it is the method's own.
 */
#ifndef POLLHUB_HUBSTORE_H
#define POLLHUB_HUBSTORE_H

#include <stddef.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "buf.h"
#include "pherr.h"

/* One invocation through pollhub.invoke (sql/functions/12_hubs.sql). */
struct hub_invoked {
	int		 query;		/* a query method: result lists its columns */
	struct buf	 result;	/* a value method's result (JSON; empty: none) */
	char		*fn, *item;	/* a query method's, for hubstore_query */
	char		*caller[4];	/* and its caller's hub, group, user, permission
					 * (NULL: SQL NULL) */
	char		 state[6];	/* PH_INVALID: the method's SQLSTATE */
	char		 message[400];	/* and its message */
};
/* Run method (the target as the client sent it) with arguments (a JSON
 * array) on connection_id's hub. PH_OK: *call holds a value or describes a
 * query (hubstore_call_free it); PH_INVALID: the method, or invoke, refused
 * (state and message: P0001 a RAISE, PHM01 no such method, PHA01 a wrong
 * number of arguments, 42501 not allowed, ...); PH_TIMEOUT: it ran past
 * statement_timeout; PH_BUSY; PH_DB. */
enum ph_err hubstore_invoke(PGconn *, const char *connection_id, const char *method,
		    const char *arguments, struct hub_invoked *call);
void	    hubstore_call_free(struct hub_invoked *);

/* What a query produced beside its answer. */
struct hub_read {
	long long	stamp;		/* the group's last_seq in the read's snapshot; -1 */
	int		whole;		/* the query asked for everything (no range, filter, page) */
	size_t		too_large;	/* PH_TOO_LARGE: the answer's size in bytes */
	int		at_least;	/* too_large counts only the rows fetched: there are more */
	char		state[6];	/* PH_INVALID from the method: its SQLSTATE; "": ours */
	char		why[400];	/* PH_INVALID: "Invalid read query: ..." or the method's message */
};
/* Run the query method call describes with what Kendo's DataSource sent
 * (query, borrowed; NULL: none), translated by kendoquery over its columns.
 * Appends a JSON array, or {"Data":[...],"Total":N} when the query pages
 * (take). PH_INVALID: refused (rd->why); PH_TOO_LARGE: the answer would pass
 * max_answer (0: no bound), nothing appended; PH_TIMEOUT; PH_BUSY; PH_DB. */
enum ph_err hubstore_query(PGconn *, const char *group_key, const char *connection_id,
		    const struct hub_invoked *call, json_object *query, size_t max_answer,
		    struct buf *out, struct hub_read *rd);

#endif
