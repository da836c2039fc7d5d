/*
 * Fuzz the path the event loop runs on a held connection (fcgi/fcgiconn.c): a
 * reader resumed inside a request at a position libfcgi or a previous image
 * handed over (fcgirec_resume), then fed what the web server sends, split as
 * non-blocking reads return it, with the loop's body bound; management
 * records and refusals answered with fcgirec_answer. The input is eight
 * control bytes and the stream: byte 0 the request id's low byte (high: 0),
 * byte 1 flags (1: stdin done, 2: inside STDIN data, 4: inside a skipped
 * record), bytes 2-3 content_left, byte 4 padding_left, byte 5 the bytes of
 * a begun header taken from the stream's start (n % 8), bytes 6-7 the sizes
 * of the pieces the stream is cut into (n + 1, in turn).
 *
 * Properties: a position resume refuses leaves no request; one it takes reads
 * the same (events, body bytes, answers, status) whole and in pieces, and
 * the same again when, at every event, the reader is saved and a new one
 * resumed from it (a restart in place at any moment); the reader never reads
 * outside its piece, uses every byte unless it fails, and never lets the
 * body pass the bound; answers are whole records.
 */
#include <string.h>

#include "fcgirec.h"
#include "fuzz.h"

#define CONTROL		8
#define BODY_MAX	65536	/* fcgiconn.c's HELD_BODY_MAX */

struct result {
	struct buf		events;
	struct buf		answers;
	size_t			body;
	enum ph_err	status;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	REQUIRE(buf_append(b, p, n) == 0);
}

/* Answers are whole records: walk their headers to the end exactly. */
static void
check_records(const struct buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		struct fcgirec_header h;

		REQUIRE(b->len - off >= FCGIREC_HEADER_LEN);
		fcgirec_header_decode(b->data + off, &h);
		REQUIRE(h.version == 1);
		off += FCGIREC_HEADER_LEN + h.content_len + h.padding_len;
	}
	REQUIRE(off == b->len);
}

static void
run(const struct fcgirec_state *st, const uint8_t *s, size_t n, const uint8_t *sizes,
    int whole, int handoff, struct result *res)
{
	static const struct fcgirec_limits lim = { 0, BODY_MAX };
	static const struct fcgirec_values values = { 32, 32 };
	struct fcgirec *r = fcgirec_new(&lim);
	size_t off = 0, k = 0;

	REQUIRE(r != NULL);
	memset(res, 0, sizeof(*res));
	REQUIRE(fcgirec_resume(r, st) == PH_OK);
	while (off < n && res->status == PH_OK) {
		size_t piece = whole ? n - off : (size_t)sizes[k++ % 2] + 1, used;
		struct fcgirec_event ev;

		if (piece > n - off)
			piece = n - off;
		res->status = fcgirec_read(r, s + off, piece, &used, &ev);
		if (res->status != PH_OK)
			break;
		REQUIRE(used <= piece);
		/* Whole reads: the reader stops only at an event. */
		REQUIRE(used == piece || ev.type != FCGIREC_EV_NONE);
		off += used;
		if (ev.type == FCGIREC_EV_STDIN) {
			REQUIRE(ev.data == (const char *)s + off - ev.len);
			res->body += ev.len;
			REQUIRE(res->body <= BODY_MAX);
			continue;
		}
		if (ev.type == FCGIREC_EV_NONE)
			continue;
		put(&res->events, &ev.type, sizeof(ev.type));
		put(&res->events, &ev.request_id, sizeof(ev.request_id));
		REQUIRE(fcgirec_answer(&res->answers, &ev, &values) == PH_OK);
		if (handoff) {
			struct fcgirec_state saved;
			struct fcgirec *next = fcgirec_new(&lim);

			REQUIRE(next != NULL);
			REQUIRE(fcgirec_save(r, &saved) == PH_OK);
			REQUIRE(fcgirec_resume(next, &saved) == PH_OK);
			fcgirec_free(r);
			r = next;
		}
	}
	if (res->status == PH_OK)
		res->status = fcgirec_eof(r);
	check_records(&res->answers);
	fcgirec_free(r);
}

static int
same(const struct result *a, const struct result *b)
{
	return a->status == b->status && a->body == b->body && a->events.len == b->events.len &&
	    a->answers.len == b->answers.len &&
	    (a->events.len == 0 || memcmp(a->events.data, b->events.data, a->events.len) == 0) &&
	    (a->answers.len == 0 || memcmp(a->answers.data, b->answers.data, a->answers.len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgirec_state st;
	struct result whole, pieces, handed;
	struct fcgirec *probe;
	const uint8_t *s;
	size_t n;

	if (size < CONTROL)
		return 0;
	memset(&st, 0, sizeof(st));
	st.request_id = data[0];
	st.stdin_done = (data[1] & 1) != 0;
	st.in_stdin = (data[1] & 2) != 0;
	if (data[1] & 6)
		st.content_left = (size_t)data[2] << 8 | data[3];
	st.padding_left = data[4];
	st.hdr_len = data[5] % 8;
	st.stdin_total = st.in_stdin ? st.content_left : 0;
	s = data + CONTROL;
	n = size - CONTROL;
	if (st.hdr_len > n)
		st.hdr_len = n;
	memcpy(st.hdr, s, st.hdr_len);
	s += st.hdr_len;
	n -= st.hdr_len;

	probe = fcgirec_new(&(struct fcgirec_limits){ 0, BODY_MAX });
	REQUIRE(probe != NULL);
	if (fcgirec_resume(probe, &st) != PH_OK) {
		REQUIRE(!fcgirec_busy(probe));
		fcgirec_free(probe);
		return 0;
	}
	REQUIRE(fcgirec_busy(probe));
	fcgirec_free(probe);

	run(&st, s, n, data + 6, 1, 0, &whole);
	run(&st, s, n, data + 6, 0, 0, &pieces);
	run(&st, s, n, data + 6, 0, 1, &handed);
	REQUIRE(same(&whole, &pieces));
	/* A position saved inside a GET_VALUES or a second BEGIN_REQUEST skips
	 * that record (fcgirec.h): only events at boundaries are compared there,
	 * and the saves here happen at events, where no such record is open. */
	REQUIRE(same(&whole, &handed));
	buf_free(&whole.events);
	buf_free(&whole.answers);
	buf_free(&pieces.events);
	buf_free(&pieces.answers);
	buf_free(&handed.events);
	buf_free(&handed.answers);
	return 0;
}
