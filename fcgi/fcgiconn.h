/*
 * fcgiconn: one held FastCGI connection, as the event loop keeps it: the
 * descriptor (non-blocking), the reader of every record the web server
 * sends (an fcgirec reader, resumed where libfcgi or a previous image
 * stopped), and the records queued for it, written as the socket takes them.
 * It knows nothing of epoll nor of what is held on it: the loop registers the
 * descriptor and acts on what a read or a write reports.
 *
 * A held request is sent little: what is left of its body (read and
 * discarded up to 64 KiB), management records (answered), a second request
 * (refused FCGI_CANT_MPX_CONN), an abort, EOF. A protocol error or a passed
 * bound breaks the connection, logged; "what" in the log lines is the held
 * request's kind ("poll", "stream", ...).
 */
#ifndef POLLHUB_FCGICONN_H
#define POLLHUB_FCGICONN_H

#include <stddef.h>

#include "buf.h"
#include "fcgirec.h"
#include "hold.h"
#include "http.h"
#include "pherr.h"

struct fcgiconn {
	struct http_held	 held;		/* fd -1: closed */
	struct buf		 out;		/* records not yet written ... */
	size_t			 out_off;	/* ... from here */
	struct fcgirec		*rd;		/* fcgiconn_open's */
	long long		 wrote_at;	/* ms: the web server last took bytes (or had none waiting) */
};

/* What the management answers may take. */
struct fcgiconn_limits {
	struct fcgirec_values	 values;	/* FCGI_GET_VALUES answers */
	size_t			 max_buffered;	/* POLLHUB_MAX_BUFFERED */
};

/* What the records read call for (bits). */
#define FCGICONN_ABORT		1u	/* the web server aborted the request */
#define FCGICONN_ANSWERED	2u	/* management answers queued in out */
#define FCGICONN_BROKEN		4u	/* the connection is of no more use (EOF included) */

/* The bytes a previous image queued and did not write go out first (held.carry,
 * freed here), and a reader is made from where the records stand (held.rd).
 * Anything but PH_OK (logged): the connection cannot be used. */
enum ph_err	fcgiconn_open(struct fcgiconn *, const char *what);
/* Read what libfcgi read ahead of the handler (held.ahead, freed here). */
unsigned	fcgiconn_read_ahead(struct fcgiconn *, const struct fcgiconn_limits *,
		    const char *what);
/* Read what the socket has (a few reads at most: level-triggered, the rest
 * comes next time), so that one web server sending fast never keeps the
 * loop from the others. */
unsigned	fcgiconn_read(struct fcgiconn *, const struct fcgiconn_limits *, const char *what);
/* Act on p[0..n) as records read from the connection. */
unsigned	fcgiconn_feed(struct fcgiconn *, const char *p, size_t n,
		    const struct fcgiconn_limits *, const char *what);

/* Queue bytes for the client as STDOUT records (and, end: the end of the
 * stream and END_REQUEST). PH_NOMEM. */
enum ph_err	fcgiconn_queue(struct fcgiconn *, const struct buf *data, int end);
/* Drop what was written from the front of out, before appending: a client
 * that reads slowly but never catches up fully does not grow it for ever. */
void		fcgiconn_compact(struct fcgiconn *);
/* Write what is queued, as far as the socket takes it: PH_OK (what is left,
 * fcgiconn_unflushed, waits for the socket to be writable), or PH_LEFT: a
 * write failed, the web server is gone (close it). */
enum ph_err	fcgiconn_flush(struct fcgiconn *);
/* Bytes queued and not written. */
size_t		fcgiconn_unflushed(const struct fcgiconn *);

/* The connection's part of a parked request's line: descriptor, request,
 * CORS (its index in origins, NULL-terminated), where the records stand, and
 * what is not written yet (borrowed: item->carry points into out). PH_LEFT
 * when closed; PH_FCGI_BAD_SEQUENCE when its records are out of step. */
enum ph_err	fcgiconn_park(const struct fcgiconn *, char *const *origins,
		    struct handoff_item *);

/* Close the descriptor (taken out of any epoll set first) and drop what was
 * queued. */
void		fcgiconn_close(struct fcgiconn *);
/* Free what it owns besides the descriptor. */
void		fcgiconn_free(struct fcgiconn *);

#endif
