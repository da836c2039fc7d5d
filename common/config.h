/*
 * config: the responder's settings, read once from POLLHUB_* environment
 * variables (see ARCHITECTURE.md and README.md for the table).
 */
#ifndef POLLHUB_CONFIG_H
#define POLLHUB_CONFIG_H

#include <stddef.h>

#include "log.h"

struct config {
	char		*database;		/* libpq conninfo; "" = libpq defaults */
	char		*socket;		/* listen path or [host]:port; "" = fd 0 */
	char		*group_param;		/* query parameter naming the group; "" = by address */
	char	       **allowed_origins;	/* NULL-terminated, normalised; empty = same origin only */
	int		 threads;		/* workers for short requests (libfcgi) */
	int		 loop_jobs;		/* the event loop's job threads */
	size_t		 max_buffered;		/* bytes queued for one stream's client */
	size_t		 max_answer;		/* bytes of records in one poll answer or event */
	int		 client_check;		/* ask the kernel whether a held poll's client left */
	int		 db_pool;
	int		 db_lock_timeout;	/* ms a statement waits for a lock */
	int		 db_statement_timeout;	/* ms a statement may run */
	int		 db_idle_tx_timeout;	/* ms a session may sit in a transaction */
	int		 db_acquire_timeout;	/* ms a request waits for a pooled connection */
	int		 db_connect_timeout;	/* s a libpq connect may take */
	int		 db_tcp_user_timeout;	/* ms unacknowledged data may wait (0: the system's) */
	int		 db_per_group;		/* pooled connections one group's sends may hold */
	int		 poll_timeout;		/* seconds */
	int		 disconnect_timeout;	/* seconds */
	int		 keepalive_interval;	/* seconds between pings on a quiet stream */
	size_t		 max_message_size;	/* bytes */
	int		 max_pending;		/* messages pending for one connection */
	int		 detailed_errors;
	enum log_level	 log_level;
	int		 body_timeout;		/* ms to read a short request's whole body */
	int		 max_invocations;	/* hub invocations run per POST */
	size_t		 max_pending_bytes;	/* bytes queued for one connection (reads refused past it) */
};

/* Fill cfg from the environment. On an invalid value writes a message naming
 * the variable into err and returns -1. Strings are owned by cfg. */
int	config_load(struct config *cfg, char *err, size_t errlen);
/* The integer environment variable name, def when unset or empty: 0, or -1
 * with err naming it and the bounds when it is not an integer in
 * [min, max]. For modules that read variables of their own (auth). */
int	config_env_long(const char *name, long def, long min, long max, long *out,
	    char *err, size_t errlen);
void	config_free(struct config *cfg);

/* Parse POLLHUB_ALLOWED_ORIGINS: comma-separated origins, each
 * http[s]://host[:port] with nothing after it (no path, not "*" or "null").
 * Blanks around entries are dropped; scheme and host are lower-cased and a
 * default port (:80 for http, :443 for https) is removed, so that entries
 * compare byte for byte with what browsers send in Origin. On success *out
 * is a NULL-terminated array (empty for an empty s) the caller frees with
 * config_free_origins; on error err names the bad entry, *out is NULL and
 * -1 is returned. */
int	config_parse_origins(const char *s, char ***out, char *err, size_t errlen);
void	config_free_origins(char **);

#endif
