#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
config_env_long(const char *name, long def, long min, long max, long *out,
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

#define ORIGIN_MAX 300	/* bytes of one allowed origin */

void
config_free_origins(char **list)
{
	if (list == NULL)
		return;
	for (char **p = list; *p != NULL; p++)
		free(*p);
	free(list);
}

/* 1 if s[0..n) is a port number browsers would write: 1..65535, no leading 0. */
static int
port_valid(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535;
}

/* 1 if s[0..n) is a host as an origin carries it: a name of letters, digits,
 * '-', '.' and '_' (IDNs in punycode), or an IPv6 literal in brackets. */
static int
host_valid(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return 0;
		for (size_t i = 1; i + 1 < n; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return 0;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
			return 0;
	return 1;
}

/* Normalise one entry s[0..n) into out (ORIGIN_MAX bytes): 0, or -1 if it is
 * not an origin. */
static int
origin_normalise(const char *s, size_t n, char *out)
{
	size_t skip, hostlen, i;
	const char *auth, *colon = NULL;
	int https;

	if (n >= ORIGIN_MAX)
		return -1;
	if (n > 7 && strncasecmp(s, "http://", 7) == 0)
		skip = 7, https = 0;
	else if (n > 8 && strncasecmp(s, "https://", 8) == 0)
		skip = 8, https = 1;
	else
		return -1;
	auth = s + skip;
	hostlen = n - skip;
	/* The port follows the last ':' outside an IPv6 literal's brackets. */
	for (i = hostlen; i > 0; i--) {
		if (auth[i - 1] == ']')
			break;
		if (auth[i - 1] == ':') {
			colon = auth + i - 1;
			break;
		}
	}
	if (colon != NULL) {
		size_t plen = hostlen - (size_t)(colon - auth) - 1;
		if (!port_valid(colon + 1, plen))
			return -1;
		hostlen = (size_t)(colon - auth);
		/* Browsers leave the scheme's default port out of Origin. */
		if ((!https && plen == 2 && memcmp(colon + 1, "80", 2) == 0) ||
		    (https && plen == 3 && memcmp(colon + 1, "443", 3) == 0))
			n = skip + hostlen;
	}
	if (!host_valid(auth, hostlen))
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return 0;
}

int
config_parse_origins(const char *s, char ***out, char *err, size_t errlen)
{
	size_t count = 1, k = 0;
	const char *p, *e, *end;
	char **list;

	*out = NULL;
	for (p = s; *p != '\0'; p++)
		count += *p == ',';
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (p = s; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0') {
		*out = list;
		return 0;
	}
	for (p = s;; p = end + 1) {
		for (end = p; *end != '\0' && *end != ','; end++)
			;
		for (e = end; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if ((list[k] = malloc(ORIGIN_MAX)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (origin_normalise(p, (size_t)(e - p), list[k++]) == -1) {
			snprintf(err, errlen, "POLLHUB_ALLOWED_ORIGINS: '%.*s' is not an origin"
			    " (http://host[:port] or https://host[:port], nothing after it)",
			    (int)(e - p > 200 ? 200 : e - p), p);
			goto fail;
		}
		if (*end == '\0')
			break;
	}
	*out = list;
	return 0;
fail:
	config_free_origins(list);
	return -1;
}

/* What one request may cost: a body that trickles in holds a worker, a POST
 * of many reads fills the database (issue 18). */
static int
config_load_bounds(struct config *cfg, char *err, size_t errlen)
{
	long body, invocations, pendingbytes;

	if (config_env_long("POLLHUB_BODY_TIMEOUT", 10000, 100, 600000, &body, err, errlen) ||
	    config_env_long("POLLHUB_MAX_INVOCATIONS", 32, 1, 100000, &invocations, err, errlen) ||
	    config_env_long("POLLHUB_MAX_PENDING_BYTES", 8L * 1024 * 1024, 65536, 1024L * 1024 * 1024,
		&pendingbytes, err, errlen))
		return -1;
	cfg->body_timeout = (int)body;
	cfg->max_invocations = (int)invocations;
	cfg->max_pending_bytes = (size_t)pendingbytes;
	return 0;
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	long threads, pool, poll, disc, keepalive, maxmsg, maxpending, detailed, maxbuf, jobs;
	long maxanswer, clientcheck;
	long lockt, stmt, idletx, acquire, pergroup, dbconnect, dbuser;
	const char *lvl, *origins;

	memset(cfg, 0, sizeof(*cfg));
	/* Short requests only: held polls and streams wait in the event loop. */
	if (config_env_long("POLLHUB_THREADS", 32, 1, 20000, &threads, err, errlen) ||
	    /* 0: as many as the pool has connections. */
	    config_env_long("POLLHUB_LOOP_JOBS", 0, 0, 1000, &jobs, err, errlen) ||
	    /* A stream whose client does not read is closed past this. */
	    config_env_long("POLLHUB_MAX_BUFFERED", 2097152, 8192, 1024L * 1024 * 1024,
		&maxbuf, err, errlen) ||
	    /* A poll answer or an event carries at most this much; the rest
	     * goes out next. */
	    config_env_long("POLLHUB_MAX_ANSWER", 1048576, 4096, 256L * 1024 * 1024,
		&maxanswer, err, errlen) ||
	    /* Before a held poll takes records: is its client still there? */
	    config_env_long("POLLHUB_CLIENT_CHECK", 1, 0, 1, &clientcheck, err, errlen) ||
	    config_env_long("POLLHUB_DB_POOL", 8, 1, 500, &pool, err, errlen) ||
	    /* No wait without a bound: every pooled session has these (ms). */
	    config_env_long("POLLHUB_DB_LOCK_TIMEOUT", 2000, 1, 600000, &lockt, err, errlen) ||
	    config_env_long("POLLHUB_DB_STATEMENT_TIMEOUT", 10000, 1, 3600000, &stmt, err, errlen) ||
	    config_env_long("POLLHUB_DB_IDLE_TX_TIMEOUT", 30000, 1, 3600000, &idletx, err, errlen) ||
	    config_env_long("POLLHUB_DB_ACQUIRE_TIMEOUT", 5000, 1, 600000, &acquire, err, errlen) ||
	    /* libpq's connect_timeout (s) and tcp_user_timeout (ms, 0: the
	     * system's) on every connection. */
	    config_env_long("POLLHUB_DB_CONNECT_TIMEOUT", 5, 1, 3600, &dbconnect, err, errlen) ||
	    config_env_long("POLLHUB_DB_TCP_USER_TIMEOUT", 20000, 0, 3600000, &dbuser, err, errlen) ||
	    /* 0: a quarter of the pool (at least 1). */
	    config_env_long("POLLHUB_DB_PER_GROUP", 0, 0, 500, &pergroup, err, errlen) ||
	    config_env_long("POLLHUB_POLL_TIMEOUT", 90, 1, 3600, &poll, err, errlen) ||
	    config_env_long("POLLHUB_DISCONNECT_TIMEOUT", 15, 1, 3600, &disc, err, errlen) ||
	    /* The client gives up after 30 s without a message. */
	    config_env_long("POLLHUB_KEEPALIVE_INTERVAL", 15, 1, 25, &keepalive, err, errlen) ||
	    config_env_long("POLLHUB_MAX_MESSAGE_SIZE", 32768, 256, 16 * 1024 * 1024,
		&maxmsg, err, errlen) ||
	    /* Above it the reaper closes the connection (006_bounded.sql). */
	    config_env_long("POLLHUB_MAX_PENDING", 1000, 10, 1000000, &maxpending, err, errlen) ||
	    config_env_long("POLLHUB_DETAILED_ERRORS", 1, 0, 1, &detailed, err, errlen))
		return -1;
	/* A stream holds the answer being written and drains the next below a
	 * quarter of the cap (loop.c): both must fit under it. */
	if (maxbuf < 2 * maxanswer) {
		snprintf(err, errlen, "POLLHUB_MAX_BUFFERED (%ld) must be at least twice"
		    " POLLHUB_MAX_ANSWER (%ld): raise it to %ld or lower POLLHUB_MAX_ANSWER",
		    maxbuf, maxanswer, 2 * maxanswer);
		return -1;
	}
	if (config_load_bounds(cfg, err, errlen) == -1)
		return -1;
	cfg->threads = (int)threads;
	cfg->max_buffered = (size_t)maxbuf;
	cfg->max_answer = (size_t)maxanswer;
	cfg->client_check = (int)clientcheck;
	cfg->db_pool = (int)pool;
	cfg->loop_jobs = jobs > 0 ? (int)jobs : (int)pool;
	cfg->db_lock_timeout = (int)lockt;
	cfg->db_statement_timeout = (int)stmt;
	cfg->db_idle_tx_timeout = (int)idletx;
	cfg->db_acquire_timeout = (int)acquire;
	cfg->db_connect_timeout = (int)dbconnect;
	cfg->db_tcp_user_timeout = (int)dbuser;
	cfg->db_per_group = pergroup > 0 ? (int)pergroup : (int)(pool / 4 > 0 ? pool / 4 : 1);
	if (cfg->db_per_group > cfg->db_pool)
		cfg->db_per_group = cfg->db_pool;
	cfg->poll_timeout = (int)poll;
	cfg->disconnect_timeout = (int)disc;
	cfg->keepalive_interval = (int)keepalive;
	cfg->max_message_size = (size_t)maxmsg;
	cfg->max_pending = (int)maxpending;
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
	origins = getenv("POLLHUB_ALLOWED_ORIGINS");
	if (config_parse_origins(origins != NULL ? origins : "", &cfg->allowed_origins,
	    err, errlen) == -1) {
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
	config_free_origins(cfg->allowed_origins);
	cfg->database = cfg->socket = cfg->group_param = NULL;
	cfg->allowed_origins = NULL;
}
