/*
 * fnv: FNV-1a, the string hash of the registries' buckets (waiters.c,
 * turns.c, heldstreams.c).
 */
#ifndef POLLHUB_FNV_H
#define POLLHUB_FNV_H

#include <stdint.h>

static inline uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
