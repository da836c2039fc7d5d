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
	int		 threads;
	int		 db_pool;
	int		 poll_timeout;		/* seconds */
	int		 disconnect_timeout;	/* seconds */
	int		 keepalive_interval;	/* seconds between pings on a quiet stream */
	size_t		 max_message_size;	/* bytes */
	int		 detailed_errors;
	enum log_level	 log_level;
};

/* Fill cfg from the environment. On an invalid value writes a message naming
 * the variable into err and returns -1. Strings are owned by cfg. */
int	config_load(struct config *cfg, char *err, size_t errlen);
void	config_free(struct config *cfg);

#endif
