#include "buf.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of large buffers freed since the last buf_trim that trimmed. */
static atomic_size_t freed_large;

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	if (b->cap > BUF_KEEP)
		atomic_fetch_add_explicit(&freed_large, b->cap, memory_order_relaxed);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_shrink(struct buf *b)
{
	if (b->cap > BUF_KEEP)
		buf_free(b);
	else
		buf_reset(b);
}

void
buf_setup_allocator(void)
{
	/* Setting either disables glibc's dynamic thresholds: large buffers
	 * come and go as their own mappings, and a heap's free top above
	 * BUF_MAPPED is given back whenever it grows past it. */
	(void)mallopt(M_MMAP_THRESHOLD, (int)BUF_MAPPED);
	(void)mallopt(M_TRIM_THRESHOLD, (int)BUF_MAPPED);
}

size_t
buf_trim(size_t threshold)
{
	size_t freed = atomic_load_explicit(&freed_large, memory_order_relaxed);

	if (freed < threshold)
		return 0;
	atomic_fetch_sub_explicit(&freed_large, freed, memory_order_relaxed);
	/* glibc keeps freed memory in its arenas (one per thread that
	 * allocated) for reuse; this gives their free pages back. */
	malloc_trim(0);
	return freed;
}
