/* Unit tests for sse_frame (fcgi/sse.h): ASP.NET Core's ServerSentEventsTests vectors. */
#include "sse.h"
#include "unit.h"

static void
frame(const char *in, size_t n, const char *want)
{
	struct buf out = BUF_INIT;

	CHECK_INTEQ(sse_frame(&out, in, n), 0);
	CHECK_MEMEQ(out.data, out.len, want, strlen(want));
	buf_free(&out);
}

int
main(void)
{
	frame("Hello", 5, "data: Hello\r\n\r\n");
	frame("Hello\nWorld", 11, "data: Hello\r\ndata: World\r\n\r\n");
	frame("Hello\r\nWorld", 12, "data: Hello\r\ndata: World\r\n\r\n");
	frame("{}\x1e{\"type\":6}\x1e", 14, "data: {}\x1e{\"type\":6}\x1e\r\n\r\n");
	/* A trailing LF leaves an empty last line, as ASP.NET writes it. */
	frame("a\n", 2, "data: a\r\ndata: \r\n\r\n");
	/* A lone CR is not a line break. */
	frame("a\rb", 3, "data: a\rb\r\n\r\n");
	{
		/* A large payload stays one line. */
		static char big[120000];
		struct buf out = BUF_INIT;

		memset(big, 'x', sizeof(big));
		CHECK_INTEQ(sse_frame(&out, big, sizeof(big)), 0);
		CHECK_INTEQ(out.len, sizeof(big) + 10);
		buf_free(&out);
	}
	return unit_done();
}
