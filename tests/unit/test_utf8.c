/* Unit tests for common/utf8.h. */
#include "utf8.h"
#include "unit.h"

#define V(s) utf8_valid((s), sizeof(s) - 1)

static void
test_valid(void)
{
	CHECK_INTEQ(V(""), 1);
	CHECK_INTEQ(V("plain ascii"), 1);
	CHECK_INTEQ(V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), 1);
	CHECK_INTEQ(V("\xef\xbf\xbf"), 1);		/* U+FFFF */
	CHECK_INTEQ(V("\xf4\x8f\xbf\xbf"), 1);		/* U+10FFFF */
	CHECK_INTEQ(V("\xed\x9f\xbf"), 1);		/* U+D7FF */
	CHECK_INTEQ(V("a\0b"), 0);			/* NUL */
	CHECK_INTEQ(V("\xc0\xaf"), 0);			/* overlong '/' */
	CHECK_INTEQ(V("\xc1\xbf"), 0);
	CHECK_INTEQ(V("\xe0\x9f\xbf"), 0);		/* overlong 3-byte */
	CHECK_INTEQ(V("\xf0\x8f\xbf\xbf"), 0);		/* overlong 4-byte */
	CHECK_INTEQ(V("\xed\xa0\x80"), 0);		/* high surrogate */
	CHECK_INTEQ(V("\xed\xbf\xbf"), 0);		/* low surrogate */
	CHECK_INTEQ(V("\xf4\x90\x80\x80"), 0);		/* U+110000 */
	CHECK_INTEQ(V("\xf5\x80\x80\x80"), 0);
	CHECK_INTEQ(V("\xff"), 0);
	CHECK_INTEQ(V("\x80"), 0);			/* lone continuation */
	CHECK_INTEQ(V("\xc3"), 0);			/* truncated */
	CHECK_INTEQ(V("\xe2\x82"), 0);
	CHECK_INTEQ(V("\xe2\x82x"), 0);
}

static void
test_prefix(void)
{
	CHECK_INTEQ(utf8_prefix("abc", 10), 3);
	CHECK_INTEQ(utf8_prefix("abc", 2), 2);
	CHECK_INTEQ(utf8_prefix("abc", 0), 0);
	CHECK_INTEQ(utf8_prefix("abc", -1), 0);
	CHECK_INTEQ(utf8_prefix("a\xc3\xa9", 2), 1);	/* never half of é */
	CHECK_INTEQ(utf8_prefix("a\xc3\xa9", 3), 3);
	CHECK_INTEQ(utf8_prefix("\xf0\x9f\x98\x80z", 3), 0);
	CHECK_INTEQ(utf8_prefix("\xf0\x9f\x98\x80z", 4), 4);
}

static void
test_decode(void)
{
	unsigned cp = 0;

	CHECK_INTEQ(utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	CHECK_INTEQ(cp, 0x41);
	CHECK_INTEQ(utf8_decode((const unsigned char *)"\xc2\x85", 2, &cp), 2);
	CHECK_INTEQ(cp, 0x85);
	CHECK_INTEQ(utf8_decode((const unsigned char *)"\xe2\x80\xa8", 3, &cp), 3);
	CHECK_INTEQ(cp, 0x2028);
	CHECK_INTEQ(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	CHECK_INTEQ(cp, 0x1f600);
	CHECK_INTEQ(utf8_decode((const unsigned char *)"\xfc", 1, &cp), 0);
	CHECK_INTEQ(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
}

static void
test_control(void)
{
	static const unsigned yes[] = { 0, 0x0a, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f, 0x061c,
	    0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069 };
	static const unsigned no[] = { 0x20, 0x41, 0x7e, 0xa0, 0xe9, 0x2027, 0x202f, 0x2065,
	    0x206a, 0x20ac, 0xfffd, 0x1f600 };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK_INTEQ(utf8_is_control(yes[i]), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK_INTEQ(utf8_is_control(no[i]), 0);
}

static void
test_count(void)
{
	CHECK_INTEQ(utf8_count("", 0), 0);
	CHECK_INTEQ(utf8_count("abc", 3), 3);
	CHECK_INTEQ(utf8_count("\xc3\xa9t\xc3\xa9", 5), 3);
	CHECK_INTEQ(utf8_count("\xf0\x9f\x98\x80", 4), 1);
	CHECK(utf8_count("a\xfc", 2) == (size_t)-1);
}

/* utf8_escape of a literal into a buffer of max + UTF8_ESCAPE_MARK. */
static const char *
esc(const char *s, size_t len, size_t max)
{
	static char out[600 + UTF8_ESCAPE_MARK];
	size_t n;

	memset(out, '#', sizeof(out));
	n = utf8_escape(out, max, s, len);
	if (n != strlen(out))
		return "(bad length)";
	return out;
}
#define ESC(s, max) esc((s), sizeof(s) - 1, (max))

static void
test_escape(void)
{
	CHECK_STREQ(ESC("", 100), "");
	CHECK_STREQ(ESC("Mozilla/5.0 (X11) caf\xc3\xa9 \xe2\x82\xac", 100),
	    "Mozilla/5.0 (X11) caf\xc3\xa9 \xe2\x82\xac");
	/* A forged line: CR, LF, ESC, BEL, DEL, TAB, NUL. */
	CHECK_STREQ(ESC("json\r\n2026-12-01T00:00:00Z pollhub[error] FORGED", 100),
	    "json\\x0d\\x0a2026-12-01T00:00:00Z pollhub[error] FORGED");
	CHECK_STREQ(ESC("\x1b[31mred\x07\x7f\t", 100), "\\x1b[31mred\\x07\\x7f\\x09");
	CHECK_STREQ(ESC("a\0b", 100), "a\\x00b");
	/* C1, the separators, bidi controls. */
	CHECK_STREQ(ESC("\xc2\x85\xc2\x9b\xe2\x80\xa8\xe2\x80\xa9", 100),
	    "\\u0085\\u009b\\u2028\\u2029");
	CHECK_STREQ(ESC("\xe2\x80\xae" "evil\xe2\x81\xa6\xe2\x81\xa9\xd8\x9c", 100),
	    "\\u202eevil\\u2066\\u2069\\u061c");
	/* Invalid UTF-8: Latin-1, a truncated sequence, an encoded surrogate, overlong. */
	CHECK_STREQ(ESC("M\xfcnchen-Bot", 100), "M\\xfcnchen-Bot");
	CHECK_STREQ(ESC("a\xe2\x82", 100), "a\\xe2\\x82");
	CHECK_STREQ(ESC("\xed\xa0\x80", 100), "\\xed\\xa0\\x80");
	CHECK_STREQ(ESC("\xc0\xaf", 100), "\\xc0\\xaf");
	/* A backslash is doubled: a client's "\x0a" cannot pass for an escape. */
	CHECK_STREQ(ESC("\\x0a", 100), "\\\\x0a");
	/* Cut at max bytes of output, never inside a character or an escape, with
	 * the marker naming the input's length. */
	CHECK_STREQ(ESC("abcdef", 6), "abcdef");
	CHECK_STREQ(ESC("abcdefg", 6), "abcdef\xe2\x80\xa6(7 bytes)");
	CHECK_STREQ(ESC("abcde\xc3\xa9", 6), "abcde\xe2\x80\xa6(7 bytes)");
	CHECK_STREQ(ESC("abc\n", 6), "abc\xe2\x80\xa6(4 bytes)");
	CHECK_STREQ(ESC("ab\xe2\x80\xa8", 6), "ab\xe2\x80\xa6(5 bytes)");
	CHECK_STREQ(ESC("x", 0), "\xe2\x80\xa6(1 bytes)");
	/* Whatever the input, the output is valid UTF-8 without a control. */
	{
		char in[256], out[64 + UTF8_ESCAPE_MARK];
		size_t n;
		unsigned cp;

		for (int i = 0; i < 256; i++)
			in[i] = (char)i;
		n = utf8_escape(out, 64, in, sizeof(in));
		CHECK(n < sizeof(out));
		CHECK_INTEQ(utf8_valid(out, n), 1);
		for (size_t i = 0, k; i < n; i += k) {
			k = utf8_decode((const unsigned char *)out + i, n - i, &cp);
			CHECK(k > 0 && !utf8_is_control(cp));
			if (k == 0)
				break;
		}
	}
	/* The longest marker fits UTF8_ESCAPE_MARK. */
	{
		char out[UTF8_ESCAPE_MARK];

		CHECK_INTEQ(utf8_escape(out, 0, "x", (size_t)-1), UTF8_ESCAPE_MARK - 1);
	}
}

int
main(void)
{
	test_valid();
	test_prefix();
	test_decode();
	test_control();
	test_count();
	test_escape();
	return unit_done();
}
