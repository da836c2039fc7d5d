/* monotime_ms: see monotime.h. */
#include <time.h>

#include "monotime.h"

long long
monotime_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
