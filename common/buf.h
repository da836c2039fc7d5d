/*
 * buf: the one byte buffer for network input and output.
 * Bytes carry an explicit length; the buffer keeps a NUL after the last byte
 * for convenience only (never rely on it for binary data).
 */
#ifndef POLLHUB_BUF_H
#define POLLHUB_BUF_H

#include <stddef.h>

struct buf {
	char   *data;	/* owned; NULL until the first append */
	size_t  len;
	size_t  cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Append n bytes. Returns 0, or -1 on allocation failure (buffer unchanged). */
int	buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
int	buf_puts(struct buf *b, const char *s);
/* Append one byte. */
int	buf_putc(struct buf *b, char c);
/* Drop the first n bytes (n <= len). */
void	buf_consume(struct buf *b, size_t n);
void	buf_reset(struct buf *b);
/* Free the storage; the buffer is left empty and reusable. */
void	buf_free(struct buf *b);

#endif
