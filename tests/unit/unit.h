/*
 * unit: a tiny test framework. Each CHECK counts once; a failing one prints
 * file:line and the values. A test program calls its test functions from
 * main and returns unit_done(), which prints "N passed, N failed" as its
 * last line and yields the exit status (non-zero on any failure).
 */
#ifndef POLLHUB_UNIT_H
#define POLLHUB_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

/* Print s (n bytes) with non-printable bytes as \xHH, so failures show NULs and 0x1E. */
static inline void
unit_print_bytes(const char *s, size_t n)
{
	if (s == NULL) {
		fputs("(null)", stdout);
		return;
	}
	putchar('"');
	for (size_t i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	fputs(n > 200 ? "\"..." : "\"", stdout);
}

static inline int
unit_record(int ok, const char *file, int line, const char *expr)
{
	if (ok) {
		unit_passed++;
		return 1;
	}
	unit_failed++;
	printf("FAIL %s:%d: %s", file, line, expr);
	return 0;
}

static inline void
unit_check_mem(const char *a, size_t an, const char *b, size_t bn, const char *file,
    int line, const char *expr)
{
	int ok = (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && an == bn && memcmp(a, b, an) == 0);

	if (!unit_record(ok, file, line, expr)) {
		fputs(": got ", stdout);
		unit_print_bytes(a, an);
		fputs(", want ", stdout);
		unit_print_bytes(b, bn);
		putchar('\n');
	}
}

static inline void
unit_check_str(const char *a, const char *b, const char *file, int line, const char *expr)
{
	unit_check_mem(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, file, line, expr);
}

static inline void
unit_check_int(long long a, long long b, const char *file, int line, const char *expr)
{
	if (!unit_record(a == b, file, line, expr))
		printf(": got %lld, want %lld\n", a, b);
}

/* 1 when needle occurs in the NUL-terminated haystack (NULL never matches). */
static inline void
unit_check_contains(const char *hay, const char *needle, const char *file, int line,
    const char *expr)
{
	if (!unit_record(hay != NULL && strstr(hay, needle) != NULL, file, line, expr)) {
		fputs(": ", stdout);
		unit_print_bytes(hay, hay ? strlen(hay) : 0);
		printf(" does not contain \"%s\"\n", needle);
	}
}

static inline int
unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed != 0;
}

#define CHECK(c) \
	do { if (!unit_record(!!(c), __FILE__, __LINE__, #c)) putchar('\n'); } while (0)
#define CHECK_STREQ(a, b)	unit_check_str((a), (b), __FILE__, __LINE__, #a " == " #b)
#define CHECK_MEMEQ(a, an, b, bn) \
	unit_check_mem((a), (an), (b), (bn), __FILE__, __LINE__, #a " == " #b)
#define CHECK_INTEQ(a, b) \
	unit_check_int((long long)(a), (long long)(b), __FILE__, __LINE__, #a " == " #b)
#define CHECK_CONTAINS(hay, needle) \
	unit_check_contains((hay), (needle), __FILE__, __LINE__, #hay " contains " #needle)

#endif
