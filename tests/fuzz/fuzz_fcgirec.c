/*
 * Fuzz the FastCGI record codec. The input is seven control bytes and a
 * stream from a web server: byte 0 picks params_max (0: the default, else
 * n * 8), byte 1 stdin_max (0: none, else n * 4), byte 2 flags (1: a writer
 * run past 65535 bytes, 2: drop the params once read, 4: pad what is written,
 * 8: drop them before they come),
 * bytes 3-6 the sizes of the pieces the stream is cut into (n + 1 bytes each,
 * in turn), as a non-blocking read would return them.
 *
 * Properties: the stream read whole and read in pieces gives the same
 * events, body, answers and final status; the reader never reads outside
 * the piece it is given, uses every byte unless it fails, and never holds
 * more than params_max; every answer is well-formed records; the first
 * request, written again with the writer (its params cut into records of
 * the same sizes), reads back identically; STDOUT written (split at 65535,
 * padded or not) walks back to the same bytes.
 */
#include <string.h>

#include "fcgirec.h"
#include "fuzz.h"

#define CONTROL	7

struct setup {
	struct fcgirec_limits	lim;
	unsigned		flags;
	const uint8_t		*sizes;	/* 4 */
};

/* What one reading produced, and the first request, to write again. */
struct transcript {
	struct buf		events;
	struct buf		body;
	struct buf		answers;
	enum ph_err	status;
	int			requests;
	struct fcgirec_event	first;		/* its EV_BEGIN */
	int			first_params;	/* its params came */
	struct buf		first_pairs;	/* encoded again with fcgirec_write_pair */
	struct buf		first_body;
};

static void
transcript_free(struct transcript *t)
{
	buf_free(&t->events);
	buf_free(&t->body);
	buf_free(&t->answers);
	buf_free(&t->first_pairs);
	buf_free(&t->first_body);
}

static void
put(struct buf *b, const void *p, size_t n)
{
	REQUIRE(buf_append(b, p, n) == 0);
}

static void
put_u(struct buf *b, size_t v)
{
	put(b, &v, sizeof(v));
}

/* The params, checked: NUL-terminated, found by name (the first of that
 * name), and adding up to what the reader says it holds. */
static void
record_params(struct fcgirec *r, struct transcript *t)
{
	struct fcgirec_param p, q;
	size_t pos = 0, total = 0, len;

	while (fcgirec_param_next(r, &pos, &p)) {
		const char *v = NULL;
		size_t qpos = 0;

		REQUIRE(p.name[p.name_len] == '\0' && p.value[p.value_len] == '\0');
		total += 10 + p.name_len + p.value_len;
		put_u(&t->events, p.name_len);
		put(&t->events, p.name, p.name_len);
		put_u(&t->events, p.value_len);
		put(&t->events, p.value, p.value_len);
		if (t->requests == 1)
			REQUIRE(fcgirec_write_pair(&t->first_pairs, p.name, p.name_len, p.value,
			    p.value_len) == PH_OK);
		/* A name holding a NUL is not found by its C string: skip those. */
		if (memchr(p.name, '\0', p.name_len) != NULL)
			continue;
		while (fcgirec_param_next(r, &qpos, &q))
			if (q.name_len == p.name_len && memcmp(q.name, p.name, p.name_len) == 0) {
				v = q.value;
				break;
			}
		REQUIRE(fcgirec_param(r, p.name, &len) == v && v != NULL);
	}
	REQUIRE(total == fcgirec_held(r));
}

static void
on_event(struct fcgirec *r, const struct fcgirec_event *ev, const struct setup *su,
    struct transcript *t)
{
	static const struct fcgirec_values values = { 1000, 1000 };

	if (ev->type == FCGIREC_EV_NONE)
		return;
	if (ev->type == FCGIREC_EV_STDIN) {
		REQUIRE(ev->len > 0 && fcgirec_busy(r));
		put(&t->body, ev->data, ev->len);
		if (t->requests == 1)
			put(&t->first_body, ev->data, ev->len);
		return;
	}
	put_u(&t->events, ev->type);
	put_u(&t->events, t->body.len);
	put_u(&t->events, ev->request_id);
	switch (ev->type) {
	case FCGIREC_EV_BEGIN:
		REQUIRE(ev->request_id != 0 && fcgirec_busy(r));
		REQUIRE(fcgirec_held(r) == 0 && fcgirec_param(r, "", NULL) == NULL);
		put_u(&t->events, ev->role);
		put_u(&t->events, (size_t)ev->keep_conn);
		if (++t->requests == 1)
			t->first = *ev;
		if (su->flags & 8)
			fcgirec_params_drop(r);
		break;
	case FCGIREC_EV_PARAMS:
		REQUIRE(!(su->flags & 8) || fcgirec_held(r) == 0);
		record_params(r, t);
		t->first_params |= t->requests == 1;
		if (su->flags & 2) {
			fcgirec_params_drop(r);
			REQUIRE(fcgirec_held(r) == 0);
		}
		break;
	case FCGIREC_EV_STDIN_END:
	case FCGIREC_EV_ABORT:
		/* The responder ends the request (as it would after its answer). */
		fcgirec_end(r);
		REQUIRE(!fcgirec_busy(r) && fcgirec_held(r) == 0);
		break;
	case FCGIREC_EV_GET_VALUES:
		REQUIRE(ev->values < 8 && ev->request_id == 0);
		put_u(&t->events, ev->values);
		break;
	case FCGIREC_EV_UNKNOWN_TYPE:
		REQUIRE(ev->record_type != FCGIREC_GET_VALUES && ev->record_type < 256);
		put_u(&t->events, ev->record_type);
		break;
	case FCGIREC_EV_MPX_REFUSED:
		REQUIRE(ev->request_id != 0 && fcgirec_busy(r));
		break;
	default:
		REQUIRE(!"unknown event");
	}
	REQUIRE(fcgirec_answer(&t->answers, ev, &values) == PH_OK);
}

/* Read s[0..n) in pieces (whole when pieces is 0), each in a buffer of its
 * own exact size, so ASan sees any read past a piece. */
static void
read_stream(const uint8_t *s, size_t n, const struct setup *su, int pieces,
    struct transcript *t)
{
	struct fcgirec *r = fcgirec_new(&su->lim);
	size_t max = su->lim.params_max ? su->lim.params_max : FCGIREC_PARAMS_MAX_DEFAULT;
	size_t from = 0;

	REQUIRE(r != NULL);
	memset(t, 0, sizeof(*t));
	for (unsigned k = 0; from < n && t->status == PH_OK; k++) {
		size_t len = pieces ? su->sizes[k % 4] + 1u : n, off = 0, used;
		struct fcgirec_event ev;
		char *piece;

		len = len < n - from ? len : n - from;
		REQUIRE((piece = malloc(len)) != NULL);
		memcpy(piece, s + from, len);
		while (off < len && t->status == PH_OK) {
			t->status = fcgirec_read(r, piece + off, len - off, &used, &ev);
			REQUIRE(used <= len - off);
			if (t->status != PH_OK) {
				REQUIRE(ev.type == FCGIREC_EV_NONE);
				break;
			}
			REQUIRE(ev.type != FCGIREC_EV_NONE || used == len - off);
			REQUIRE(ev.type != FCGIREC_EV_STDIN ||
			    (ev.data >= piece + off && ev.data + ev.len <= piece + off + used));
			off += used;
			on_event(r, &ev, su, t);
			REQUIRE(fcgirec_held(r) <= max);
		}
		free(piece);
		from += len;
	}
	if (t->status == PH_OK)
		t->status = fcgirec_eof(r);
	else
		REQUIRE(fcgirec_eof(r) == t->status);
	fcgirec_free(r);
}

static int
same_buf(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Walk complete records: each well-formed, padded to 8 when asked; the
 * contents of type concatenated into content (NULL: any type allowed). */
static void
walk(const struct buf *s, unsigned type, int padded, struct buf *content)
{
	struct fcgirec_header h;
	size_t off = 0;

	while (off < s->len) {
		REQUIRE(s->len - off >= FCGIREC_HEADER_LEN);
		fcgirec_header_decode(s->data + off, &h);
		REQUIRE(h.version == 1);
		REQUIRE(s->len - off - FCGIREC_HEADER_LEN >= (size_t)h.content_len + h.padding_len);
		REQUIRE(!padded || (h.content_len + h.padding_len) % 8 == 0);
		REQUIRE(padded || h.padding_len == 0);
		if (content == NULL)
			REQUIRE(h.type == FCGIREC_GET_VALUES_RESULT || h.type == FCGIREC_UNKNOWN_TYPE ||
			    (h.type == FCGIREC_END_REQUEST && h.content_len == 8 &&
			    s->data[off + 12] == FCGIREC_CANT_MPX_CONN));
		else if (h.type == type)
			put(content, s->data + off + FCGIREC_HEADER_LEN, h.content_len);
		off += FCGIREC_HEADER_LEN + h.content_len + h.padding_len;
	}
}

/* Write data as records of type cut at the pieces' sizes. */
static void
write_cut(struct buf *out, unsigned type, uint16_t id, const struct buf *data,
    const struct setup *su)
{
	for (size_t i = 0, k = 0; i < data->len; k++) {
		size_t n = su->sizes[k % 4] + 1u;

		n = n < data->len - i ? n : data->len - i;
		REQUIRE(fcgirec_write_record(out, type, id, data->data + i, n, su->flags & 4) ==
		    PH_OK);
		i += n;
	}
	REQUIRE(fcgirec_write_empty(out, type, id) == PH_OK);
}

/* The first request again, through the writer and the reader. */
static void
round_trip(const struct transcript *a, const struct setup *su)
{
	const struct fcgirec_event *b = &a->first;
	struct buf s = BUF_INIT;
	struct transcript t;

	REQUIRE(fcgirec_write_begin_request(&s, b->request_id, b->role,
	    b->keep_conn ? FCGIREC_KEEP_CONN : 0) == PH_OK);
	write_cut(&s, FCGIREC_PARAMS, b->request_id, &a->first_pairs, su);
	write_cut(&s, FCGIREC_STDIN, b->request_id, &a->first_body, su);
	read_stream((const uint8_t *)s.data, s.len, su, 1, &t);
	REQUIRE(t.status == PH_OK);
	REQUIRE(t.requests == 1 && t.first_params);
	REQUIRE(t.first.request_id == b->request_id && t.first.role == b->role &&
	    t.first.keep_conn == b->keep_conn);
	REQUIRE(same_buf(&t.first_pairs, &a->first_pairs));
	REQUIRE(same_buf(&t.first_body, &a->first_body));
	REQUIRE(t.answers.len == 0);
	transcript_free(&t);
	buf_free(&s);
}

/* STDOUT written and walked back: the same bytes, records of at most
 * 65535, then the END_REQUEST as given. */
static void
check_writer(const uint8_t *s, size_t n, const struct setup *su)
{
	struct buf in = BUF_INIT, out = BUF_INIT, content = BUF_INIT, end = BUF_INIT;
	int pad = (su->flags & 4) != 0;
	uint32_t app = n > 0 ? s[0] * 0x01010101u : 0;

	if ((su->flags & 1) && n > 0)
		while (in.len < FCGIREC_MAX_CONTENT - 200 + su->sizes[0] * 2u)
			put(&in, s, n);
	else
		put(&in, s, n);
	REQUIRE(fcgirec_write_stdout(&out, 1, in.data, in.len, pad) == PH_OK);
	REQUIRE(fcgirec_write_stdout_end(&out, 1) == PH_OK);
	REQUIRE(fcgirec_write_end_request(&out, 1, app, FCGIREC_REQUEST_COMPLETE) ==
	    PH_OK);
	walk(&out, FCGIREC_STDOUT, pad, &content);
	REQUIRE(same_buf(&content, &in));
	walk(&out, FCGIREC_END_REQUEST, pad, &end);
	REQUIRE(end.len == 8);
	REQUIRE(((uint32_t)(unsigned char)end.data[0] << 24 |
	    (uint32_t)(unsigned char)end.data[1] << 16 | (uint32_t)(unsigned char)end.data[2] << 8 |
	    (unsigned char)end.data[3]) == app);
	buf_free(&in);
	buf_free(&out);
	buf_free(&content);
	buf_free(&end);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcript whole, cut;
	struct setup su;

	if (size < CONTROL)
		return 0;
	su.lim.params_max = data[0] * (size_t)8;
	su.lim.stdin_max = data[1] * (size_t)4;
	su.flags = data[2];
	su.sizes = data + 3;
	data += CONTROL;
	size -= CONTROL;

	read_stream(data, size, &su, 0, &whole);
	read_stream(data, size, &su, 1, &cut);
	REQUIRE(whole.status == cut.status);
	REQUIRE(same_buf(&whole.events, &cut.events));
	REQUIRE(same_buf(&whole.body, &cut.body));
	REQUIRE(same_buf(&whole.answers, &cut.answers));
	walk(&whole.answers, 0, 0, NULL);
	if (whole.first_params)
		round_trip(&whole, &su);
	check_writer(data, size, &su);
	transcript_free(&whole);
	transcript_free(&cut);
	return 0;
}
