/* Unit tests for common/config.h: POLLHUB_ALLOWED_ORIGINS and its checks. */
#include <stdlib.h>

#include "config.h"
#include "unit.h"

/* The parsed list joined with '|', or "(refused)". */
static const char *
origins(const char *s)
{
	static char joined[1024];
	char **list, err[300];

	joined[0] = '\0';
	memset(err, 0, sizeof(err));
	if (config_parse_origins(s, &list, err, sizeof(err)) == -1) {
		CHECK(list == NULL);
		CHECK_CONTAINS(err, "POLLHUB_ALLOWED_ORIGINS");
		return "(refused)";
	}
	for (char **p = list; *p != NULL; p++) {
		if (p != list)
			strcat(joined, "|");
		strcat(joined, *p);
	}
	config_free_origins(list);
	return joined;
}

static void
test_origins_accepted(void)
{
	CHECK_STREQ(origins(""), "");
	CHECK_STREQ(origins("   "), "");
	CHECK_STREQ(origins("http://a.example"), "http://a.example");
	CHECK_STREQ(origins("https://a.example:8443"), "https://a.example:8443");
	CHECK_STREQ(origins("http://a.example, https://b.example:8443"),
	    "http://a.example|https://b.example:8443");
	CHECK_STREQ(origins(" http://a.example ,\thttps://b.example "),
	    "http://a.example|https://b.example");
	/* Browsers send lower case and leave the default port out. */
	CHECK_STREQ(origins("HTTPS://App.Example.COM"), "https://app.example.com");
	CHECK_STREQ(origins("http://a.example:80"), "http://a.example");
	CHECK_STREQ(origins("https://a.example:443"), "https://a.example");
	CHECK_STREQ(origins("http://a.example:443"), "http://a.example:443");
	CHECK_STREQ(origins("https://a.example:80"), "https://a.example:80");
	CHECK_STREQ(origins("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
	CHECK_STREQ(origins("http://[::1]:8080,http://[::1]"), "http://[::1]:8080|http://[::1]");
	CHECK_STREQ(origins("http://xn--bcher-kva.example"), "http://xn--bcher-kva.example");
	CHECK_STREQ(origins("http://a:65535"), "http://a:65535");
}

static void
test_origins_refused(void)
{
	static const char *const bad[] = {
		"*", "null", "a.example", "//a.example", "ftp://a.example", "http://",
		"https://", "http:///", "http://a.example/", "http://a.example/path",
		"http://a.example?x", "http://a.example#f", "http://user@a.example",
		"http://a.example:", "http://a.example:0", "http://a.example:65536",
		"http://a.example:080", "http://a.example:8x", "http://a .example",
		"http://a.example,", ",http://a.example", "http://a.example,,http://b.example",
		"http://*.example", "http://[::1", "http://[]", "http://[::g]",
		"http://a.example\r\nX-Evil: 1", "http://\xc3\xa9.example",
		"http://a.example http://b.example",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *got = origins(bad[i]);
		if (strcmp(got, "(refused)") != 0)
			printf("accepted: \"%s\" as \"%s\"\n", bad[i], got);
		CHECK_STREQ(got, "(refused)");
	}
	/* Too long for an origin. */
	{
		char longer[400] = "http://";
		memset(longer + 7, 'a', 350);
		longer[357] = '\0';
		CHECK_STREQ(origins(longer), "(refused)");
	}
	/* The message names the entry. */
	{
		char **list, err[300];
		CHECK_INTEQ(config_parse_origins("http://ok.example, https://x.example/app", &list,
		    err, sizeof(err)), -1);
		CHECK_CONTAINS(err, "'https://x.example/app'");
	}
}

static void
test_load(void)
{
	struct config cfg;
	char err[300];

	unsetenv("POLLHUB_ALLOWED_ORIGINS");
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK(cfg.allowed_origins != NULL && cfg.allowed_origins[0] == NULL);
	config_free(&cfg);
	setenv("POLLHUB_ALLOWED_ORIGINS", "https://Cal.Example:443,http://localhost:3000", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK(cfg.allowed_origins != NULL);
	CHECK_STREQ(cfg.allowed_origins[0], "https://cal.example");
	CHECK_STREQ(cfg.allowed_origins[1], "http://localhost:3000");
	CHECK(cfg.allowed_origins[2] == NULL);
	config_free(&cfg);
	CHECK(cfg.allowed_origins == NULL);
	setenv("POLLHUB_ALLOWED_ORIGINS", "*", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "'*' is not an origin");
	unsetenv("POLLHUB_ALLOWED_ORIGINS");
	/* The other variables are still range-checked as before. */
	setenv("POLLHUB_KEEPALIVE_INTERVAL", "26", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_KEEPALIVE_INTERVAL must be an integer from 1 to 25");
	unsetenv("POLLHUB_KEEPALIVE_INTERVAL");
}

static void
test_max_pending(void)
{
	struct config cfg;
	char err[300];

	unsetenv("POLLHUB_MAX_PENDING");
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.max_pending, 1000);
	config_free(&cfg);
	setenv("POLLHUB_MAX_PENDING", "50", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.max_pending, 50);
	config_free(&cfg);
	setenv("POLLHUB_MAX_PENDING", "9", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_MAX_PENDING must be an integer from 10 to 1000000");
	setenv("POLLHUB_MAX_PENDING", "1e3", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	unsetenv("POLLHUB_MAX_PENDING");
}

static void
test_client_check(void)
{
	struct config cfg;
	char err[300];

	unsetenv("POLLHUB_CLIENT_CHECK");
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.client_check, 1);
	config_free(&cfg);
	setenv("POLLHUB_CLIENT_CHECK", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.client_check, 0);
	config_free(&cfg);
	setenv("POLLHUB_CLIENT_CHECK", "yes", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_CLIENT_CHECK must be an integer from 0 to 1");
	unsetenv("POLLHUB_CLIENT_CHECK");
}

/* What one request may cost (issue 18): defaults, values, ranges. */
static void
test_request_bounds(void)
{
	struct config cfg;
	char err[300];

	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.body_timeout, 10000);
	CHECK_INTEQ(cfg.max_invocations, 32);
	CHECK_INTEQ((long)cfg.max_pending_bytes, 8L * 1024 * 1024);
	config_free(&cfg);
	setenv("POLLHUB_BODY_TIMEOUT", "2500", 1);
	setenv("POLLHUB_MAX_INVOCATIONS", "1", 1);
	setenv("POLLHUB_MAX_PENDING_BYTES", "65536", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.body_timeout, 2500);
	CHECK_INTEQ(cfg.max_invocations, 1);
	CHECK_INTEQ((long)cfg.max_pending_bytes, 65536);
	config_free(&cfg);
	setenv("POLLHUB_BODY_TIMEOUT", "99", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_BODY_TIMEOUT must be an integer from 100 to 600000");
	unsetenv("POLLHUB_BODY_TIMEOUT");
	setenv("POLLHUB_MAX_INVOCATIONS", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_MAX_INVOCATIONS must be an integer from 1 to 100000");
	unsetenv("POLLHUB_MAX_INVOCATIONS");
	setenv("POLLHUB_MAX_PENDING_BYTES", "8M", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_MAX_PENDING_BYTES must be an integer from 65536 to 1073741824");
	unsetenv("POLLHUB_MAX_PENDING_BYTES");
}

/* The database bounds: defaults, values, ranges, and the per-group share
 * (a quarter of the pool unless given, never more than the pool). */
static void
test_db_limits(void)
{
	struct config cfg;
	char err[300];

	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_lock_timeout, 2000);
	CHECK_INTEQ(cfg.db_statement_timeout, 10000);
	CHECK_INTEQ(cfg.db_idle_tx_timeout, 30000);
	CHECK_INTEQ(cfg.db_acquire_timeout, 5000);
	CHECK_INTEQ(cfg.db_per_group, 2);
	config_free(&cfg);
	setenv("POLLHUB_DB_POOL", "3", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_per_group, 1);
	config_free(&cfg);
	setenv("POLLHUB_DB_PER_GROUP", "7", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_per_group, 3);
	config_free(&cfg);
	unsetenv("POLLHUB_DB_POOL");
	unsetenv("POLLHUB_DB_PER_GROUP");
	setenv("POLLHUB_DB_LOCK_TIMEOUT", "500", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_lock_timeout, 500);
	config_free(&cfg);
	/* 0 would mean "wait for ever" to PostgreSQL: refused. */
	setenv("POLLHUB_DB_LOCK_TIMEOUT", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_DB_LOCK_TIMEOUT must be an integer from 1 to 600000");
	unsetenv("POLLHUB_DB_LOCK_TIMEOUT");
	setenv("POLLHUB_DB_STATEMENT_TIMEOUT", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	unsetenv("POLLHUB_DB_STATEMENT_TIMEOUT");
	setenv("POLLHUB_DB_IDLE_TX_TIMEOUT", "x", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	unsetenv("POLLHUB_DB_IDLE_TX_TIMEOUT");
	setenv("POLLHUB_DB_ACQUIRE_TIMEOUT", "-1", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	unsetenv("POLLHUB_DB_ACQUIRE_TIMEOUT");
}

/* libpq's connect_timeout (s) and tcp_user_timeout (ms, 0: the system's). */
static void
test_db_connect_limits(void)
{
	struct config cfg;
	char err[300];

	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_connect_timeout, 5);
	CHECK_INTEQ(cfg.db_tcp_user_timeout, 20000);
	config_free(&cfg);
	setenv("POLLHUB_DB_CONNECT_TIMEOUT", "2", 1);
	setenv("POLLHUB_DB_TCP_USER_TIMEOUT", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ(cfg.db_connect_timeout, 2);
	CHECK_INTEQ(cfg.db_tcp_user_timeout, 0);
	config_free(&cfg);
	/* 0 would be libpq's "wait for ever". */
	setenv("POLLHUB_DB_CONNECT_TIMEOUT", "0", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_DB_CONNECT_TIMEOUT must be an integer from 1 to 3600");
	unsetenv("POLLHUB_DB_CONNECT_TIMEOUT");
	setenv("POLLHUB_DB_TCP_USER_TIMEOUT", "-5", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_DB_TCP_USER_TIMEOUT must be an integer from 0 to 3600000");
	unsetenv("POLLHUB_DB_TCP_USER_TIMEOUT");
}

/* A stream holds one answer being written and the next one drained: the cap
 * on what waits for a client must hold two (issue 18, item 3). */
static void
test_buffered_answer(void)
{
	struct config cfg;
	char err[300];

	unsetenv("POLLHUB_MAX_BUFFERED");
	unsetenv("POLLHUB_MAX_ANSWER");
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ((long)cfg.max_buffered, 2097152);
	CHECK_INTEQ((long)cfg.max_answer, 1048576);
	config_free(&cfg);
	setenv("POLLHUB_MAX_BUFFERED", "1048576", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_MAX_BUFFERED (1048576) must be at least twice"
	    " POLLHUB_MAX_ANSWER (1048576): raise it to 2097152 or lower POLLHUB_MAX_ANSWER");
	setenv("POLLHUB_MAX_ANSWER", "524288", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), 0);
	CHECK_INTEQ((long)cfg.max_buffered, 1048576);
	config_free(&cfg);
	setenv("POLLHUB_MAX_ANSWER", "524289", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	setenv("POLLHUB_MAX_BUFFERED", "4096", 1);
	CHECK_INTEQ(config_load(&cfg, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "POLLHUB_MAX_BUFFERED must be an integer from 8192 to");
	unsetenv("POLLHUB_MAX_BUFFERED");
	unsetenv("POLLHUB_MAX_ANSWER");
}

int
main(void)
{
	test_origins_accepted();
	test_origins_refused();
	test_load();
	test_max_pending();
	test_client_check();
	test_request_bounds();
	test_db_limits();
	test_db_connect_limits();
	test_buffered_answer();
	return unit_done();
}
