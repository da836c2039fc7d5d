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

/* The one shrink rule: an emptied buffer keeps at most this much storage. */
#define BUF_KEEP 4096

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
/* Empty the buffer, giving its storage back when it is larger than BUF_KEEP:
 * a buffer that once took a large batch does not keep it for life. Use it
 * wherever a long-lived buffer (a held request's, a waiter's) is done with
 * what it holds. */
void	buf_shrink(struct buf *b);
/* At start-up, before threads: a buffer of BUF_MAPPED bytes or more is
 * mapped on its own and unmapped when freed (glibc's threshold would
 * otherwise rise with the largest freed buffer, and keep those in the heap). */
#define BUF_MAPPED (256u << 10)
void	buf_setup_allocator(void);
/* Return freed memory to the system (malloc_trim) when buffers of more than
 * BUF_KEEP bytes, threshold bytes in all, were freed since the last call that
 * did; returns those bytes (0: it did not trim). For one thread that calls it
 * now and then. */
size_t	buf_trim(size_t threshold);

#endif
