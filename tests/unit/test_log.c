/* Unit tests for common/log.h: client text in a line is escaped and bounded,
 * and every event is one line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/* What log_msg wrote while fn ran, read back from a temporary stderr. */
static char captured[4096];

static const char *
capture_begin(int *saved, FILE **f)
{
	fflush(stderr);
	*saved = dup(2);
	*f = tmpfile();
	if (*saved == -1 || *f == NULL || dup2(fileno(*f), 2) == -1)
		return "(no capture)";
	return NULL;
}

static const char *
capture_end(int saved, FILE *f)
{
	size_t n;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(captured, 1, sizeof(captured) - 1, f);
	captured[n] = '\0';
	fclose(f);
	return captured;
}

static size_t
count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static void
test_text(void)
{
	CHECK_STREQ(LOG_TEXT("json"), "json");
	CHECK_STREQ(LOG_TEXT("json\r\n2026-12-01T00:00:00Z pollhub[error] FORGED LINE"),
	    "json\\x0d\\x0a2026-12-01T00:00:00Z pollhub[error] FORGED LINE");
	CHECK_STREQ(LOG_TEXT("\x1b[31mred\x1b[0m\x07"), "\\x1b[31mred\\x1b[0m\\x07");
	CHECK_STREQ(LOG_TEXT("a\xe2\x80\xa8" "b\xc2\x85" "c"), "a\\u2028b\\u0085c");
	CHECK_STREQ(LOG_TEXT("M\xfcnchen"), "M\\xfcnchen");
	CHECK_STREQ(LOG_TEXTN("a\0b", 3), "a\\x00b");
	{
		char b[LOG_TEXT_SIZE];

		CHECK_STREQ(log_text(b, NULL, 0), "(null)");
	}
	/* Two in one call are two buffers. */
	{
		char both[64];

		snprintf(both, sizeof(both), "%s %s", LOG_TEXT("a\n"), LOG_TEXT("b\r"));
		CHECK_STREQ(both, "a\\x0a b\\x0d");
	}
	/* Cut to LOG_TEXT_MAX bytes, then the marker. */
	{
		char big[5000];
		const char *t;

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		t = LOG_TEXT(big);
		CHECK_INTEQ(strlen(t), LOG_TEXT_MAX + strlen("\xe2\x80\xa6(4999 bytes)"));
		CHECK_CONTAINS(t, "\xe2\x80\xa6(4999 bytes)");
		memset(big, '\n', sizeof(big) - 1);
		t = LOG_TEXT(big);
		CHECK(strlen(t) <= LOG_TEXT_MAX + UTF8_ESCAPE_MARK - 1);
		CHECK_INTEQ(count_char(t, '\n'), 0);
	}
}

static void
test_one_line(void)
{
	int saved;
	FILE *f;
	const char *out;

	log_set_level(LOG_DEBUG);
	if (capture_begin(&saved, &f) != NULL) {
		CHECK(0);
		return;
	}
	log_info("handshake refused: %s",
	    LOG_TEXT("The protocol 'json\r\n2026-12-01T00:00:00Z pollhub[error] FORGED' is not supported."));
	/* A caller that forgot LOG_TEXT still writes one line. */
	log_warn("raw: %s", "a\r\nb\x1b[2J");
	log_debug("debug shown");
	out = capture_end(saved, f);
	CHECK_INTEQ(count_char(out, '\n'), 3);
	CHECK_INTEQ(count_char(out, '\r'), 0);
	CHECK_INTEQ(count_char(out, '\x1b'), 0);
	CHECK_CONTAINS(out, "pollhub[info] handshake refused: The protocol 'json\\x0d\\x0a2026");
	CHECK_CONTAINS(out, "pollhub[warn] raw: a  b [2J\n");
	CHECK(strstr(out, "\n2026-12-01T00:00:00Z pollhub[error]") == NULL);
	log_set_level(LOG_INFO);
	if (capture_begin(&saved, &f) != NULL) {
		CHECK(0);
		return;
	}
	log_debug("hidden");
	out = capture_end(saved, f);
	CHECK_STREQ(out, "");
}

int
main(void)
{
	test_text();
	test_one_line();
	return unit_done();
}
