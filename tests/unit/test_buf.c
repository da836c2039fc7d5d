/* Unit tests for common/buf.h. */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "unit.h"

static void
test_empty(void)
{
	struct buf b = BUF_INIT;

	CHECK(b.data == NULL);
	CHECK_INTEQ(b.len, 0);
	/* Operations on a never-used buffer must not touch the NULL data. */
	buf_consume(&b, 0);
	buf_consume(&b, 5);
	buf_reset(&b);
	CHECK(b.data == NULL);
	CHECK_INTEQ(b.len, 0);
	buf_free(&b);
	CHECK(b.data == NULL);
	/* Appending nothing still yields a NUL-terminated (empty) string. */
	CHECK_INTEQ(buf_append(&b, "", 0), 0);
	CHECK(b.data != NULL);
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");
	buf_free(&b);
}

static void
test_append_puts_putc(void)
{
	struct buf b = BUF_INIT;

	CHECK_INTEQ(buf_append(&b, "abc", 3), 0);
	CHECK_INTEQ(b.len, 3);
	CHECK_STREQ(b.data, "abc");
	CHECK(b.cap >= b.len + 1);
	CHECK_INTEQ(buf_puts(&b, "def"), 0);
	CHECK_INTEQ(buf_puts(&b, ""), 0);
	CHECK_INTEQ(buf_putc(&b, 'g'), 0);
	CHECK_STREQ(b.data, "abcdefg");
	CHECK_INTEQ(b.len, 7);
	/* Binary bytes: NUL and 0x1E count in len. */
	CHECK_INTEQ(buf_append(&b, "\0\x1e\xff", 3), 0);
	CHECK_INTEQ(buf_putc(&b, '\0'), 0);
	CHECK_MEMEQ(b.data, b.len, "abcdefg\0\x1e\xff\0", 11);
	CHECK_INTEQ(b.data[b.len], '\0');
	/* Only part of the source is copied. */
	CHECK_INTEQ(buf_append(&b, "xyz", 1), 0);
	CHECK_INTEQ(b.len, 12);
	CHECK_INTEQ(b.data[11], 'x');
	CHECK_INTEQ(b.data[12], '\0');
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf b = BUF_INIT;
	size_t n = 100000, reallocs = 0, lastcap = 0;
	int ok = 1;

	for (size_t i = 0; i < n; i++) {
		if (buf_putc(&b, (char)('a' + i % 26)) != 0)
			ok = 0;
		if (b.cap != lastcap) {
			reallocs++;
			lastcap = b.cap;
		}
	}
	CHECK(ok);
	CHECK_INTEQ(b.len, n);
	CHECK(b.cap > b.len);
	/* Geometric growth: a handful of reallocations, not one per byte. */
	CHECK(reallocs < 20);
	ok = 1;
	for (size_t i = 0; i < n; i++)
		if (b.data[i] != (char)('a' + i % 26))
			ok = 0;
	CHECK(ok);
	CHECK_INTEQ(b.data[n], '\0');

	/* One large append after many small ones. */
	char *big = malloc(1 << 20);
	CHECK(big != NULL);
	if (big != NULL) {
		memset(big, 'Z', 1 << 20);
		CHECK_INTEQ(buf_append(&b, big, 1 << 20), 0);
		CHECK_INTEQ(b.len, n + (1 << 20));
		CHECK_INTEQ(b.data[n - 1], (char)('a' + (n - 1) % 26));
		CHECK_INTEQ(b.data[n], 'Z');
		CHECK_INTEQ(b.data[b.len - 1], 'Z');
		CHECK_INTEQ(b.data[b.len], '\0');
		free(big);
	}
	buf_free(&b);
}

static void
test_overflow_refused(void)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "abc");
	/* Lengths whose sum with len (+ the NUL) overflows are refused, buffer unchanged. */
	CHECK_INTEQ(buf_append(&b, "x", SIZE_MAX), -1);
	CHECK_INTEQ(buf_append(&b, "x", SIZE_MAX - 3), -1);
	CHECK_INTEQ(b.len, 3);
	CHECK_STREQ(b.data, "abc");
	buf_free(&b);
}

static void
test_consume(void)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "abcdef");
	buf_consume(&b, 0);
	CHECK_STREQ(b.data, "abcdef");
	buf_consume(&b, 2);
	CHECK_INTEQ(b.len, 4);
	CHECK_STREQ(b.data, "cdef");
	buf_consume(&b, 3);
	CHECK_STREQ(b.data, "f");
	buf_consume(&b, 1);
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");

	buf_puts(&b, "record\x1erest");
	buf_consume(&b, 7);
	CHECK_STREQ(b.data, "rest");
	/* More than len empties the buffer; it stays usable. */
	buf_consume(&b, 1000);
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");
	buf_consume(&b, SIZE_MAX);
	CHECK_INTEQ(b.len, 0);
	CHECK_INTEQ(buf_puts(&b, "again"), 0);
	CHECK_STREQ(b.data, "again");

	/* Binary content with NULs is moved by length, not as a string. */
	buf_reset(&b);
	buf_append(&b, "ab\0cd\0ef", 8);
	buf_consume(&b, 1);
	CHECK_MEMEQ(b.data, b.len, "b\0cd\0ef", 7);
	buf_free(&b);
}

static void
test_reset_free(void)
{
	struct buf b = BUF_INIT;
	size_t cap;

	buf_puts(&b, "hello world");
	cap = b.cap;
	buf_reset(&b);
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");
	CHECK_INTEQ(b.cap, cap);	/* storage kept for reuse */
	buf_puts(&b, "x");
	CHECK_STREQ(b.data, "x");
	buf_free(&b);
	CHECK(b.data == NULL);
	CHECK_INTEQ(b.len, 0);
	CHECK_INTEQ(b.cap, 0);
	buf_free(&b);	/* twice is harmless */
	CHECK_INTEQ(buf_puts(&b, "reused"), 0);
	CHECK_STREQ(b.data, "reused");
	buf_free(&b);
}

/* The one shrink rule: an emptied buffer keeps at most BUF_KEEP bytes. */
static void
test_shrink(void)
{
	struct buf b = BUF_INIT;
	static char big[BUF_KEEP * 4];

	CHECK_INTEQ(buf_append(&b, "abc", 3), 0);
	buf_shrink(&b);
	CHECK(b.data != NULL);		/* small: kept for reuse */
	CHECK_INTEQ(b.len, 0);
	CHECK_STREQ(b.data, "");
	CHECK_INTEQ(buf_append(&b, big, sizeof(big)), 0);
	CHECK(b.cap > BUF_KEEP);
	buf_shrink(&b);
	CHECK(b.data == NULL);		/* large: given back */
	CHECK_INTEQ(b.len, 0);
	CHECK_INTEQ(b.cap, 0);
	CHECK_INTEQ(buf_append(&b, "x", 1), 0);
	CHECK_STREQ(b.data, "x");
	buf_free(&b);
	/* The large one counts towards a trim; nothing more is pending after it. */
	CHECK(buf_trim(1) >= sizeof(big));
	CHECK_INTEQ(buf_trim(1), 0);
}

int
main(void)
{
	test_empty();
	test_append_puts_putc();
	test_growth();
	test_overflow_refused();
	test_consume();
	test_reset_free();
	test_shrink();
	return unit_done();
}
