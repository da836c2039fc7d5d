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
/* 1 if s[0..len) is a name (a group's, a user's): 1..max characters of
 * well-formed UTF-8, none a control (utf8_is_control). */
int	utf8_name_valid(const char *s, size_t len, size_t max);

/* The code point of the well-formed character at s[0..len) in *cp and its
 * length, or 0 (as utf8_char_len) when s starts with an ill-formed sequence. */
size_t	utf8_decode(const unsigned char *s, size_t len, unsigned *cp);

/* 1 if cp is a control or an invisible layout character that must not be
 * shown as it is nor be part of a name: C0 (U+0000-U+001F), DEL, C1
 * (U+0080-U+009F), the line and paragraph separators U+2028/U+2029 and the
 * bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069), which can reorder what a terminal or a page shows. */
int	utf8_is_control(unsigned cp);

/* Number of characters of the well-formed UTF-8 text s[0..len) (what
 * PostgreSQL's length() counts); (size_t)-1 when ill-formed. */
size_t	utf8_count(const char *s, size_t len);

/*
 * Untrusted text made safe to show in a log line or store as text: well-formed
 * printable characters are kept; a backslash becomes "\\"; C0 controls and
 * DEL become "\xNN"; the other characters of utf8_is_control "\uNNNN"; every
 * byte that is not part of a well-formed character (invalid UTF-8: Latin-1,
 * a truncated sequence, an encoded surrogate) "\xNN". The result is valid
 * UTF-8 without controls, one line, and reads back unambiguously.
 *
 * At most max bytes of escaped text are written (never half a character or
 * half an escape); when s[0..len) does not fit, the marker "…(N bytes)" (N:
 * len) follows. out must hold max + UTF8_ESCAPE_MARK bytes; it is always
 * NUL-terminated. Returns strlen(out).
 */
#define UTF8_ESCAPE_MARK 32
size_t	utf8_escape(char *out, size_t max, const char *s, size_t len);

#endif
