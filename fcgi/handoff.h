/*
 * handoff: restart in place without a client noticing. On SIGHUP the responder
 * stops accepting (new requests wait in the listening socket's backlog),
 * answers its held polls, parks its server-sent events streams with their
 * FastCGI connections still open, and re-executes its binary under the same
 * pid, keeping the listening socket and the parked streams' descriptors. The
 * new image resumes every stream: it drains what became pending meanwhile from
 * the database and goes on writing FastCGI records on the same connection, so
 * the web server and the browser see one unbroken response.
 *
 * What crosses the exec: POLLHUB_LISTEN_FD (the listening socket, when the
 * responder opened it itself) and POLLHUB_HANDOFF_FD (a memfd, one line per
 * stream), set in the environment execve is given (the process's own is never
 * changed once threads run). Both are read and removed from the environment
 * at start-up, before any thread starts. Every other descriptor is
 * close-on-exec; the new image closes, with a warning, any other it finds.
 *
 * When the exec fails, this image goes on: the event loop takes its parked
 * streams back and serves them on.
 */
#ifndef POLLHUB_HANDOFF_H
#define POLLHUB_HANDOFF_H

#include <stddef.h>

#include "fcgirec.h"
#include "corestore.h"
#include "tcpdiag.h"

struct app;
struct handoff;

/* NULL when out of memory. */
struct handoff	*handoff_new(void);

/* What the next image needs to go on with a held request. */
enum handoff_kind {
	HANDOFF_STREAM = 'S',
	HANDOFF_POLL = 'P',
	HANDOFF_ANSWER = 'A'	/* an ended request's answer, not all written: write it, close */
};
struct handoff_item {
	enum handoff_kind	 kind;
	int			 fd;		/* the FastCGI connection */
	int			 request_id;
	int			 keep;		/* the web server asked to keep the connection */
	int			 cors_index;	/* in POLLHUB_ALLOWED_ORIGINS, or -1: no CORS headers */
	int			 vary_origin;
	long long		 left_ms;	/* a poll: what is left of its timeout */
	char			 token[64];
	struct poll_info	 pi;
	struct tcpdiag_conn	 peer;		/* a poll's client connection (family 0: unknown) */
	struct fcgirec_state	 rd;		/* where the connection's records stand */
	const char		*carry;		/* records queued and not written (a forced */
	size_t			 carry_len;	/* handoff): copied by handoff_park_item */
};
/* Record a held request for the next image (the event loop, once everything
 * queued for it is written). 0, or -1 (no memory): the caller ends it. */
int	handoff_park_item(struct handoff *, const struct handoff_item *);
/* Requests of that kind parked so far. */
size_t	handoff_parked(struct handoff *, enum handoff_kind);
/* The exec failed: forget the parked requests (the loop takes them back;
 * it calls this on its own thread). */
void	handoff_unpark(struct handoff *);

/* Re-execute exe with argv, passing listen_fd (-1: none to pass) and the
 * parked streams. Every other descriptor above 2 is closed by the exec.
 * Returns only on failure: -1 with a message in err; the environment and
 * descriptors are then as before (all close-on-exec) and the streams still
 * parked (see handoff_unpark). */
int	handoff_exec(struct handoff *, const char *exe, char *const argv[], int listen_fd,
	    char *err, size_t errlen);

/* First thing at start-up, while the process has one thread: take what a
 * previous image passed from the environment (and close what it leaked);
 * mark every inherited descriptor above 2 close-on-exec. */
void	handoff_take_env(void);
/* The listening socket a previous image passed, or -1. */
int	handoff_listen_fd(void);
/* At start-up, once the event loop runs: give it the streams and polls a
 * previous image parked. Returns how many streams were resumed (*polls: polls). */
int	handoff_resume(struct app *, int *polls);

#endif
