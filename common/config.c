#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
env_int(const char *name, long def, long min, long max, long *out,
    char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen, "%s must be an integer from %ld to %ld, not '%s'",
		    name, min, max, v);
		return -1;
	}
	*out = n;
	return 0;
}

static char *
env_str(const char *name)
{
	const char *v = getenv(name);

	return strdup(v != NULL ? v : "");
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	long threads, pool, poll, disc, keepalive, maxmsg, detailed;
	const char *lvl;

	memset(cfg, 0, sizeof(*cfg));
	if (env_int("POLLHUB_THREADS", 128, 1, 20000, &threads, err, errlen) ||
	    env_int("POLLHUB_DB_POOL", 8, 1, 500, &pool, err, errlen) ||
	    env_int("POLLHUB_POLL_TIMEOUT", 90, 1, 3600, &poll, err, errlen) ||
	    env_int("POLLHUB_DISCONNECT_TIMEOUT", 15, 1, 3600, &disc, err, errlen) ||
	    /* The client gives up after 30 s without a message. */
	    env_int("POLLHUB_KEEPALIVE_INTERVAL", 15, 1, 25, &keepalive, err, errlen) ||
	    env_int("POLLHUB_MAX_MESSAGE_SIZE", 32768, 256, 16 * 1024 * 1024,
		&maxmsg, err, errlen) ||
	    env_int("POLLHUB_DETAILED_ERRORS", 1, 0, 1, &detailed, err, errlen))
		return -1;
	cfg->threads = (int)threads;
	cfg->db_pool = (int)pool;
	cfg->poll_timeout = (int)poll;
	cfg->disconnect_timeout = (int)disc;
	cfg->keepalive_interval = (int)keepalive;
	cfg->max_message_size = (size_t)maxmsg;
	cfg->detailed_errors = (int)detailed;
	cfg->log_level = LOG_INFO;
	lvl = getenv("POLLHUB_LOG_LEVEL");
	if (lvl != NULL && *lvl != '\0' && log_level_parse(lvl, &cfg->log_level) == -1) {
		snprintf(err, errlen,
		    "POLLHUB_LOG_LEVEL must be error, warn, info or debug, not '%s'", lvl);
		return -1;
	}
	cfg->database = env_str("POLLHUB_DATABASE");
	cfg->socket = env_str("POLLHUB_SOCKET");
	cfg->group_param = env_str("POLLHUB_GROUP_PARAM");
	if (cfg->database == NULL || cfg->socket == NULL || cfg->group_param == NULL) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return -1;
	}
	return 0;
}

void
config_free(struct config *cfg)
{
	free(cfg->database);
	free(cfg->socket);
	free(cfg->group_param);
	cfg->database = cfg->socket = cfg->group_param = NULL;
}
