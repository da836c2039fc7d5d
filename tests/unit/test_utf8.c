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

int
main(void)
{
	test_valid();
	test_prefix();
	return unit_done();
}
