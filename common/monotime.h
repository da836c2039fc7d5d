#ifndef POLLHUB_MONOTIME_H
#define POLLHUB_MONOTIME_H

/* CLOCK_MONOTONIC in milliseconds: the one clock every deadline and timer
 * of the process is kept on (never the wall clock, which may jump). */
long long	monotime_ms(void);

#endif
