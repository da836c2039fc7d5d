/*
 * isoparse: the two value syntaxes of the hub's wire that SQL would read too
 * loosely, checked strictly and written in one canonical form: an ISO 8601
 * date-time with a zone, as JavaScript's toISOString() writes it (PostgreSQL
 * would take "tomorrow" or a time without a zone), and a UUID.
 */
#ifndef POLLHUB_ISOPARSE_H
#define POLLHUB_ISOPARSE_H

#include <stddef.h>

/* Parse an ISO 8601 date-time with a zone ("Z" or +hh:mm) into the canonical
 * UTC form "YYYY-MM-DDTHH:MM:SS.ffffffZ" (out needs 28 bytes) and
 * microseconds since 1970 for comparisons. Returns 0, or -1 when s is not
 * such a date. */
int	isoparse_datetime(const char *s, size_t n, char out[28], long long *usec);
/* Canonicalise a UUID (any case, with hyphens) into out[37]; -1 if not one. */
int	isoparse_uuid(const char *s, size_t n, char out[37]);

#endif
