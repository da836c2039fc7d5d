#include "query.h"

#include <string.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into out (capacity cap incl. NUL). -1 on bad input or overflow. */
static int
decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\0')
			return -1;	/* a raw NUL would cut the value short */
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -1;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
query_get(const char *qs, size_t len, const char *key, char *out, size_t outlen)
{
	char name[128];
	size_t i = 0;

	if (outlen == 0)
		return -1;
	while (i < len) {
		size_t start = i, eq, end;
		const char *amp = memchr(qs + i, '&', len - i);

		end = amp ? (size_t)(amp - qs) : len;
		for (eq = start; eq < end && qs[eq] != '='; eq++)
			;
		if (decode(qs + start, eq - start, name, sizeof(name)) == 0 &&
		    strcmp(name, key) == 0) {
			if (eq >= end) {
				out[0] = '\0';
				return 1;
			}
			return decode(qs + eq + 1, end - eq - 1, out, outlen) == 0 ? 1 : -1;
		}
		i = end + 1;
	}
	return 0;
}
