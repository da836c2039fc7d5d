#include "fcgirec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FCGIREC_VERSION	1

/* A name-value stream decoder (params, GET_VALUES): where it is in a pair.
 * It takes bytes as they come, so a pair may span records and reads. */
enum nv_state { NV_NAME_LEN, NV_VALUE_LEN, NV_NAME, NV_VALUE };

struct nv {
	enum nv_state	state;
	unsigned char	lenbuf[4];	/* a four-byte length being read */
	unsigned	lenpos;
	uint32_t	name_len;
	uint32_t	value_len;
	uint32_t	done;		/* bytes of the current name or value seen */
	char		name[16];	/* GET_VALUES: the name's first bytes */
	unsigned	asked;		/* GET_VALUES: FCGIREC_VALUE_* bits */
};

/* What the current record's content goes to. */
enum content { C_SKIP, C_BEGIN, C_PARAMS, C_STDIN, C_VALUES };

/* A stored pair: two lengths, then name, NUL, value, NUL. */
#define PAIR_OVERHEAD	(2 * sizeof(uint32_t) + 2)

struct fcgirec {
	struct fcgirec_limits	lim;
	enum ph_err	error;		/* final once set */

	/* The record being read. */
	unsigned char		hdr[FCGIREC_HEADER_LEN];
	size_t			hdr_len;	/* < 8: inside the header */
	struct fcgirec_header	h;
	enum content		content;
	size_t			content_left;
	size_t			padding_left;
	unsigned char		body[8];	/* BEGIN_REQUEST's */
	size_t			body_len;

	/* The active request. */
	int			active;
	uint16_t		active_id;
	int			params_done;	/* the empty PARAMS came */
	int			params_ready;	/* and the params are still held */
	int			params_keep;	/* not dropped: store what comes */
	int			stdin_done;
	size_t			stdin_total;
	struct nv		params_nv;
	struct buf		params;		/* stored pairs, at most params_max */

	struct nv		values_nv;	/* the GET_VALUES record being read */
};

static const char *const value_names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS" };

void
fcgirec_header_decode(const void *p, struct fcgirec_header *h)
{
	const unsigned char *b = p;

	h->version = b[0];
	h->type = b[1];
	h->request_id = (uint16_t)(b[2] << 8 | b[3]);
	h->content_len = (uint16_t)(b[4] << 8 | b[5]);
	h->padding_len = b[6];
}

/* ---- the name-value decoder ---- */

static void
nv_reset(struct nv *nv)
{
	memset(nv, 0, sizeof(*nv));
}

static int
nv_at_boundary(const struct nv *nv)
{
	return nv->state == NV_NAME_LEN && nv->lenpos == 0;
}

/* Take one length byte; 1 when the length is complete in *len. */
static int
nv_length_byte(struct nv *nv, unsigned char c, uint32_t *len)
{
	if (nv->lenpos == 0 && (c & 0x80) == 0) {
		*len = c;
		return 1;
	}
	nv->lenbuf[nv->lenpos++] = c;
	if (nv->lenpos < 4)
		return 0;
	*len = (uint32_t)(nv->lenbuf[0] & 0x7f) << 24 | (uint32_t)nv->lenbuf[1] << 16 |
	    (uint32_t)nv->lenbuf[2] << 8 | nv->lenbuf[3];
	nv->lenpos = 0;
	return 1;
}

/* Both lengths known: check the cap before anything is stored, so a pair
 * that claims 2 GiB costs nothing but its eight length bytes. */
static enum ph_err
nv_store_lengths(const struct fcgirec *r, struct nv *nv, struct buf *store)
{
	unsigned char lens[2 * sizeof(uint32_t)];
	size_t max = r->lim.params_max;

	if (PAIR_OVERHEAD > max - store->len ||
	    nv->name_len > max - store->len - PAIR_OVERHEAD ||
	    nv->value_len > max - store->len - PAIR_OVERHEAD - nv->name_len)
		return PH_FCGI_PARAMS_TOO_LARGE;
	memcpy(lens, &nv->name_len, sizeof(uint32_t));
	memcpy(lens + sizeof(uint32_t), &nv->value_len, sizeof(uint32_t));
	return buf_append(store, lens, sizeof(lens)) == 0 ? PH_OK : PH_NOMEM;
}

/* GET_VALUES: remember which of our names a finished pair asked for. */
static void
nv_match(struct nv *nv)
{
	for (unsigned i = 0; i < sizeof(value_names) / sizeof(value_names[0]); i++)
		if (nv->name_len == strlen(value_names[i]) &&
		    memcmp(nv->name, value_names[i], nv->name_len) == 0)
			nv->asked |= 1u << i;
}

/* Decode p[0..n) into store (params), or, with store NULL, only note the
 * GET_VALUES names asked (values are skipped, nothing is kept). */
static enum ph_err
nv_feed(const struct fcgirec *r, struct nv *nv, struct buf *store, const unsigned char *p,
    size_t n)
{
	enum ph_err st;
	size_t i = 0, k;

	for (;;) {
		switch (nv->state) {
		case NV_NAME_LEN:
		case NV_VALUE_LEN:
			if (i == n)
				return PH_OK;
			if (nv->state == NV_NAME_LEN) {
				if (nv_length_byte(nv, p[i++], &nv->name_len))
					nv->state = NV_VALUE_LEN;
				break;
			}
			if (!nv_length_byte(nv, p[i++], &nv->value_len))
				break;
			if (store != NULL && (st = nv_store_lengths(r, nv, store)) != PH_OK)
				return st;
			nv->state = NV_NAME;
			nv->done = 0;
			break;
		case NV_NAME:
		case NV_VALUE:
			/* A field of length 0 completes here without input. */
			k = (nv->state == NV_NAME ? nv->name_len : nv->value_len) - nv->done;
			if (k > n - i)
				k = n - i;
			if (store != NULL && buf_append(store, p + i, k) == -1)
				return PH_NOMEM;
			if (store == NULL && nv->state == NV_NAME && nv->done < sizeof(nv->name))
				memcpy(nv->name + nv->done, p + i,
				    k < sizeof(nv->name) - nv->done ? k : sizeof(nv->name) - nv->done);
			nv->done += (uint32_t)k;
			i += k;
			if (nv->done < (nv->state == NV_NAME ? nv->name_len : nv->value_len))
				return PH_OK;
			if (store != NULL && buf_putc(store, '\0') == -1)
				return PH_NOMEM;
			if (nv->state == NV_VALUE && store == NULL)
				nv_match(nv);
			nv->state = nv->state == NV_NAME ? NV_VALUE : NV_NAME_LEN;
			nv->done = 0;
			break;
		}
	}
}

/* ---- the reader ---- */

struct fcgirec *
fcgirec_new(const struct fcgirec_limits *lim)
{
	struct fcgirec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (lim != NULL)
		r->lim = *lim;
	if (r->lim.params_max == 0)
		r->lim.params_max = FCGIREC_PARAMS_MAX_DEFAULT;
	return r;
}

void
fcgirec_free(struct fcgirec *r)
{
	if (r == NULL)
		return;
	buf_free(&r->params);
	free(r);
}

static void
request_start(struct fcgirec *r, uint16_t id)
{
	r->active = 1;
	r->active_id = id;
	r->params_done = r->params_ready = r->stdin_done = 0;
	r->params_keep = 1;
	r->stdin_total = 0;
	nv_reset(&r->params_nv);
	buf_free(&r->params);
}

/* A header is complete: decide what its content is for. Events that need
 * nothing from the content (ABORT, the ends of streams) come at once. */
static enum ph_err
record_begin(struct fcgirec *r, struct fcgirec_event *ev)
{
	struct fcgirec_header *h = &r->h;

	fcgirec_header_decode(r->hdr, h);
	r->content = C_SKIP;
	r->content_left = h->content_len;
	r->padding_left = h->padding_len;
	if (h->version != FCGIREC_VERSION)
		return PH_FCGI_BAD_VERSION;
	if (h->request_id == 0) {
		if (h->type != FCGIREC_GET_VALUES) {
			ev->type = FCGIREC_EV_UNKNOWN_TYPE;
			ev->record_type = h->type;
			return PH_OK;
		}
		nv_reset(&r->values_nv);
		r->content = C_VALUES;
		if (h->content_len == 0)
			ev->type = FCGIREC_EV_GET_VALUES;
		return PH_OK;
	}
	if (h->type == FCGIREC_BEGIN_REQUEST) {
		if (h->content_len != sizeof(r->body))
			return PH_FCGI_BAD_RECORD;
		r->content = C_BEGIN;
		r->body_len = 0;
		return PH_OK;
	}
	/* The specification: records of a request that is not active are ignored. */
	if (!r->active || h->request_id != r->active_id)
		return PH_OK;
	switch (h->type) {
	case FCGIREC_ABORT_REQUEST:
		ev->type = FCGIREC_EV_ABORT;
		ev->request_id = h->request_id;
		return PH_OK;
	case FCGIREC_PARAMS:
		if (r->params_done)
			return PH_FCGI_BAD_SEQUENCE;
		if (h->content_len > 0) {
			r->content = C_PARAMS;
			return PH_OK;
		}
		if (!nv_at_boundary(&r->params_nv))
			return PH_FCGI_BAD_PARAMS;
		r->params_done = 1;
		r->params_ready = r->params_keep;
		ev->type = FCGIREC_EV_PARAMS;
		ev->request_id = h->request_id;
		return PH_OK;
	case FCGIREC_STDIN:
		if (!r->params_done || r->stdin_done)
			return PH_FCGI_BAD_SEQUENCE;
		if (h->content_len == 0) {
			r->stdin_done = 1;
			ev->type = FCGIREC_EV_STDIN_END;
			ev->request_id = h->request_id;
			return PH_OK;
		}
		/* Refused at the header, before the caller has kept any of it. */
		if (r->lim.stdin_max != 0 && h->content_len > r->lim.stdin_max - r->stdin_total)
			return PH_FCGI_STDIN_TOO_LARGE;
		r->stdin_total += h->content_len;
		r->content = C_STDIN;
		return PH_OK;
	case FCGIREC_DATA:
		/* A filter's second stream: a responder has nothing to read there. */
		return PH_OK;
	default:
		return PH_FCGI_BAD_TYPE;
	}
}

static enum ph_err
record_content(struct fcgirec *r, const unsigned char *p, size_t n, struct fcgirec_event *ev)
{
	switch (r->content) {
	case C_BEGIN:
		/* content_len is 8: never more than the body holds. */
		memcpy(r->body + r->body_len, p, n);
		r->body_len += n;
		return PH_OK;
	case C_PARAMS:
		/* Dropped before they were complete: still checked, no longer kept. */
		return nv_feed(r, &r->params_nv, r->params_keep ? &r->params : NULL, p, n);
	case C_VALUES:
		return nv_feed(r, &r->values_nv, NULL, p, n);
	case C_STDIN:
		ev->type = FCGIREC_EV_STDIN;
		ev->request_id = r->active_id;
		ev->data = (const char *)p;
		ev->len = n;
		return PH_OK;
	case C_SKIP:
		break;
	}
	return PH_OK;
}

static enum ph_err
record_content_end(struct fcgirec *r, struct fcgirec_event *ev)
{
	uint16_t id = r->h.request_id;

	if (r->content == C_VALUES) {
		if (!nv_at_boundary(&r->values_nv))
			return PH_FCGI_BAD_RECORD;
		ev->type = FCGIREC_EV_GET_VALUES;
		ev->values = r->values_nv.asked;
		return PH_OK;
	}
	if (r->content != C_BEGIN)
		return PH_OK;
	ev->request_id = id;
	if (r->active) {
		/* The same id again cannot be answered without ending the active one. */
		if (id == r->active_id)
			return PH_FCGI_BAD_SEQUENCE;
		ev->type = FCGIREC_EV_MPX_REFUSED;
		return PH_OK;
	}
	request_start(r, id);
	ev->type = FCGIREC_EV_BEGIN;
	ev->role = (unsigned)r->body[0] << 8 | r->body[1];
	ev->keep_conn = (r->body[2] & FCGIREC_KEEP_CONN) != 0;
	return PH_OK;
}

enum ph_err
fcgirec_read(struct fcgirec *r, const void *data, size_t len, size_t *used,
    struct fcgirec_event *ev)
{
	const unsigned char *p = data;
	enum ph_err st = PH_OK;
	size_t off = 0, n;

	memset(ev, 0, sizeof(*ev));
	*used = 0;
	if (r->error != PH_OK)
		return r->error;
	while (off < len && ev->type == FCGIREC_EV_NONE && st == PH_OK) {
		if (r->hdr_len < FCGIREC_HEADER_LEN) {
			n = FCGIREC_HEADER_LEN - r->hdr_len;
			n = n < len - off ? n : len - off;
			memcpy(r->hdr + r->hdr_len, p + off, n);
			r->hdr_len += n;
			off += n;
			if (r->hdr_len == FCGIREC_HEADER_LEN)
				st = record_begin(r, ev);
		} else if (r->content_left > 0) {
			n = r->content_left < len - off ? r->content_left : len - off;
			st = record_content(r, p + off, n, ev);
			r->content_left -= n;
			off += n;
			if (st == PH_OK && r->content_left == 0)
				st = record_content_end(r, ev);
		} else {
			n = r->padding_left < len - off ? r->padding_left : len - off;
			r->padding_left -= n;
			off += n;
		}
		if (r->hdr_len == FCGIREC_HEADER_LEN && r->content_left == 0 && r->padding_left == 0)
			r->hdr_len = 0;
	}
	*used = off;
	if (st != PH_OK) {
		r->error = st;
		buf_free(&r->params);
		r->params_ready = 0;
		memset(ev, 0, sizeof(*ev));
	}
	return st;
}

enum ph_err
fcgirec_eof(const struct fcgirec *r)
{
	if (r->error != PH_OK)
		return r->error;
	return r->hdr_len == 0 ? PH_OK : PH_TRUNCATED;
}

void
fcgirec_end(struct fcgirec *r)
{
	r->active = 0;
	/* The rest of a record in progress is the ended request's. */
	if (r->content == C_PARAMS || r->content == C_STDIN)
		r->content = C_SKIP;
	fcgirec_params_drop(r);
}

int
fcgirec_busy(const struct fcgirec *r)
{
	return r->active;
}

int
fcgirec_param_next(const struct fcgirec *r, size_t *pos, struct fcgirec_param *p)
{
	uint32_t nlen, vlen;

	if (!r->params_ready || *pos >= r->params.len)
		return 0;
	memcpy(&nlen, r->params.data + *pos, sizeof(nlen));
	memcpy(&vlen, r->params.data + *pos + sizeof(nlen), sizeof(vlen));
	p->name = r->params.data + *pos + 2 * sizeof(uint32_t);
	p->name_len = nlen;
	p->value = p->name + nlen + 1;
	p->value_len = vlen;
	*pos += PAIR_OVERHEAD + nlen + vlen;
	return 1;
}

const char *
fcgirec_param(const struct fcgirec *r, const char *name, size_t *len)
{
	struct fcgirec_param p;
	size_t pos = 0, n = strlen(name);

	while (fcgirec_param_next(r, &pos, &p))
		if (p.name_len == n && memcmp(p.name, name, n) == 0) {
			if (len != NULL)
				*len = p.value_len;
			return p.value;
		}
	return NULL;
}

void
fcgirec_params_drop(struct fcgirec *r)
{
	buf_free(&r->params);
	r->params_ready = r->params_keep = 0;
}

size_t
fcgirec_held(const struct fcgirec *r)
{
	return r->params.len;
}

enum ph_err
fcgirec_resume(struct fcgirec *r, const struct fcgirec_state *s)
{
	int in_record = s->content_left > 0 || s->padding_left > 0;

	if (s->request_id == 0 || s->hdr_len >= FCGIREC_HEADER_LEN ||
	    (s->hdr_len > 0 && in_record) || s->content_left > FCGIREC_MAX_CONTENT ||
	    s->padding_left > 255 || (s->in_stdin && (s->stdin_done || s->content_left == 0)))
		return PH_FCGI_BAD_RECORD;
	if (r->lim.stdin_max != 0 && s->stdin_total > r->lim.stdin_max)
		return PH_FCGI_STDIN_TOO_LARGE;
	request_start(r, s->request_id);
	r->params_done = 1;
	r->params_keep = 0;
	r->stdin_done = s->stdin_done;
	r->stdin_total = s->stdin_total;
	memcpy(r->hdr, s->hdr, s->hdr_len);
	r->hdr_len = s->hdr_len;
	if (in_record) {
		memset(&r->h, 0, sizeof(r->h));
		r->h.version = FCGIREC_VERSION;
		r->h.request_id = s->request_id;
		r->h.type = s->in_stdin ? FCGIREC_STDIN : FCGIREC_DATA;
		r->hdr_len = FCGIREC_HEADER_LEN;
		r->content = s->in_stdin ? C_STDIN : C_SKIP;
		r->content_left = s->content_left;
		r->padding_left = s->padding_left;
	}
	return PH_OK;
}

enum ph_err
fcgirec_save(const struct fcgirec *r, struct fcgirec_state *s)
{
	memset(s, 0, sizeof(*s));
	if (r->error != PH_OK)
		return r->error;
	if (!r->active || !r->params_done)
		return PH_FCGI_BAD_SEQUENCE;
	s->request_id = r->active_id;
	s->stdin_done = r->stdin_done;
	s->stdin_total = r->stdin_total;
	if (r->hdr_len < FCGIREC_HEADER_LEN) {
		memcpy(s->hdr, r->hdr, r->hdr_len);
		s->hdr_len = r->hdr_len;
		return PH_OK;
	}
	s->in_stdin = r->content == C_STDIN && r->content_left > 0;
	s->content_left = r->content_left;
	s->padding_left = r->padding_left;
	return PH_OK;
}

/* ---- the writer ---- */

/* Put out back to len bytes: a failed write leaves no half record. */
static enum ph_err
undo(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
	return PH_NOMEM;
}

static int
append_record(struct buf *out, unsigned type, uint16_t id, const void *p, size_t n, int pad)
{
	static const unsigned char zeros[8];
	size_t padding = pad ? (8 - n % 8) % 8 : 0;
	unsigned char h[FCGIREC_HEADER_LEN] = {
		FCGIREC_VERSION, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
		(unsigned char)(n >> 8), (unsigned char)n, (unsigned char)padding, 0
	};

	if (buf_append(out, h, sizeof(h)) == -1 || buf_append(out, p, n) == -1)
		return -1;
	return buf_append(out, zeros, padding);
}

enum ph_err
fcgirec_write_record(struct buf *out, unsigned type, uint16_t request_id, const void *data,
    size_t len, int pad)
{
	const char *p = data;
	size_t start = out->len, n;

	while (len > 0) {
		n = len < FCGIREC_MAX_CONTENT ? len : FCGIREC_MAX_CONTENT;
		if (append_record(out, type, request_id, p, n, pad) == -1)
			return undo(out, start);
		p += n;
		len -= n;
	}
	return PH_OK;
}

enum ph_err
fcgirec_write_stdout(struct buf *out, uint16_t request_id, const void *data, size_t len,
    int pad)
{
	return fcgirec_write_record(out, FCGIREC_STDOUT, request_id, data, len, pad);
}

enum ph_err
fcgirec_write_stderr(struct buf *out, uint16_t request_id, const void *data, size_t len,
    int pad)
{
	return fcgirec_write_record(out, FCGIREC_STDERR, request_id, data, len, pad);
}

enum ph_err
fcgirec_write_empty(struct buf *out, unsigned type, uint16_t request_id)
{
	size_t start = out->len;

	if (append_record(out, type, request_id, NULL, 0, 0) == -1)
		return undo(out, start);
	return PH_OK;
}

enum ph_err
fcgirec_write_stdout_end(struct buf *out, uint16_t request_id)
{
	return fcgirec_write_empty(out, FCGIREC_STDOUT, request_id);
}

enum ph_err
fcgirec_write_end_request(struct buf *out, uint16_t request_id, uint32_t app_status,
    enum fcgirec_protocol_status protocol_status)
{
	unsigned char body[8] = {
		(unsigned char)(app_status >> 24), (unsigned char)(app_status >> 16),
		(unsigned char)(app_status >> 8), (unsigned char)app_status,
		(unsigned char)protocol_status, 0, 0, 0
	};

	return fcgirec_write_record(out, FCGIREC_END_REQUEST, request_id, body, sizeof(body), 0);
}

enum ph_err
fcgirec_write_begin_request(struct buf *out, uint16_t request_id, unsigned role,
    unsigned flags)
{
	unsigned char body[8] = {
		(unsigned char)(role >> 8), (unsigned char)role, (unsigned char)flags, 0, 0, 0, 0, 0
	};

	return fcgirec_write_record(out, FCGIREC_BEGIN_REQUEST, request_id, body, sizeof(body),
	    0);
}

static int
append_length(struct buf *out, size_t len)
{
	unsigned char b[4] = {
		(unsigned char)(len >> 24 | 0x80), (unsigned char)(len >> 16),
		(unsigned char)(len >> 8), (unsigned char)len
	};

	if (len < 0x80)
		return buf_putc(out, (char)len);
	return buf_append(out, b, sizeof(b));
}

enum ph_err
fcgirec_write_pair(struct buf *out, const char *name, size_t name_len, const char *value,
    size_t value_len)
{
	size_t start = out->len;

	if (name_len > 0x7fffffff || value_len > 0x7fffffff)
		return PH_FCGI_BAD_PARAMS;
	if (append_length(out, name_len) == -1 || append_length(out, value_len) == -1 ||
	    buf_append(out, name, name_len) == -1 || buf_append(out, value, value_len) == -1)
		return undo(out, start);
	return PH_OK;
}

/* GET_VALUES_RESULT: the asked names with our values, in one record (three
 * short pairs never near 65535 bytes). */
static enum ph_err
answer_values(struct buf *out, unsigned asked, const struct fcgirec_values *values)
{
	struct buf content = BUF_INIT;
	enum ph_err st = PH_OK;
	unsigned v[3] = { values ? values->max_conns : 1, values ? values->max_reqs : 1, 0 };
	char text[16];

	for (unsigned i = 0; i < 3 && st == PH_OK; i++) {
		if (!(asked & 1u << i))
			continue;
		snprintf(text, sizeof(text), "%u", v[i]);
		st = fcgirec_write_pair(&content, value_names[i], strlen(value_names[i]), text,
		    strlen(text));
	}
	if (st == PH_OK)
		st = content.len > 0 ?
		    fcgirec_write_record(out, FCGIREC_GET_VALUES_RESULT, 0, content.data,
		    content.len, 0) : fcgirec_write_empty(out, FCGIREC_GET_VALUES_RESULT, 0);
	buf_free(&content);
	return st;
}

enum ph_err
fcgirec_answer(struct buf *out, const struct fcgirec_event *ev,
    const struct fcgirec_values *values)
{
	unsigned char body[8] = { (unsigned char)ev->record_type, 0, 0, 0, 0, 0, 0, 0 };

	switch (ev->type) {
	case FCGIREC_EV_GET_VALUES:
		return answer_values(out, ev->values, values);
	case FCGIREC_EV_UNKNOWN_TYPE:
		return fcgirec_write_record(out, FCGIREC_UNKNOWN_TYPE, 0, body, sizeof(body), 0);
	case FCGIREC_EV_MPX_REFUSED:
		return fcgirec_write_end_request(out, ev->request_id, 0, FCGIREC_CANT_MPX_CONN);
	default:
		return PH_OK;
	}
}
