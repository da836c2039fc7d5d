/*
 * query: lookup in an application/x-www-form-urlencoded query string.
 */
#ifndef POLLHUB_QUERY_H
#define POLLHUB_QUERY_H

#include <stddef.h>

/* Find the first parameter named key (case-sensitive, compared after
 * decoding) in qs[0..len) and decode its value (%XX and '+') into out.
 * Returns 1 when found, 0 when absent, -1 when the value does not fit in
 * outlen - 1 bytes, is badly encoded, or decodes to a NUL byte. */
int	query_get(const char *qs, size_t len, const char *key, char *out, size_t outlen);

#endif
