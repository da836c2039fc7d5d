#include "fcgiconn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"

#define READ_CHUNK	4096	/* a held request is sent little: an abort, a management record */
/* Body bytes a held request may still send (SignalR's polls and streams are
 * GETs without one): read and discarded so that no worker waits on a slow
 * body; past this the connection is closed, logged. */
#define HELD_BODY_MAX	65536
#define READS_PER_ROUND	16

static const struct fcgirec_limits held_limits = { 0, HELD_BODY_MAX };

enum ph_err
fcgiconn_open(struct fcgiconn *c, const char *what)
{
	struct http_held *held = &c->held;
	enum ph_err st = PH_NOMEM;

	if ((held->carry_len == 0 || buf_append(&c->out, held->carry, held->carry_len) == 0) &&
	    (c->rd = fcgirec_new(&held_limits)) != NULL)
		st = fcgirec_resume(c->rd, &held->rd);
	if (st != PH_OK)
		log_warn("loop: a held %s's connection cannot be read: %s", what, ph_strerror(st));
	free(held->carry);
	held->carry = NULL;
	held->carry_len = 0;
	return st;
}

unsigned
fcgiconn_feed(struct fcgiconn *c, const char *p, size_t n, const struct fcgiconn_limits *lim,
    const char *what)
{
	struct fcgirec_event ev;
	enum ph_err st;
	unsigned got = 0;
	size_t used;

	while (n > 0) {
		if ((st = fcgirec_read(c->rd, p, n, &used, &ev)) != PH_OK) {
			log_warn("loop: a held %s's FastCGI connection is closed: %s%s", what,
			    ph_strerror(st), st == PH_FCGI_STDIN_TOO_LARGE ?
			    " (a held request's body is read and discarded up to 65536 bytes)" : "");
			return got | FCGICONN_BROKEN;
		}
		p += used;
		n -= used;
		switch (ev.type) {
		case FCGIREC_EV_ABORT:
			got |= FCGICONN_ABORT;
			break;
		case FCGIREC_EV_GET_VALUES:
		case FCGIREC_EV_UNKNOWN_TYPE:
		case FCGIREC_EV_MPX_REFUSED:
			/* A web server that asks without reading the answers is not
			 * given memory without a bound. */
			if (fcgiconn_unflushed(c) > lim->max_buffered + HELD_BODY_MAX) {
				log_warn("loop: a held %s's web server sends management records and"
				    " does not read the answers; its connection is closed", what);
				return got | FCGICONN_BROKEN;
			}
			if (fcgirec_answer(&c->out, &ev, &lim->values) != PH_OK) {
				log_error("loop: out of memory; a client's connection is cut");
				return got | FCGICONN_BROKEN;
			}
			got |= FCGICONN_ANSWERED;
			break;
		default:
			break;	/* the body's bytes and its end: nothing to keep */
		}
	}
	return got;
}

unsigned
fcgiconn_read_ahead(struct fcgiconn *c, const struct fcgiconn_limits *lim, const char *what)
{
	struct http_held *held = &c->held;
	unsigned got = held->ahead_len > 0 ? fcgiconn_feed(c, held->ahead, held->ahead_len, lim,
	    what) : 0;

	free(held->ahead);
	held->ahead = NULL;
	held->ahead_len = 0;
	return got;
}

unsigned
fcgiconn_read(struct fcgiconn *c, const struct fcgiconn_limits *lim, const char *what)
{
	char chunk[READ_CHUNK];
	unsigned got = 0;

	for (int reads = 0; reads < READS_PER_ROUND && !(got & FCGICONN_BROKEN); reads++) {
		ssize_t n = read(c->held.fd, chunk, sizeof(chunk));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			got |= FCGICONN_BROKEN;	/* EOF or an error: gone */
		else
			got |= fcgiconn_feed(c, chunk, (size_t)n, lim, what);
	}
	return got;
}

enum ph_err
fcgiconn_queue(struct fcgiconn *c, const struct buf *data, int end)
{
	uint16_t id = (uint16_t)c->held.request_id;
	enum ph_err st = PH_OK;

	if (data->len > 0)
		st = fcgirec_write_stdout(&c->out, id, data->data, data->len, 0);
	if (st == PH_OK && end && (st = fcgirec_write_stdout_end(&c->out, id)) == PH_OK)
		st = fcgirec_write_end_request(&c->out, id, 0, FCGIREC_REQUEST_COMPLETE);
	return st;
}

void
fcgiconn_compact(struct fcgiconn *c)
{
	if (c->out_off > 0) {
		buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	if (c->out.len == 0)
		c->wrote_at = monotime_ms();	/* nothing waited: the client is not behind */
}

enum ph_err
fcgiconn_flush(struct fcgiconn *c)
{
	enum ph_err st = PH_OK;

	while (c->held.fd >= 0 && c->out_off < c->out.len) {
		ssize_t n = write(c->held.fd, c->out.data + c->out_off, c->out.len - c->out_off);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->wrote_at = monotime_ms();
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return PH_OK;
		st = PH_LEFT;
		break;
	}
	if (c->out_off >= c->out.len) {
		buf_shrink(&c->out);
		c->out_off = 0;
	}
	return st;
}

size_t
fcgiconn_unflushed(const struct fcgiconn *c)
{
	return c->out.len - c->out_off;
}

enum ph_err
fcgiconn_park(const struct fcgiconn *c, char *const *origins, struct handoff_item *item)
{
	const struct http_held *held = &c->held;

	item->fd = held->fd;
	item->request_id = held->request_id;
	item->keep = held->keep;
	item->vary_origin = held->vary_origin;
	item->cors_index = -1;
	for (int i = 0; held->cors_origin != NULL && origins != NULL && origins[i] != NULL; i++)
		if (origins[i] == held->cors_origin)
			item->cors_index = i;
	if (c->out_off < c->out.len) {
		item->carry = c->out.data + c->out_off;
		item->carry_len = c->out.len - c->out_off;
	}
	if (held->fd < 0)
		return PH_LEFT;
	if (c->rd == NULL || fcgirec_save(c->rd, &item->rd) != PH_OK)
		return PH_FCGI_BAD_SEQUENCE;
	return PH_OK;
}

void
fcgiconn_close(struct fcgiconn *c)
{
	if (c->held.fd < 0)
		return;
	close(c->held.fd);
	c->held.fd = -1;
	buf_free(&c->out);
	c->out_off = 0;
}

void
fcgiconn_free(struct fcgiconn *c)
{
	buf_free(&c->out);
	fcgirec_free(c->rd);
	c->rd = NULL;
	http_held_free(&c->held);
}
