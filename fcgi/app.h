/*
 * app: the process context, the only process-wide mutable state. Created by
 * main before the worker threads start and passed to every handler.
 */
#ifndef POLLHUB_APP_H
#define POLLHUB_APP_H

#include <stdatomic.h>

#include "config.h"
#include "corestore.h"
#include "waiters.h"

struct auth;
struct handoff;
struct heldstreams;
struct loop;

struct app {
	struct config	 cfg;		/* read-only after start-up */
	struct auth	*auth;		/* who requests come from; read-only after start-up */
	struct pool	*pool;		/* the pool of query connections */
	struct listener	*listener;	/* the LISTEN connection */
	struct waiters	*waiters;	/* the waiting polls and streams */
	struct heldstreams *streams;	/* the streams held here, by token key (Pings) */
	struct handoff	*handoff;	/* streams parked for the next image */
	struct loop	*loop;		/* holds every waiting poll and stream */
	atomic_int	 stopping;	/* set on SIGTERM: held polls answer now */
	atomic_int	 handing_off;	/* set on SIGHUP: polls answer, streams park */
	atomic_int	 active;	/* requests being handled */
	char		 responder_id[300];	/* host:pid, in pollhub.responders */
};

#endif
