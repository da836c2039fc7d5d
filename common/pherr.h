#ifndef POLLHUB_PHERR_H
#define POLLHUB_PHERR_H

/*
 * The one way every module says how a call went (as kcgi's enum kcgi_err):
 * a function that can fail returns an enum ph_err, and ph_strerror names any
 * value for a log line. The values are grouped as kcgi separates them: the
 * peer sent garbage, the peer left or was slow, we (or the database) failed;
 * then the outcomes that are not failures but that a caller must tell apart.
 * A value that is also an HTTP status is mapped to it in one place,
 * http_status_of (fcgi/http.h).
 */
enum ph_err {
	PH_OK = 0,

	/* The peer sent garbage. */
	PH_INVALID,		/* refused data: a malformed request, or the database
				 * refused it (a constraint) */
	PH_TOO_LARGE,		/* more than the bound allows */
	PH_FCGI_BAD_VERSION,	/* FastCGI: a header's version is not 1 */
	PH_FCGI_BAD_RECORD,	/* FastCGI: a body that does not fit its type */
	PH_FCGI_BAD_TYPE,	/* FastCGI: a record a responder is never sent */
	PH_FCGI_BAD_SEQUENCE,	/* FastCGI: the active request's records out of order */
	PH_FCGI_BAD_PARAMS,	/* FastCGI: params end inside a pair (or too long to write) */
	PH_FCGI_PARAMS_TOO_LARGE,	/* FastCGI: the decoded params pass their bound */
	PH_FCGI_STDIN_TOO_LARGE,	/* FastCGI: the body passes its bound */

	/* The peer left, or did not keep up. */
	PH_LEFT,		/* the client closed or went away (a read or write failed) */
	PH_TRUNCATED,		/* the connection ended inside a record or a body */
	PH_TIMEOUT,		/* the deadline passed (a body not sent in time, a wait) */
	PH_FULL,		/* more is queued for the client than it may have */

	/* We failed. */
	PH_NOMEM,		/* out of memory */
	PH_SYSTEM,		/* a system call failed (errno says why; logged) */
	PH_DB,			/* the database connection was lost, or an unexpected
				 * failure; logged */
	PH_BUSY,		/* a bound passed while waiting for a lock, a statement or a
				 * pool connection: try again later; logged */

	/* Outcomes that are not failures. */
	PH_UNAUTHORIZED,	/* no identity, or one that did not verify (a bad token) */
	PH_FORBIDDEN,		/* an identity without the grant the request needs */
	PH_NOT_FOUND,		/* no such connection (or one of the other protocol), or meeting */
	PH_TRANSPORT,		/* the connection uses another transport */
	PH_SUPERSEDED,		/* a newer poll of the connection took over */
	PH_CLOSED,		/* the connection was closing and is removed */
	PH_LAST,		/* the connection is closing: these are its last records */
	PH_DELIVERED,		/* a batch drained for the waiter: records delivered */
	PH_DRAIN,		/* something may be pending: drain it yourself */
	PH_DRAINING,		/* a batch is draining for the waiter right now */
	PH_UNKNOWN,		/* the kernel could not say (a client's TCP state) */

	PH_ERR__MAX
};

/* A static, human-readable text for any value (unknown values included). */
const char	*ph_strerror(enum ph_err);

#endif
