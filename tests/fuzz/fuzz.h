/*
 * fuzz: what the libFuzzer harnesses share. REQUIRE states a property of the
 * code under test; a violation aborts, so libFuzzer saves the input.
 */
#ifndef POLLHUB_FUZZ_H
#define POLLHUB_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
