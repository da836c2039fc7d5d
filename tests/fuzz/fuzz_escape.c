/*
 * Fuzz the escaping of untrusted text for log lines and stored header values
 * (utf8_escape, LOG_TEXT, corestore_header_text's rule): whatever the bytes, the
 * result is well-formed UTF-8 without a control or layout character (so one
 * log line, no terminal escape), within its byte bound, and reads back: the
 * escaped part unescapes to exactly the input or, when cut, to a prefix of it
 * followed by the marker naming the input's length.
 */
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "utf8.h"

static int
hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undo utf8_escape on e[0..n) into out; returns the length, or -1 when e is
 * not something utf8_escape writes. */
static long
unescape(const char *e, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (e[i] != '\\') {
			out[o++] = (unsigned char)e[i++];
			continue;
		}
		if (i + 1 < n && e[i + 1] == '\\') {
			out[o++] = '\\';
			i += 2;
		} else if (i + 3 < n && e[i + 1] == 'x' && hexv(e[i + 2]) >= 0 && hexv(e[i + 3]) >= 0) {
			out[o++] = (unsigned char)(hexv(e[i + 2]) << 4 | hexv(e[i + 3]));
			i += 4;
		} else if (i + 5 < n && e[i + 1] == 'u') {
			unsigned cp = 0;

			for (int k = 2; k < 6; k++) {
				if (hexv(e[i + k]) < 0)
					return -1;
				cp = cp << 4 | (unsigned)hexv(e[i + k]);
			}
			/* Only controls above U+007F are written as \u. */
			if (!utf8_is_control(cp) || cp < 0x80)
				return -1;
			if (cp < 0x800) {
				out[o++] = (unsigned char)(0xc0 | cp >> 6);
			} else {
				out[o++] = (unsigned char)(0xe0 | cp >> 12);
				out[o++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			}
			out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
			i += 6;
		} else {
			return -1;
		}
	}
	return (long)o;
}

static void
check(const uint8_t *data, size_t size, size_t max)
{
	char out[4096 + UTF8_ESCAPE_MARK], mark[UTF8_ESCAPE_MARK];
	unsigned char back[4096 + UTF8_ESCAPE_MARK];
	size_t n = utf8_escape(out, max, (const char *)data, size), body = n, k;
	size_t ml;
	unsigned cp;
	long m;

	REQUIRE(n == strlen(out));
	REQUIRE(utf8_valid(out, n));
	for (size_t i = 0; i < n; i += k) {
		REQUIRE((k = utf8_decode((const unsigned char *)out + i, n - i, &cp)) > 0);
		REQUIRE(!utf8_is_control(cp));
	}
	/* Cut: it ends with the marker (input text may end like one too: then
	 * the part before it must still read back as a shorter prefix). */
	ml = (size_t)snprintf(mark, sizeof(mark), "\xe2\x80\xa6(%zu bytes)", size);
	if (n >= ml && memcmp(out + n - ml, mark, ml) == 0 &&
	    (m = unescape(out, n - ml, back)) >= 0 && (size_t)m < size &&
	    memcmp(back, data, (size_t)m) == 0)
		body = n - ml;
	REQUIRE(body <= max);
	m = unescape(out, body, back);
	REQUIRE(m >= 0);
	if (body == n)
		REQUIRE((size_t)m == size);
	else
		REQUIRE((size_t)m < size);
	REQUIRE(memcmp(back, data, (size_t)m) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	check(data, size, 4096);		/* room for all of it at most times */
	check(data, size, size % 64);		/* cut early */
	check(data, size, LOG_TEXT_MAX);
	/* LOG_TEXT: the same, into its own buffer. */
	{
		const char *t = LOG_TEXTN((const char *)data, size);

		REQUIRE(strlen(t) < LOG_TEXT_SIZE);
		REQUIRE(utf8_valid(t, strlen(t)));
	}
	return 0;
}
