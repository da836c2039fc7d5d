/* ph_strerror: the one text for each enum ph_err. */
#include <stddef.h>

#include "pherr.h"

static const char *const texts[PH_ERR__MAX] = {
	[PH_OK] = "success",
	[PH_INVALID] = "invalid data",
	[PH_TOO_LARGE] = "too large",
	[PH_FCGI_BAD_VERSION] = "not a FastCGI version 1 record",
	[PH_FCGI_BAD_RECORD] = "malformed record body",
	[PH_FCGI_BAD_TYPE] = "record type a responder is never sent",
	[PH_FCGI_BAD_SEQUENCE] = "request records out of order",
	[PH_FCGI_BAD_PARAMS] = "malformed name-value pair",
	[PH_FCGI_PARAMS_TOO_LARGE] = "params too large",
	[PH_FCGI_STDIN_TOO_LARGE] = "request body too large",
	[PH_LEFT] = "the peer left",
	[PH_TRUNCATED] = "connection ended inside a record",
	[PH_TIMEOUT] = "timed out",
	[PH_FULL] = "the peer is not reading",
	[PH_NOMEM] = "out of memory",
	[PH_SYSTEM] = "system call failed",
	[PH_DB] = "database failure",
	[PH_BUSY] = "busy: a bound passed while waiting",
	[PH_UNAUTHORIZED] = "not authenticated",
	[PH_FORBIDDEN] = "not allowed",
	[PH_NOT_FOUND] = "not found",
	[PH_TRANSPORT] = "another transport",
	[PH_SUPERSEDED] = "superseded by a newer poll",
	[PH_CLOSED] = "connection closed",
	[PH_LAST] = "the connection's last records",
	[PH_DELIVERED] = "records delivered",
	[PH_DRAIN] = "drain pending records",
	[PH_DRAINING] = "a batch is draining",
	[PH_UNKNOWN] = "unknown",
};

const char *
ph_strerror(enum ph_err e)
{
	if ((unsigned)e >= PH_ERR__MAX || texts[e] == NULL)
		return "unknown error";
	return texts[e];
}
