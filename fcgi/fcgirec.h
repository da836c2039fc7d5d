/*
 * fcgirec: the FastCGI record codec for the event loop (issue 11), pure bytes,
 * no I/O and no libfcgi. lighttpd and Apache never multiplex: one request per
 * connection at a time, so the reader knows one active request and refuses a
 * second one, as the FastCGI specification allows.
 *
 * Reader: feed it whatever a non-blocking read returned, split anywhere; each
 * call yields at most one event and says how many bytes it used. Its memory
 * is bounded: besides its fixed state (one record header, a BEGIN_REQUEST
 * body, decoder state: a few hundred bytes) it keeps only the decoded
 * params, at most params_max bytes (their allocation, grown geometrically,
 * under twice that), until the caller drops them. STDIN data is handed out
 * as a slice of the caller's input, never copied: the caller's input buffer
 * need only hold one read, and the caller decides how much body it keeps
 * (stdin_max refuses a larger body at the record header, before it arrives).
 *
 * Writer: appends whole records to a struct buf; on failure (out of memory)
 * the buffer is left as it was, so it never holds half a record.
 */
#ifndef POLLHUB_FCGIREC_H
#define POLLHUB_FCGIREC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pherr.h"

#define FCGIREC_HEADER_LEN	8
#define FCGIREC_MAX_CONTENT	65535	/* a record's content length is 16 bits */
#define FCGIREC_PARAMS_MAX_DEFAULT	65536

/* Record types (FastCGI 1.0, section 8). */
enum fcgirec_type {
	FCGIREC_BEGIN_REQUEST = 1,
	FCGIREC_ABORT_REQUEST = 2,
	FCGIREC_END_REQUEST = 3,
	FCGIREC_PARAMS = 4,
	FCGIREC_STDIN = 5,
	FCGIREC_STDOUT = 6,
	FCGIREC_STDERR = 7,
	FCGIREC_DATA = 8,
	FCGIREC_GET_VALUES = 9,
	FCGIREC_GET_VALUES_RESULT = 10,
	FCGIREC_UNKNOWN_TYPE = 11
};

/* Roles of a BEGIN_REQUEST; anything but a responder is answered with
 * FCGIREC_UNKNOWN_ROLE by the caller. */
enum { FCGIREC_RESPONDER = 1, FCGIREC_AUTHORIZER = 2, FCGIREC_FILTER = 3 };
#define FCGIREC_KEEP_CONN	1	/* BEGIN_REQUEST flag: the connection outlives the request */

/* END_REQUEST protocolStatus. */
enum fcgirec_protocol_status {
	FCGIREC_REQUEST_COMPLETE = 0,
	FCGIREC_CANT_MPX_CONN = 1,
	FCGIREC_OVERLOADED = 2,
	FCGIREC_UNKNOWN_ROLE = 3
};

/* Every function that can fail returns an enum ph_err (pherr.h): PH_OK,
 * one of the PH_FCGI_* (the peer sent garbage), PH_TRUNCATED or PH_NOMEM.
 * A reader error is final (the same status on every later call): the stream
 * can no longer be trusted to be in step, so the caller closes the
 * connection. */

/* One record header, decoded. */
struct fcgirec_header {
	unsigned	version;
	unsigned	type;
	uint16_t	request_id;
	uint16_t	content_len;
	unsigned	padding_len;
};

/* Decode the 8 bytes at p (no checks: the reader checks the version). */
void	fcgirec_header_decode(const void *p, struct fcgirec_header *);

/* ---- reader ---- */

struct fcgirec_limits {
	size_t	params_max;	/* bytes the decoded params may take: names, values and
				 * 10 bytes per pair (two lengths, two NULs); 0 = default */
	size_t	stdin_max;	/* body bytes of one request; 0 = no limit */
};

/* GET_VALUES names the reader recognises (bits of fcgirec_event.values). */
#define FCGIREC_VALUE_MAX_CONNS		1u
#define FCGIREC_VALUE_MAX_REQS		2u
#define FCGIREC_VALUE_MPXS_CONNS	4u

enum fcgirec_event_type {
	FCGIREC_EV_NONE = 0,	/* every byte given was used; read more */
	FCGIREC_EV_BEGIN,	/* request_id, role, keep_conn: the request is active */
	FCGIREC_EV_PARAMS,	/* the params are complete: fcgirec_param, fcgirec_param_next */
	FCGIREC_EV_STDIN,	/* data[0..len): body bytes, borrowed from the input given */
	FCGIREC_EV_STDIN_END,	/* the body is complete */
	FCGIREC_EV_ABORT,	/* the web server gave up on the active request (the client left) */
	/* Management and refusals: answer each with fcgirec_answer. */
	FCGIREC_EV_GET_VALUES,	/* values: which of the FCGIREC_VALUE_* were asked */
	FCGIREC_EV_UNKNOWN_TYPE,	/* a management record (id 0) of record_type we do not know */
	FCGIREC_EV_MPX_REFUSED	/* a BEGIN_REQUEST for request_id while another is active */
};

struct fcgirec_event {
	enum fcgirec_event_type	 type;
	uint16_t		 request_id;
	unsigned		 role;		/* EV_BEGIN */
	int			 keep_conn;	/* EV_BEGIN */
	unsigned		 record_type;	/* EV_UNKNOWN_TYPE */
	unsigned		 values;	/* EV_GET_VALUES */
	const char		*data;		/* EV_STDIN */
	size_t			 len;		/* EV_STDIN */
};

struct fcgirec;

/* A reader for one connection (limits copied; NULL = defaults). NULL when
 * out of memory. */
struct fcgirec	*fcgirec_new(const struct fcgirec_limits *);
void		 fcgirec_free(struct fcgirec *);

/* Read from data[0..len): fills ev (FCGIREC_EV_NONE when no event came of
 * it) and *used, the bytes consumed. Call again with data + *used until all
 * is used; an EV_STDIN's data points into data, valid as long as the caller
 * keeps those bytes. Bytes after an event are not looked at, so the caller
 * may act on the event (fcgirec_end, fcgirec_params_drop) before going on.
 * Records for a request id that is not active are skipped, as the
 * specification says. */
enum ph_err	fcgirec_read(struct fcgirec *, const void *data, size_t len,
			    size_t *used, struct fcgirec_event *ev);

/* The connection reached EOF: PH_OK between records, PH_TRUNCATED
 * inside one (or the reader's final error). */
enum ph_err	fcgirec_eof(const struct fcgirec *);

/* The caller ended the active request (it wrote END_REQUEST): its remaining
 * records are skipped, and a next BEGIN_REQUEST (a kept connection) starts a
 * new one. The params are dropped. */
void	fcgirec_end(struct fcgirec *);
/* 1 while a request is active (between EV_BEGIN and fcgirec_end). */
int	fcgirec_busy(const struct fcgirec *);

/* The value of the first param called name, NUL-terminated, with its length
 * in *len when len is not NULL (a value may hold NUL bytes: the length is
 * the truth). Borrowed until fcgirec_params_drop, fcgirec_end or the next
 * EV_BEGIN; NULL when absent or before EV_PARAMS. */
const char	*fcgirec_param(const struct fcgirec *, const char *name, size_t *len);

struct fcgirec_param {
	const char	*name;		/* NUL-terminated, borrowed like fcgirec_param's */
	size_t		 name_len;
	const char	*value;		/* NUL-terminated */
	size_t		 value_len;
};

/* Iterate the params in the order received: start with *pos = 0; returns 1
 * with p filled, 0 after the last (or before EV_PARAMS). */
int	fcgirec_param_next(const struct fcgirec *, size_t *pos, struct fcgirec_param *p);

/* Free the params (a held request keeps what it copied out, not 64 KiB).
 * Before EV_PARAMS: the rest are still checked but not kept, and EV_PARAMS
 * comes with none. */
void	fcgirec_params_drop(struct fcgirec *);

/* Bytes the reader holds besides its fixed state (the decoded params): at
 * most params_max. */
size_t	fcgirec_held(const struct fcgirec *);

/* Where a reader is inside its active request, to hand the connection on:
 * from libfcgi once a request is held (http_detach: libfcgi read the begin
 * and the params, and maybe some of the body), and across a restart in place
 * (the next image reads on where this one stopped). The params are never in
 * it: a held request copied what it needs. */
struct fcgirec_state {
	uint16_t	request_id;	/* the active request */
	int		stdin_done;	/* its empty STDIN record came */
	size_t		stdin_total;	/* body bytes announced so far (stdin_max counts them) */
	unsigned char	hdr[FCGIREC_HEADER_LEN];	/* a record header begun: */
	size_t		hdr_len;	/* its bytes so far (< 8); then nothing below */
	int		in_stdin;	/* content_left is the active request's STDIN data */
	size_t		content_left;	/* of the current record (skipped unless in_stdin) */
	size_t		padding_left;
};

/* Put a new reader inside request s->request_id, its params complete (none
 * kept), at the position s describes. PH_FCGI_BAD_RECORD when s cannot be a
 * position (a content longer than a record's, a begun header inside a
 * record, STDIN data after its end), PH_FCGI_STDIN_TOO_LARGE when its body
 * already passes stdin_max; the reader is then unchanged. */
enum ph_err	fcgirec_resume(struct fcgirec *, const struct fcgirec_state *);
/* The position of a reader whose request is active and past its params.
 * Inside a record that is not STDIN data (a GET_VALUES, a second
 * BEGIN_REQUEST: a few bytes a web server never splits in practice) its
 * content is skipped by the reader resumed from s, and that record goes
 * unanswered. PH_FCGI_BAD_SEQUENCE when no request is active or its params
 * are not complete; the reader's error when it has one. */
enum ph_err	fcgirec_save(const struct fcgirec *, struct fcgirec_state *s);

/* ---- writer ---- */

/* Append data[0..len) as records of type for request_id, at most
 * FCGIREC_MAX_CONTENT bytes each, padded to a multiple of 8 when pad is
 * set. len 0 appends nothing: an empty record ends a stream, see below. */
enum ph_err	fcgirec_write_record(struct buf *, unsigned type, uint16_t request_id,
			    const void *data, size_t len, int pad);
/* The same for FCGIREC_STDOUT and FCGIREC_STDERR. */
enum ph_err	fcgirec_write_stdout(struct buf *, uint16_t request_id, const void *data,
			    size_t len, int pad);
enum ph_err	fcgirec_write_stderr(struct buf *, uint16_t request_id, const void *data,
			    size_t len, int pad);
/* An empty record of type: the end of that stream (STDOUT, STDERR; PARAMS
 * and STDIN for a client). */
enum ph_err	fcgirec_write_empty(struct buf *, unsigned type, uint16_t request_id);
enum ph_err	fcgirec_write_stdout_end(struct buf *, uint16_t request_id);
enum ph_err	fcgirec_write_end_request(struct buf *, uint16_t request_id,
			    uint32_t app_status, enum fcgirec_protocol_status);
/* A BEGIN_REQUEST (what a web server sends: tests, and a client of our own). */
enum ph_err	fcgirec_write_begin_request(struct buf *, uint16_t request_id,
			    unsigned role, unsigned flags);
/* Append one name-value pair in the params encoding (lengths below 128 in
 * one byte, others in four), without a record header: PARAMS content is a
 * stream of these, cut into records anywhere. PH_FCGI_BAD_PARAMS when a
 * length passes 2^31 - 1. */
enum ph_err	fcgirec_write_pair(struct buf *, const char *name, size_t name_len,
			    const char *value, size_t value_len);

/* What the responder announces to GET_VALUES. Never multiplexing. */
struct fcgirec_values {
	unsigned	max_conns;
	unsigned	max_reqs;
};

/* Append the answer a management event or refusal calls for: a
 * GET_VALUES_RESULT with the asked values, an UNKNOWN_TYPE record, or an
 * END_REQUEST with FCGIREC_CANT_MPX_CONN. Appends nothing for other events. */
enum ph_err	fcgirec_answer(struct buf *, const struct fcgirec_event *,
			    const struct fcgirec_values *);

#endif
