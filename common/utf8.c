#include "utf8.h"

#include <stdio.h>
#include <string.h>

size_t
utf8_char_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xBF;	/* bounds of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] == 0 || (n = utf8_char_len(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

int
utf8_prefix(const char *s, int max)
{
	size_t len = strlen(s);
	size_t i;

	if (max < 0)
		return 0;
	if (len <= (size_t)max)
		return (int)len;
	/* Back up over continuation bytes to the start of the cut character. */
	i = (size_t)max;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return (int)i;
}

size_t
utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	size_t n = utf8_char_len(s, len);

	switch (n) {
	case 1:
		*cp = s[0];
		break;
	case 2:
		*cp = (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		break;
	case 3:
		*cp = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		break;
	case 4:
		*cp = (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12 |
		    (unsigned)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		break;
	}
	return n;
}

int
utf8_is_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

size_t
utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, count = 0;

	while (i < len) {
		if ((n = utf8_char_len(p + i, len - i)) == 0)
			return (size_t)-1;
		i += n;
		count++;
	}
	return count;
}

size_t
utf8_escape(char *out, size_t max, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n, k;
	char piece[8];
	unsigned cp;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0) {
			/* Not part of a well-formed character: the byte alone. */
			cp = p[i];
			n = 1;
			k = (size_t)snprintf(piece, sizeof(piece), "\\x%c%c", hex[cp >> 4], hex[cp & 15]);
		} else if (cp == '\\') {
			k = (size_t)snprintf(piece, sizeof(piece), "\\\\");
		} else if (cp < 0x20 || cp == 0x7f) {
			k = (size_t)snprintf(piece, sizeof(piece), "\\x%c%c", hex[cp >> 4], hex[cp & 15]);
		} else if (utf8_is_control(cp)) {
			k = (size_t)snprintf(piece, sizeof(piece), "\\u%04x", cp);
		} else {
			memcpy(piece, p + i, n);
			k = n;
		}
		if (o + k > max)
			break;
		memcpy(out + o, piece, k);
		o += k;
		i += n;
	}
	if (i < len)
		o += (size_t)snprintf(out + o, UTF8_ESCAPE_MARK, "\xe2\x80\xa6(%zu bytes)", len);
	out[o] = '\0';
	return o;
}

int
utf8_name_valid(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, count = 0;
	unsigned cp;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0 || utf8_is_control(cp) ||
		    ++count > max)
			return 0;
		i += n;
	}
	return count >= 1;
}
