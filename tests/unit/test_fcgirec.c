/* Unit tests for fcgi/fcgirec.h. */
#include <stdlib.h>

#include "fcgirec.h"
#include "unit.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* What a reader made of a stream: events as text, the body apart (its
 * events' boundaries depend on how the stream was cut; the bytes do not). */
struct transcript {
	struct buf		text;
	struct buf		body;
	enum ph_err	status;
	struct buf		answers;	/* fcgirec_answer's output */
	int			broken;		/* a promise of fcgirec_read was not kept */
};

static void
transcript_free(struct transcript *t)
{
	buf_free(&t->text);
	buf_free(&t->body);
	buf_free(&t->answers);
}

static void
note(struct transcript *t, const char *fmt, unsigned a, unsigned b, unsigned c)
{
	char line[128];

	snprintf(line, sizeof(line), fmt, a, b, c);
	buf_puts(&t->text, line);
}

/* Record one event; a request ends (as the responder would end it) at the
 * end of its body or at an abort. */
static void
on_event(struct fcgirec *r, const struct fcgirec_event *ev, struct transcript *t)
{
	static const struct fcgirec_values values = { 100, 100 };
	struct fcgirec_param p;
	size_t pos = 0;

	if (ev->type == FCGIREC_EV_NONE)
		return;
	if (ev->type == FCGIREC_EV_STDIN) {
		buf_append(&t->body, ev->data, ev->len);
		return;
	}
	note(t, "[body %u] ", (unsigned)t->body.len, 0, 0);
	switch (ev->type) {
	case FCGIREC_EV_BEGIN:
		note(t, "begin %u role %u keep %u\n", ev->request_id, ev->role,
		    (unsigned)ev->keep_conn);
		break;
	case FCGIREC_EV_PARAMS:
		note(t, "params\n", 0, 0, 0);
		while (fcgirec_param_next(r, &pos, &p)) {
			buf_append(&t->text, p.name, p.name_len);
			buf_putc(&t->text, '=');
			buf_append(&t->text, p.value, p.value_len);
			buf_putc(&t->text, '\n');
		}
		break;
	case FCGIREC_EV_STDIN_END:
		note(t, "stdin end\n", 0, 0, 0);
		fcgirec_end(r);
		break;
	case FCGIREC_EV_ABORT:
		note(t, "abort %u\n", ev->request_id, 0, 0);
		fcgirec_end(r);
		break;
	case FCGIREC_EV_GET_VALUES:
		note(t, "get values %u\n", ev->values, 0, 0);
		break;
	case FCGIREC_EV_UNKNOWN_TYPE:
		note(t, "unknown type %u\n", ev->record_type, 0, 0);
		break;
	case FCGIREC_EV_MPX_REFUSED:
		note(t, "refused %u\n", ev->request_id, 0, 0);
		break;
	default:
		note(t, "event %u?\n", ev->type, 0, 0);
	}
	fcgirec_answer(&t->answers, ev, &values);
}

/* Feed s[0..n) cut at the given points (ascending), each piece through a
 * struct buf as a non-blocking read would fill it. */
static void
run_cuts(const char *s, size_t n, const size_t *cuts, size_t ncuts,
    const struct fcgirec_limits *lim, struct transcript *t)
{
	struct fcgirec *r = fcgirec_new(lim);
	struct buf in = BUF_INIT;
	struct fcgirec_event ev;
	size_t from = 0;

	memset(t, 0, sizeof(*t));
	t->status = PH_OK;
	for (size_t c = 0; c <= ncuts && t->status == PH_OK; c++) {
		size_t to = c < ncuts ? cuts[c] : n, off = 0, used;

		buf_append(&in, s + from, to - from);
		from = to;
		while (off < in.len && t->status == PH_OK) {
			t->status = fcgirec_read(r, in.data + off, in.len - off, &used, &ev);
			t->broken |= used > in.len - off;
			off += used;
			if (t->status == PH_OK)
				on_event(r, &ev, t);
			t->broken |= fcgirec_held(r) > (lim && lim->params_max ? lim->params_max :
			    FCGIREC_PARAMS_MAX_DEFAULT);
		}
		/* The reader used every byte: nothing is left for the next read. */
		t->broken |= t->status == PH_OK && off != in.len;
		buf_reset(&in);
	}
	if (t->status == PH_OK)
		t->status = fcgirec_eof(r);
	buf_free(&in);
	fcgirec_free(r);
}

static void
run(const char *s, size_t n, const struct fcgirec_limits *lim, struct transcript *t)
{
	run_cuts(s, n, NULL, 0, lim, t);
}

static int
same(const struct transcript *a, const struct transcript *b)
{
	return !a->broken && !b->broken && a->status == b->status && a->text.len == b->text.len &&
	    a->body.len == b->body.len && a->answers.len == b->answers.len &&
	    (a->text.len == 0 || memcmp(a->text.data, b->text.data, a->text.len) == 0) &&
	    (a->body.len == 0 || memcmp(a->body.data, b->body.data, a->body.len) == 0) &&
	    (a->answers.len == 0 || memcmp(a->answers.data, b->answers.data, a->answers.len) == 0);
}

/* The stream read whole, cut in two at every byte, and byte by byte: the
 * same events, body and answers every time. */
static void
check_every_cut(const char *s, size_t n, const struct fcgirec_limits *lim,
    struct transcript *whole)
{
	struct transcript t;
	size_t *cuts = malloc((n + 1) * sizeof(size_t));
	int bad = 0;

	run(s, n, lim, whole);
	CHECK(!whole->broken);
	for (size_t i = 0; i <= n; i++) {
		run_cuts(s, n, &i, 1, lim, &t);
		if (!same(whole, &t) && bad++ == 0)
			printf("cut at %zu differs\n", i);
		transcript_free(&t);
	}
	CHECK_INTEQ(bad, 0);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	run_cuts(s, n, cuts, n > 0 ? n - 1 : 0, lim, &t);
	CHECK(same(whole, &t));
	transcript_free(&t);
	free(cuts);
}

/* Written by hand from the specification, not by the writer: BEGIN (id 1,
 * responder, keep), PARAMS with 1-byte lengths, a 4-byte value length and a
 * 4-byte form of a small length, a pair spanning two records, padding,
 * empty PARAMS, STDIN "hello" padded, empty STDIN. */
#define V10 "vvvvvvvvvv"

static const char lighttpd_request[] =
	"\x01\x01\x00\x01\x00\x08\x00\x00" "\x00\x01\x01\x00\x00\x00\x00\x00"
	/* PARAMS, 16 bytes + 0 padding: REQUEST_METHOD=GET (14, 3) */
	"\x01\x04\x00\x01\x00\x13\x05\x00" "\x0e\x03REQUEST_METHODGET" "\0\0\0\0\0"
	/* PARAMS, 143 bytes: "A" = 130 x 'v' with a four-byte value length, then
	 * the start of the next pair: name length 5 in four-byte form, value
	 * length 2, "QU" */
	"\x01\x04\x00\x01\x00\x8f\x00\x00" "\x01\x80\x00\x00\x82" "A"
	V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10
	"\x80\x00\x00\x05\x02" "QU"
	/* PARAMS: the rest of that pair, "ERYab", padded by 3 */
	"\x01\x04\x00\x01\x00\x05\x03\x00" "ERYab" "\0\0\0"
	"\x01\x04\x00\x01\x00\x00\x00\x00"
	"\x01\x05\x00\x01\x00\x05\x03\x00" "hello" "\0\0\0"
	"\x01\x05\x00\x01\x00\x00\x00\x00";

/* Read s[*off..n) up to an event of type: PH_OK when it came, the
 * reader's error, or PH_TRUNCATED when the input ran out first. */
static enum ph_err
read_until(struct fcgirec *r, const char *s, size_t n, size_t *off,
    enum fcgirec_event_type type)
{
	struct fcgirec_event ev;
	enum ph_err st;
	size_t used;

	while (*off < n) {
		if ((st = fcgirec_read(r, s + *off, n - *off, &used, &ev)) != PH_OK)
			return st;
		*off += used;
		if (ev.type == type)
			return PH_OK;
	}
	return PH_TRUNCATED;
}

static void
test_hand_written(void)
{
	struct transcript t;
	struct fcgirec *r = fcgirec_new(NULL);
	const char *s = lighttpd_request, *v;
	size_t n = sizeof(lighttpd_request) - 1, off = 0, len;

	check_every_cut(s, n, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data,
	    "[body 0] begin 1 role 1 keep 1\n"
	    "[body 0] params\nREQUEST_METHOD=GET\n"
	    "A=" V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 V10 "\n"
	    "QUERY=ab\n"
	    "[body 5] stdin end\n");
	CHECK_MEMEQ(t.body.data, t.body.len, "hello", (size_t)5);
	CHECK_INTEQ(t.answers.len, 0);
	transcript_free(&t);

	/* Lookups, and the params released on demand. */
	CHECK_INTEQ(read_until(r, s, n, &off, FCGIREC_EV_PARAMS), PH_OK);
	CHECK(fcgirec_busy(r));
	CHECK_STREQ(fcgirec_param(r, "QUERY", &len), "ab");
	CHECK_INTEQ(len, 2);
	v = fcgirec_param(r, "A", &len);
	CHECK_INTEQ(len, 130);
	CHECK(v != NULL && strlen(v) == 130);
	CHECK(fcgirec_param(r, "QUER", NULL) == NULL);
	CHECK(fcgirec_param(r, "QUERYX", NULL) == NULL);
	CHECK(fcgirec_held(r) > 0);
	fcgirec_params_drop(r);
	CHECK_INTEQ(fcgirec_held(r), 0);
	CHECK(fcgirec_param(r, "QUERY", NULL) == NULL);
	fcgirec_free(r);

	/* Dropped before they come: checked all the same, none kept. */
	r = fcgirec_new(NULL);
	off = 0;
	CHECK_INTEQ(read_until(r, s, n, &off, FCGIREC_EV_BEGIN), PH_OK);
	CHECK_INTEQ(read_until(r, s, 50, &off, FCGIREC_EV_PARAMS), PH_TRUNCATED);
	CHECK(fcgirec_held(r) > 0);
	fcgirec_params_drop(r);
	CHECK_INTEQ(read_until(r, s, n, &off, FCGIREC_EV_PARAMS), PH_OK);
	CHECK_INTEQ(fcgirec_held(r), 0);
	CHECK(fcgirec_param(r, "REQUEST_METHOD", NULL) == NULL);
	CHECK_INTEQ(read_until(r, s, n, &off, FCGIREC_EV_STDIN_END), PH_OK);
	CHECK_INTEQ(off, n);
	fcgirec_free(r);
}

/* A request built with the writer: BEGIN, the pairs' stream cut into
 * PARAMS records of `step` bytes, the body. */
static void
build_request(struct buf *out, uint16_t id, unsigned flags, const struct buf *pairs,
    size_t step, const char *body, size_t bodylen, int pad)
{
	int ok = fcgirec_write_begin_request(out, id, FCGIREC_RESPONDER, flags) == PH_OK;

	for (size_t i = 0; i < pairs->len; i += step) {
		size_t n = pairs->len - i < step ? pairs->len - i : step;
		ok &= fcgirec_write_record(out, FCGIREC_PARAMS, id, pairs->data + i, n, pad) ==
		    PH_OK;
	}
	ok &= fcgirec_write_empty(out, FCGIREC_PARAMS, id) == PH_OK;
	ok &= fcgirec_write_record(out, FCGIREC_STDIN, id, body, bodylen, pad) == PH_OK;
	ok &= fcgirec_write_empty(out, FCGIREC_STDIN, id) == PH_OK;
	CHECK(ok);
}

/* The first three pairs test_long_lengths sends. */
static void
check_first_pairs(const struct fcgirec *r, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	static const struct fcgirec_param none = { "", 0, "", 0 };
	struct fcgirec_param p = none;
	size_t pos = 0;

	if (!fcgirec_param_next(r, &pos, &p))
		p = none;
	CHECK_MEMEQ(p.name, p.name_len, name, name_len);
	CHECK_MEMEQ(p.value, p.value_len, value, value_len);
	CHECK(p.value[p.value_len] == '\0' && p.name[p.name_len] == '\0');
	if (!fcgirec_param_next(r, &pos, &p))
		p = none;
	CHECK_MEMEQ(p.name, p.name_len, "E", (size_t)1);
	CHECK_INTEQ(p.value_len, 0);
	if (!fcgirec_param_next(r, &pos, &p))
		p = none;
	CHECK_INTEQ(p.name_len, 0);
	CHECK_STREQ(p.value, "no name");
}

static void
test_long_lengths(void)
{
	struct buf pairs = BUF_INIT, s = BUF_INIT;
	struct transcript t;
	char name[300], value[1000];
	struct fcgirec *r;
	size_t len = 0, off = 0;

	memset(name, 'N', sizeof(name));
	memset(value, 'x', sizeof(value));
	value[500] = '\0';	/* a NUL inside a value: the length tells */
	CHECK_INTEQ(fcgirec_write_pair(&pairs, name, sizeof(name), value, sizeof(value)),
	    PH_OK);
	/* Four-byte name length (300 = 0x12c), four-byte value length (1000 = 0x3e8). */
	CHECK_MEMEQ(pairs.data, (size_t)8, "\x80\x00\x01\x2c\x80\x00\x03\xe8", (size_t)8);
	CHECK_INTEQ(fcgirec_write_pair(&pairs, LIT("E"), "", 0), PH_OK);
	CHECK_INTEQ(fcgirec_write_pair(&pairs, "", 0, LIT("no name")), PH_OK);
	CHECK_INTEQ(fcgirec_write_pair(&pairs, LIT("k127"), value, 127), PH_OK);
	CHECK_INTEQ(fcgirec_write_pair(&pairs, LIT("k128"), value, 128), PH_OK);
	build_request(&s, 7, 0, &pairs, 100, LIT("body"), 1);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_CONTAINS(t.text.data, "begin 7 role 1 keep 0\n");
	CHECK_MEMEQ(t.body.data, t.body.len, "body", (size_t)4);
	transcript_free(&t);

	r = fcgirec_new(NULL);
	CHECK_INTEQ(read_until(r, s.data, s.len, &off, FCGIREC_EV_PARAMS), PH_OK);
	CHECK(fcgirec_param(r, "NNN", NULL) == NULL);
	check_first_pairs(r, name, sizeof(name), value, sizeof(value));
	CHECK_STREQ(fcgirec_param(r, "E", &len), "");
	CHECK_INTEQ(len, 0);
	CHECK(fcgirec_param(r, "k127", &len) != NULL && len == 127);
	CHECK(fcgirec_param(r, "k128", &len) != NULL && len == 128);
	fcgirec_free(r);
	buf_free(&pairs);
	buf_free(&s);
}

static void
test_abort(void)
{
	struct buf s = BUF_INIT, pairs = BUF_INIT;
	struct transcript t;

	fcgirec_write_pair(&pairs, LIT("REQUEST_METHOD"), LIT("GET"));
	CHECK_INTEQ(fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, FCGIREC_KEEP_CONN),
	    PH_OK);
	fcgirec_write_record(&s, FCGIREC_PARAMS, 1, pairs.data, pairs.len, 0);
	fcgirec_write_empty(&s, FCGIREC_PARAMS, 1);
	/* Another request's abort is not ours; ours ends the request. */
	fcgirec_write_empty(&s, FCGIREC_ABORT_REQUEST, 2);
	fcgirec_write_empty(&s, FCGIREC_ABORT_REQUEST, 1);
	/* Its late records are skipped. */
	fcgirec_write_record(&s, FCGIREC_STDIN, 1, LIT("late"), 0);
	/* The kept connection's next request. */
	build_request(&s, 1, 0, &pairs, 100, "", 0, 0);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data,
	    "[body 0] begin 1 role 1 keep 1\n"
	    "[body 0] params\nREQUEST_METHOD=GET\n"
	    "[body 0] abort 1\n"
	    "[body 0] begin 1 role 1 keep 0\n"
	    "[body 0] params\nREQUEST_METHOD=GET\n"
	    "[body 0] stdin end\n");
	CHECK_INTEQ(t.body.len, 0);
	transcript_free(&t);

	/* An abort with padding, before the params end. */
	buf_reset(&s);
	fcgirec_write_begin_request(&s, 3, FCGIREC_RESPONDER, 0);
	buf_append(&s, LIT("\x01\x02\x00\x03\x00\x00\x05\x00" "\0\0\0\0\0"));
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data, "[body 0] begin 3 role 1 keep 0\n[body 0] abort 3\n");
	transcript_free(&t);
	buf_free(&s);
	buf_free(&pairs);
}

/* The records in s (complete), as "type id content-length;" text, and their
 * contents concatenated. */
static void
walk(const struct buf *s, struct buf *shape, struct buf *content)
{
	struct fcgirec_header h;
	char line[64];
	size_t off = 0;

	while (off + FCGIREC_HEADER_LEN <= s->len) {
		fcgirec_header_decode(s->data + off, &h);
		snprintf(line, sizeof(line), "%u %u %u %u;", h.type, h.request_id, h.content_len,
		    h.padding_len);
		buf_puts(shape, line);
		CHECK_INTEQ(h.version, 1);
		CHECK(off + FCGIREC_HEADER_LEN + h.content_len + h.padding_len <= s->len);
		buf_append(content, s->data + off + FCGIREC_HEADER_LEN, h.content_len);
		off += FCGIREC_HEADER_LEN + h.content_len + h.padding_len;
	}
	CHECK_INTEQ(off, s->len);
}

static void
test_get_values(void)
{
	struct buf s = BUF_INIT, pairs = BUF_INIT, shape = BUF_INIT, content = BUF_INIT;
	struct transcript t;

	fcgirec_write_pair(&pairs, LIT("FCGI_MAX_CONNS"), "", 0);
	fcgirec_write_pair(&pairs, LIT("FCGI_MPXS_CONNS"), "", 0);
	fcgirec_write_pair(&pairs, LIT("FCGI_MAX_CONNS_AND_MORE"), "", 0);
	fcgirec_write_pair(&pairs, LIT("FCGI_MAX"), "", 0);
	fcgirec_write_record(&s, FCGIREC_GET_VALUES, 0, pairs.data, pairs.len, 1);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data, "[body 0] get values 5\n");
	walk(&t.answers, &shape, &content);
	CHECK_STREQ(shape.data, "10 0 37 0;");
	CHECK_MEMEQ(content.data, content.len,
	    "\x0e\x03" "FCGI_MAX_CONNS100" "\x0f\x01" "FCGI_MPXS_CONNS0", (size_t)37);
	transcript_free(&t);

	/* Asking for nothing: an empty result. A pair cut by the record's end. */
	buf_reset(&s);
	fcgirec_write_empty(&s, FCGIREC_GET_VALUES, 0);
	fcgirec_write_record(&s, FCGIREC_GET_VALUES, 0, pairs.data, 10, 0);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_FCGI_BAD_RECORD);
	CHECK_STREQ(t.text.data, "[body 0] get values 0\n");
	CHECK_MEMEQ(t.answers.data, t.answers.len, "\x01\x0a\x00\x00\x00\x00\x00\x00", (size_t)8);
	transcript_free(&t);

	/* Management records we do not know, the reader's own answer types among them. */
	buf_reset(&s);
	buf_reset(&shape);
	buf_reset(&content);
	fcgirec_write_record(&s, 42, 0, LIT("whatever"), 1);
	fcgirec_write_empty(&s, FCGIREC_GET_VALUES_RESULT, 0);
	fcgirec_write_begin_request(&s, 0, FCGIREC_RESPONDER, 0);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data,
	    "[body 0] unknown type 42\n[body 0] unknown type 10\n[body 0] unknown type 1\n");
	walk(&t.answers, &shape, &content);
	CHECK_STREQ(shape.data, "11 0 8 0;11 0 8 0;11 0 8 0;");
	CHECK_MEMEQ(content.data, (size_t)8, "\x2a\0\0\0\0\0\0\0", (size_t)8);
	transcript_free(&t);
	buf_free(&s);
	buf_free(&pairs);
	buf_free(&shape);
	buf_free(&content);
}

static void
test_multiplexing_refused(void)
{
	struct buf s = BUF_INIT, pairs = BUF_INIT, other = BUF_INIT;
	struct transcript t;

	fcgirec_write_pair(&pairs, LIT("SCRIPT_NAME"), LIT("/hub"));
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, FCGIREC_KEEP_CONN);
	fcgirec_write_record(&s, FCGIREC_PARAMS, 1, pairs.data, pairs.len, 0);
	/* A second request, whole, in the middle of the first. */
	build_request(&other, 2, 0, &pairs, 3, LIT("not ours"), 0);
	buf_append(&s, other.data, other.len);
	fcgirec_write_empty(&s, FCGIREC_PARAMS, 1);
	fcgirec_write_record(&s, FCGIREC_STDIN, 1, LIT("ours"), 0);
	fcgirec_write_empty(&s, FCGIREC_STDIN, 1);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_STREQ(t.text.data,
	    "[body 0] begin 1 role 1 keep 1\n"
	    "[body 0] refused 2\n"
	    "[body 0] params\nSCRIPT_NAME=/hub\n"
	    "[body 4] stdin end\n");
	CHECK_MEMEQ(t.body.data, t.body.len, "ours", (size_t)4);
	CHECK_MEMEQ(t.answers.data, t.answers.len,
	    "\x01\x03\x00\x02\x00\x08\x00\x00" "\x00\x00\x00\x00\x01\x00\x00\x00", (size_t)16);
	transcript_free(&t);

	/* BEGIN_REQUEST again with the active id: not answerable, the end. */
	buf_reset(&s);
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, 0);
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, 0);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_FCGI_BAD_SEQUENCE);
	transcript_free(&t);
	buf_free(&s);
	buf_free(&pairs);
	buf_free(&other);
}

static void
test_caps(void)
{
	struct fcgirec_limits lim = { 0, 0 };
	struct buf s = BUF_INIT, pairs = BUF_INIT;
	struct transcript t;
	char value[200];

	memset(value, 'v', sizeof(value));
	/* Exactly at the cap: two pairs of 10 + 1 + 100 bytes each. */
	fcgirec_write_pair(&pairs, LIT("a"), value, 100);
	fcgirec_write_pair(&pairs, LIT("b"), value, 100);
	lim.params_max = 2 * (10 + 1 + 100);
	build_request(&s, 1, 0, &pairs, 50, LIT("x"), 0);
	check_every_cut(s.data, s.len, &lim, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_CONTAINS(t.text.data, "b=vvv");
	transcript_free(&t);
	/* One byte less: refused at the second pair's lengths. */
	lim.params_max--;
	check_every_cut(s.data, s.len, &lim, &t);
	CHECK_INTEQ(t.status, PH_FCGI_PARAMS_TOO_LARGE);
	CHECK_STREQ(t.text.data, "[body 0] begin 1 role 1 keep 0\n");
	transcript_free(&t);

	/* A length of 2^31 - 1 is refused at once, before any of it arrives. */
	buf_reset(&s);
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, 0);
	fcgirec_write_record(&s, FCGIREC_PARAMS, 1, LIT("\x01\xff\xff\xff\xff"), 0);
	run(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_FCGI_PARAMS_TOO_LARGE);
	transcript_free(&t);
	CHECK_INTEQ(fcgirec_write_pair(&pairs, "", 0, value, (size_t)0x80000000u),
	    PH_FCGI_BAD_PARAMS);

	/* The body cap: at the cap, then one byte over in a later record. */
	lim.params_max = 0;
	lim.stdin_max = 8;
	buf_reset(&s);
	build_request(&s, 1, 0, &pairs, 50, LIT("12345678"), 0);
	check_every_cut(s.data, s.len, &lim, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_INTEQ(t.body.len, 8);
	transcript_free(&t);
	buf_reset(&s);
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, 0);
	fcgirec_write_empty(&s, FCGIREC_PARAMS, 1);
	fcgirec_write_record(&s, FCGIREC_STDIN, 1, LIT("1234"), 0);
	fcgirec_write_record(&s, FCGIREC_STDIN, 1, LIT("56789"), 0);
	check_every_cut(s.data, s.len, &lim, &t);
	CHECK_INTEQ(t.status, PH_FCGI_STDIN_TOO_LARGE);
	CHECK_MEMEQ(t.body.data, t.body.len, "1234", (size_t)4);
	transcript_free(&t);
	buf_free(&s);
	buf_free(&pairs);
}

/* A stream of hand-made records and the status it ends with. */
static enum ph_err
status_of(const char *s, size_t n)
{
	struct transcript t;
	enum ph_err st;

	check_every_cut(s, n, NULL, &t);
	st = t.status;
	transcript_free(&t);
	return st;
}

#define BEGIN1	"\x01\x01\x00\x01\x00\x08\x00\x00" "\x00\x01\x00\x00\x00\x00\x00\x00"
#define PARAMS1_END	"\x01\x04\x00\x01\x00\x00\x00\x00"

static void
test_errors(void)
{
	struct fcgirec *r = fcgirec_new(NULL);
	struct fcgirec_event ev;
	size_t used;

	CHECK_INTEQ(status_of("", 0), PH_OK);
	CHECK_INTEQ(status_of(LIT("\x02\x01\x00\x01\x00\x08\x00\x00")), PH_FCGI_BAD_VERSION);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x00\x04\x00\x01\x00\x00\x00\x00")),
	    PH_FCGI_BAD_VERSION);
	/* A BEGIN_REQUEST body of 7 or 9 bytes. */
	CHECK_INTEQ(status_of(LIT("\x01\x01\x00\x01\x00\x07\x00\x00" "1234567")),
	    PH_FCGI_BAD_RECORD);
	CHECK_INTEQ(status_of(LIT("\x01\x01\x00\x01\x00\x09\x00\x00" "123456789")),
	    PH_FCGI_BAD_RECORD);
	/* What a responder sends, sent to it; an unknown type; for another id, skipped. */
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x06\x00\x01\x00\x00\x00\x00")), PH_FCGI_BAD_TYPE);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x03\x00\x01\x00\x00\x00\x00")), PH_FCGI_BAD_TYPE);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x63\x00\x01\x00\x00\x00\x00")), PH_FCGI_BAD_TYPE);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x63\x00\x02\x00\x01\x00\x00" "x")), PH_OK);
	CHECK_INTEQ(status_of(LIT("\x01\x04\x00\x01\x00\x00\x00\x00")), PH_OK);
	/* FCGI_DATA is skipped. */
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x08\x00\x01\x00\x01\x00\x00" "x")), PH_OK);
	/* Out of order: STDIN before the params end, PARAMS after, STDIN after its end. */
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x05\x00\x01\x00\x01\x00\x00" "x")),
	    PH_FCGI_BAD_SEQUENCE);
	CHECK_INTEQ(status_of(LIT(BEGIN1 PARAMS1_END PARAMS1_END)), PH_FCGI_BAD_SEQUENCE);
	CHECK_INTEQ(status_of(LIT(BEGIN1 PARAMS1_END "\x01\x05\x00\x01\x00\x00\x00\x00"
	    "\x01\x05\x00\x01\x00\x01\x00\x00" "x")), PH_OK);	/* ended: skipped */
	/* The params end inside a pair: after a length byte, inside a name, inside a
	 * four-byte length. */
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x04\x00\x01\x00\x01\x00\x00" "\x05" PARAMS1_END)),
	    PH_FCGI_BAD_PARAMS);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x04\x00\x01\x00\x03\x00\x00" "\x05\x00" "a"
	    PARAMS1_END)), PH_FCGI_BAD_PARAMS);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x04\x00\x01\x00\x02\x00\x00" "\x80\x00"
	    PARAMS1_END)), PH_FCGI_BAD_PARAMS);
	/* EOF inside a header, a body, padding. */
	CHECK_INTEQ(status_of(LIT("\x01\x01\x00")), PH_TRUNCATED);
	CHECK_INTEQ(status_of(LIT("\x01\x01\x00\x01\x00\x08\x00\x00" "\x00\x01")),
	    PH_TRUNCATED);
	CHECK_INTEQ(status_of(LIT(BEGIN1 "\x01\x02\x00\x01\x00\x00\x04\x00" "\0\0")),
	    PH_TRUNCATED);

	/* An error is final, and says so again. */
	CHECK_INTEQ(fcgirec_read(r, LIT("\x00\x01\x00\x01\x00\x08\x00\x00"), &used, &ev),
	    PH_FCGI_BAD_VERSION);
	CHECK_INTEQ(ev.type, FCGIREC_EV_NONE);
	CHECK_INTEQ(fcgirec_read(r, LIT(BEGIN1), &used, &ev), PH_FCGI_BAD_VERSION);
	CHECK_INTEQ(used, 0);
	CHECK_INTEQ(fcgirec_eof(r), PH_FCGI_BAD_VERSION);
	fcgirec_free(r);
	fcgirec_free(NULL);

	for (int st = PH_OK; st <= PH_NOMEM; st++) {
		CHECK(ph_strerror((enum ph_err)st)[0] != '\0');
		for (int other = PH_OK; other < st; other++)
			CHECK(strcmp(ph_strerror((enum ph_err)st),
			    ph_strerror((enum ph_err)other)) != 0);
	}
	CHECK_STREQ(ph_strerror((enum ph_err)99), "unknown error");
}

/* The caller ends a request inside a STDIN record: the rest is skipped. */
static void
test_end_mid_record(void)
{
	struct fcgirec *r = fcgirec_new(NULL);
	struct buf s = BUF_INIT;
	struct fcgirec_event ev;
	size_t used;

	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, FCGIREC_KEEP_CONN);
	fcgirec_write_empty(&s, FCGIREC_PARAMS, 1);
	fcgirec_write_record(&s, FCGIREC_STDIN, 1, LIT("0123456789"), 0);
	fcgirec_write_begin_request(&s, 1, FCGIREC_RESPONDER, 0);
	CHECK_INTEQ(fcgirec_read(r, s.data, s.len, &used, &ev), PH_OK);
	CHECK_INTEQ(ev.type, FCGIREC_EV_BEGIN);
	CHECK_INTEQ(used, 16);
	CHECK_INTEQ(fcgirec_read(r, s.data + 16, 8, &used, &ev), PH_OK);
	CHECK_INTEQ(ev.type, FCGIREC_EV_PARAMS);
	/* Three bytes of the body, then the request ends. */
	CHECK_INTEQ(fcgirec_read(r, s.data + 24, 11, &used, &ev), PH_OK);
	CHECK_INTEQ(ev.type, FCGIREC_EV_STDIN);
	CHECK_MEMEQ(ev.data, ev.len, "012", (size_t)3);
	CHECK_INTEQ(used, 11);
	fcgirec_end(r);
	CHECK(!fcgirec_busy(r));
	CHECK_INTEQ(fcgirec_eof(r), PH_TRUNCATED);
	CHECK_INTEQ(fcgirec_read(r, s.data + 35, s.len - 35, &used, &ev), PH_OK);
	CHECK_INTEQ(ev.type, FCGIREC_EV_BEGIN);
	CHECK_INTEQ(ev.keep_conn, 0);
	CHECK_INTEQ(used, s.len - 35);
	CHECK(fcgirec_busy(r));
	CHECK_INTEQ(fcgirec_eof(r), PH_OK);
	fcgirec_free(r);
	buf_free(&s);
}

/* An event carries its own fields only, whatever records came before it in
 * the same read (found by the fuzzer: a PARAMS record's id once leaked into a
 * later management event). */
static void
test_event_fields(void)
{
	struct fcgirec *r = fcgirec_new(NULL);
	struct buf s = BUF_INIT;
	struct fcgirec_event ev;
	size_t used;

	fcgirec_write_begin_request(&s, 3, FCGIREC_RESPONDER, 0);
	CHECK_INTEQ(fcgirec_read(r, s.data, s.len, &used, &ev), PH_OK);
	CHECK_INTEQ(ev.request_id, 3);
	buf_reset(&s);
	fcgirec_write_record(&s, FCGIREC_PARAMS, 3, LIT("\x01\x01" "ab"), 0);
	fcgirec_write_record(&s, FCGIREC_DATA, 3, LIT("skipped"), 1);
	fcgirec_write_record(&s, 0, 0, LIT("type 0"), 0);
	CHECK_INTEQ(fcgirec_read(r, s.data, s.len, &used, &ev), PH_OK);
	CHECK_INTEQ(used, s.len - 6);	/* the event comes with the header */
	CHECK_INTEQ(ev.type, FCGIREC_EV_UNKNOWN_TYPE);
	CHECK_INTEQ(ev.request_id, 0);
	CHECK_INTEQ(ev.record_type, 0);
	CHECK(ev.data == NULL && ev.len == 0 && ev.role == 0 && ev.values == 0);
	fcgirec_free(r);
	buf_free(&s);
}

static void
test_writer(void)
{
	struct buf out = BUF_INIT, shape = BUF_INIT, content = BUF_INIT;
	size_t n = 150000;
	char *big = malloc(n);

	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7);
	CHECK_INTEQ(fcgirec_write_stdout(&out, 1, big, n, 0), PH_OK);
	CHECK_INTEQ(fcgirec_write_stdout(&out, 1, big, 0, 1), PH_OK);	/* nothing */
	CHECK_INTEQ(fcgirec_write_stdout(&out, 1, big, 13, 1), PH_OK);
	CHECK_INTEQ(fcgirec_write_stderr(&out, 1, LIT("oops"), 0), PH_OK);
	CHECK_INTEQ(fcgirec_write_stdout_end(&out, 1), PH_OK);
	CHECK_INTEQ(fcgirec_write_end_request(&out, 1, 0x01020304, FCGIREC_UNKNOWN_ROLE),
	    PH_OK);
	walk(&out, &shape, &content);
	CHECK_STREQ(shape.data, "6 1 65535 0;6 1 65535 0;6 1 18930 0;6 1 13 3;7 1 4 0;6 1 0 0;"
	    "3 1 8 0;");
	CHECK(content.len == n + 13 + 4 + 8 && memcmp(content.data, big, n) == 0);
	CHECK_MEMEQ(content.data + n, (size_t)13, big, (size_t)13);
	CHECK_MEMEQ(content.data + n + 17, (size_t)8, "\x01\x02\x03\x04\x03\x00\x00\x00",
	    (size_t)8);
	/* A padded record ends on a multiple of 8 bytes; the padding is zeros. */
	buf_reset(&out);
	CHECK_INTEQ(fcgirec_write_stdout(&out, 0x1234, big, FCGIREC_MAX_CONTENT, 1), PH_OK);
	CHECK_INTEQ(out.len, 8 + FCGIREC_MAX_CONTENT + 1);
	CHECK_MEMEQ(out.data, (size_t)8, "\x01\x06\x12\x34\xff\xff\x01\x00", (size_t)8);
	CHECK_INTEQ(out.data[out.len - 1], 0);
	buf_free(&out);
	buf_free(&shape);
	buf_free(&content);
	free(big);
}

/* What the writer writes, the reader reads back the same, however the
 * params stream is cut into records, padded or not. */
static void
test_round_trip(void)
{
	struct buf pairs = BUF_INIT, s = BUF_INIT, want = BUF_INIT;
	struct transcript t;
	char body[3000];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)(i % 251);
	buf_puts(&want, "[body 0] begin 9 role 1 keep 1\n[body 0] params\n");
	for (int i = 0; i < 40; i++) {
		char name[32], value[300];
		int nl = snprintf(name, sizeof(name), "HTTP_HEADER_%d", i);
		size_t vl = (size_t)(i * 7 % 260);

		memset(value, 'a' + i % 26, vl);
		fcgirec_write_pair(&pairs, name, (size_t)nl, value, vl);
		buf_append(&want, name, (size_t)nl);
		buf_putc(&want, '=');
		buf_append(&want, value, vl);
		buf_putc(&want, '\n');
	}
	buf_puts(&want, "[body 3000] stdin end\n");
	for (size_t step = 1; step <= pairs.len; step = step * 3 + 1)
		for (int pad = 0; pad <= 1; pad++) {
			struct fcgirec_limits lim = { 0, sizeof(body) };

			buf_reset(&s);
			build_request(&s, 9, FCGIREC_KEEP_CONN, &pairs, step, body, sizeof(body), pad);
			run(s.data, s.len, &lim, &t);
			CHECK(!t.broken);
			CHECK_INTEQ(t.status, PH_OK);
			CHECK_MEMEQ(t.text.data, t.text.len, want.data, want.len);
			CHECK_MEMEQ(t.body.data, t.body.len, body, sizeof(body));
			transcript_free(&t);
		}
	/* A body of full-size records: 150000 bytes as 65535 + 65535 + 18930. */
	{
		size_t big = 150000, cuts[3] = { 8, 65540, 140000 };
		char *b = malloc(big);

		for (size_t i = 0; i < big; i++)
			b[i] = (char)(i * 13);
		buf_reset(&s);
		build_request(&s, 9, 0, &pairs, 1000, b, big, 0);
		run_cuts(s.data, s.len, cuts, 3, NULL, &t);
		CHECK(!t.broken);
		CHECK_INTEQ(t.status, PH_OK);
		CHECK_MEMEQ(t.body.data, t.body.len, b, big);
		transcript_free(&t);
		free(b);
	}
	/* And cut at every byte, once. */
	buf_reset(&s);
	build_request(&s, 9, FCGIREC_KEEP_CONN, &pairs, 97, body, 100, 1);
	check_every_cut(s.data, s.len, NULL, &t);
	CHECK_INTEQ(t.status, PH_OK);
	CHECK_MEMEQ(t.body.data, t.body.len, body, (size_t)100);
	transcript_free(&t);
	buf_free(&pairs);
	buf_free(&s);
	buf_free(&want);
}

/* Feed s[0..n) to r; body bytes to body, other events as letters to ev. */
static enum ph_err
feed_letters(struct fcgirec *r, const char *s, size_t n, struct buf *body, struct buf *ev)
{
	struct fcgirec_event e;
	enum ph_err st = PH_OK;
	size_t off = 0, used;

	while (off < n && st == PH_OK) {
		st = fcgirec_read(r, s + off, n - off, &used, &e);
		off += used;
		if (e.type == FCGIREC_EV_STDIN)
			buf_append(body, e.data, e.len);
		else if (e.type != FCGIREC_EV_NONE)
			buf_putc(ev, (char)('a' + e.type));
	}
	return st;
}

/* A reader saved at any byte after the params and resumed in a new one reads
 * on as if it had never stopped (what libfcgi and a restart in place hand on). */
static void
test_save_resume(void)
{
	struct buf s = BUF_INIT, pairs = BUF_INIT, body = BUF_INIT, ev = BUF_INIT;
	struct fcgirec_state st;
	struct fcgirec_limits lim = { 0, 64 };
	size_t params_end, bad = 0;

	fcgirec_write_pair(&pairs, LIT("REQUEST_METHOD"), LIT("GET"));
	fcgirec_write_begin_request(&s, 7, FCGIREC_RESPONDER, 0);
	fcgirec_write_record(&s, FCGIREC_PARAMS, 7, pairs.data, pairs.len, 0);
	fcgirec_write_empty(&s, FCGIREC_PARAMS, 7);
	params_end = s.len;
	fcgirec_write_record(&s, FCGIREC_STDIN, 7, LIT("hello"), 1);
	fcgirec_write_record(&s, FCGIREC_STDIN, 9, LIT("other"), 1);	/* skipped */
	fcgirec_write_record(&s, FCGIREC_STDIN, 7, LIT("world"), 1);
	fcgirec_write_empty(&s, FCGIREC_STDIN, 7);
	fcgirec_write_empty(&s, FCGIREC_ABORT_REQUEST, 7);
	for (size_t k = params_end; k <= s.len; k++) {
		struct fcgirec *a = fcgirec_new(&lim), *b = fcgirec_new(&lim);

		buf_reset(&body);
		buf_reset(&ev);
		if (feed_letters(a, s.data, k, &body, &ev) != PH_OK ||
		    fcgirec_save(a, &st) != PH_OK || fcgirec_resume(b, &st) != PH_OK ||
		    feed_letters(b, s.data + k, s.len - k, &body, &ev) != PH_OK ||
		    fcgirec_eof(b) != PH_OK || body.len != 10 ||
		    memcmp(body.data, "helloworld", 10) != 0 || ev.len < 2 ||
		    memcmp(ev.data + ev.len - 2, "ef", 2) != 0)	/* STDIN_END, ABORT */
			bad++;
		fcgirec_free(a);
		fcgirec_free(b);
	}
	CHECK_INTEQ(bad, 0);

	/* Nothing to save before the params; positions that cannot be are refused. */
	{
		struct fcgirec *r = fcgirec_new(NULL);

		CHECK_INTEQ(fcgirec_save(r, &st), PH_FCGI_BAD_SEQUENCE);
		memset(&st, 0, sizeof(st));
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_FCGI_BAD_RECORD);	/* id 0 */
		st.request_id = 1;
		st.content_left = 70000;
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_FCGI_BAD_RECORD);
		st.content_left = 3;
		st.hdr_len = 2;
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_FCGI_BAD_RECORD);
		st.hdr_len = 0;
		st.in_stdin = st.stdin_done = 1;
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_FCGI_BAD_RECORD);
		CHECK_INTEQ(fcgirec_busy(r), 0);
		fcgirec_free(r);
	}
	/* The body bound counts what came before the hand-over. */
	{
		struct fcgirec *r = fcgirec_new(&lim);
		struct buf more = BUF_INIT;

		memset(&st, 0, sizeof(st));
		st.request_id = 7;
		st.stdin_total = 65;
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_FCGI_STDIN_TOO_LARGE);
		st.stdin_total = 60;
		CHECK_INTEQ(fcgirec_resume(r, &st), PH_OK);
		fcgirec_write_record(&more, FCGIREC_STDIN, 7, LIT("12345"), 0);
		buf_reset(&body);
		CHECK_INTEQ(feed_letters(r, more.data, more.len, &body, &ev), PH_FCGI_STDIN_TOO_LARGE);
		CHECK_INTEQ(body.len, 0);
		buf_free(&more);
		fcgirec_free(r);
	}
	buf_free(&s);
	buf_free(&pairs);
	buf_free(&body);
	buf_free(&ev);
}

int
main(void)
{
	test_hand_written();
	test_long_lengths();
	test_abort();
	test_get_values();
	test_multiplexing_refused();
	test_caps();
	test_errors();
	test_end_mid_record();
	test_event_fields();
	test_writer();
	test_round_trip();
	test_save_resume();
	return unit_done();
}
