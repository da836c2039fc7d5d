/*
 * utf8: strict UTF-8 (RFC 3629) checks for untrusted text. json-c accepts
 * overlong forms, surrogates and code points above U+10FFFF; ASP.NET's
 * reader does not, and neither do we.
 */
#ifndef POLLHUB_UTF8_H
#define POLLHUB_UTF8_H

#include <stddef.h>

/* Length of the well-formed character at s[0..len), or 0 if s starts with an
 * ill-formed or truncated sequence (len must be > 0). */
size_t	utf8_char_len(const unsigned char *s, size_t len);

/* 1 if s[0..len) is well-formed UTF-8 and holds no NUL, else 0. */
int	utf8_valid(const char *s, size_t len);

/* The longest prefix of the NUL-terminated s that is at most max bytes and
 * ends on a character boundary, for "%.*s". */
int	utf8_prefix(const char *s, int max);

#endif
