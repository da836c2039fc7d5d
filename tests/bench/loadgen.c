/*
 * loadgen: load generator for pollhub (ASP.NET Core SignalR, JSON hub protocol, over long
 * polling and server-sent events) and, for comparison, for nchan (long-poll and EventSource
 * subscribers, HTTP publishers).
 *
 * One process, one thread: epoll over non-blocking sockets, HTTP/1.1 keep-alive to one
 * host:port, one request at a time per TCP connection (no pipelining). Each client has a
 * receiving connection (polls or the event stream) and a sending connection (negotiate,
 * POSTs, DELETE), as a browser has.
 *
 * A run goes through phases: setup (clients connect, at most --connect-concurrency at once),
 * idle (--idle seconds, for outside measurements; --ready-file is written when it starts),
 * publish (--messages spaced by --interval, or back-to-back for --duration seconds), drain
 * (until every expected delivery and completion arrived, at most --settle seconds), cleanup
 * (DELETE of every pollhub connection). A global deadline (--timeout) ends the run wherever
 * it is; what was measured is still printed.
 *
 * Latency: the sender puts its CLOCK_MONOTONIC time in the message ("t <ns>", the meeting's
 * Title for pollhub, the body for nchan); every receiver subtracts it from its own clock.
 * Everything runs in this one process, so the clocks are the same clock.
 *
 * See tests/bench/README.md for the options and what is printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RS '\x1e'
#define MAX_HEAD (64 * 1024)		/* response head larger than this: protocol error */
#define MAX_BODY (16 * 1024 * 1024)	/* buffered response body */
#define MAX_SSE_LINE (1024 * 1024)
#define MAX_LOGGED_ERRORS 25
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* ---------------------------------------------------------------- clock, buffers */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(3);
	}
	return q;
}

/* Bytes with a length and a read offset; always NUL-terminated for convenience, never
 * parsed as a C string when the bytes came from the network. */
struct buf {
	char	*data;
	size_t	 len, off, cap;
};

static void
buf_reserve(struct buf *b, size_t extra)
{
	size_t cap;

	if (b->len + extra + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

static void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
buf_reset(struct buf *b)
{
	b->len = b->off = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Drops the consumed prefix [0, off). */
static void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
	b->data[b->len] = '\0';
}

static void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Durations in nanoseconds; percentiles by nearest rank. */
struct samples {
	int64_t	*v;
	size_t	 n, cap;
};

static void
samples_add(struct samples *s, int64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = x;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile in ms of sorted v[0..n), NAN when empty. */
static double
pct_ms(const int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return NAN;
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / (double)NS_PER_MS;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of the non-NaN values of v (reordered); NAN when there are none. */
static double
median_d(double *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[k++] = v[i];
	if (k == 0)
		return NAN;
	qsort(v, k, sizeof(*v), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* ---------------------------------------------------------------- run context */

enum target { TARGET_POLLHUB, TARGET_NCHAN };
/* MIXED is an option only: each client then is LP or SSE (client_transport()). */
enum transport { TRANSPORT_LP, TRANSPORT_SSE, TRANSPORT_MIXED };

enum err {
	E_CONNECT, E_IO, E_HTTP, E_PROTOCOL, E_NEGOTIATE, E_HANDSHAKE, E_CLOSED,
	E_COMPLETION, E_SETUP_TIMEOUT, E_INVOKE_TIMEOUT, E_MISSING, E_DUPLICATE,
	E_UNKNOWN_PUSH, E_PUBLISH, E_CLEANUP, E_DEADLINE, E_REQUEST_TIMEOUT, E_COUNT
};

static const char *const err_names[E_COUNT] = {
	"connect", "io", "http_status", "protocol", "negotiate", "handshake",
	"closed_by_server", "completion_error", "setup_timeout", "invocation_timeout",
	"missing_delivery", "duplicate_delivery", "unknown_push", "publish", "cleanup",
	"deadline", "request_timeout",
};

enum phase { PH_SETUP, PH_WAITSUBS, PH_IDLE, PH_PUBLISH, PH_DRAIN, PH_CLEANUP, PH_END };

static const char *const phase_names[] = {
	"setup", "wait-subscribers", "idle", "publish", "drain", "cleanup", "end",
};

struct options {
	const char	*host;
	int		 port;		/* the first of ports */
	/* --port P1,P2,...: several front ends before one server; client i uses
	 * ports[(i / groups) % nports], so that every group has members on each. */
	int		 ports[8], nports;
	const char	*hub_path, *sub_prefix, *pub_prefix, *group_prefix;
	enum target	 target;
	enum transport	 transport;
	int		 clients, groups, publishers, messages;
	double		 interval_ms, duration_s, idle_s, settle_s, setup_timeout_s, timeout_s;
	double		 keepalive_s, cleanup_timeout_s;
	double		 request_timeout_s, poll_timeout_s, stream_idle_s, client_ping_s;
	int		 connect_concurrency, source_addrs;
	bool		 cleanup, quiet;
	const char	*json_path, *ready_file, *label;
	/* A bearer token (--bearer-file) for every hub request: the Authorization
	 * header, or access_token in the query of an event stream (EventSource sends
	 * no headers); NULL without. */
	char		*bearer;
	/* Sustained runs: publishing waits for go_file (so that several loadgens and the
	 * outside sampler start together); results are also reported per bucket_s. */
	const char	*go_file;
	double		 bucket_s;
	/* --messages runs: publishing ends after this many seconds even when publishers
	 * that fell behind have messages left (0: never); what was not sent is said. */
	double		 publish_limit_s;
	/* Checks of the accounting itself: the inject_drop-th delivery is ignored, the
	 * inject_dup-th counted twice; client stop_client stops reading stop_s seconds
	 * after publishing started (an LP client polls no more, an SSE client drops
	 * events). 0 / -1: off. */
	long long	 inject_drop, inject_dup;
	int		 stop_client;
	double		 stop_s;
};

/* What a request on a connection is for; decides who handles its answer. */
enum req {
	REQ_NONE, REQ_NEGOTIATE, REQ_POLL, REQ_STREAM, REQ_HANDSHAKE, REQ_INVOKE, REQ_DELETE,
	REQ_NCHAN_SUB, REQ_NCHAN_PUB, REQ_NCHAN_INFO, REQ_PING
};

enum body_mode { BM_NONE, BM_LENGTH, BM_CHUNKED, BM_CLOSE };
enum chunk_state { CK_SIZE, CK_DATA, CK_CRLF, CK_TRAILER };

struct client;

/* One HTTP/1.1 client connection, reconnected on demand. */
struct hconn {
	struct client	*owner;
	int		 fd;
	unsigned	 gen;		/* bumped at every connect: stale callbacks notice */
	bool		 connecting, want_out;
	unsigned	 uses;		/* requests sent on this fd */
	struct buf	 out, in, body, req;
	/* the request in flight */
	bool		 busy, streaming, head_done, retried, got_bytes;
	enum req	 kind;
	long		 msg;		/* message index, for REQ_INVOKE / REQ_NCHAN_PUB */
	int64_t		 req_start, last_used, last_rx;
	/* its response */
	int		 status;
	enum body_mode	 mode;
	long long	 remaining;
	enum chunk_state ck;
	bool		 conn_close, is_event_stream;
	char		 etag[128], last_modified[96];
};

enum client_state {
	CS_WAITING, CS_NEGOTIATE, CS_CONNECT, CS_HANDSHAKE, CS_READY, CS_FAILED, CS_CLEANUP,
	CS_DONE
};

struct client {
	struct run	*run;
	int		 idx, group;
	enum transport	 tr;		/* LP or SSE, never MIXED */
	int		 port_idx;	/* into run.addr */
	bool		 publisher, subscriber;
	enum client_state st;
	bool		 ever_ready;
	bool		 dead;		/* failed: its sockets close at the next turn of the loop */
	bool		 queued;	/* on run.dead, waiting for that */
	struct hconn	 recv, send;
	char		 token[64];
	int64_t		 t_start, t_ready, t_failed;
	/* Bit k: the k-th message of its group arrived (exactly-once accounting). */
	uint8_t		*seen;
	size_t		 seen_cap;
	int64_t		 last_post;	/* when it last POSTed anything (SSE pings) */
	struct buf	 sse_line, sse_data;
	char		 etag[128], last_modified[96];	/* nchan long-poll position */
	/* publishing */
	int		 sent;
	int64_t		 next_send;
	long		 inflight;	/* message waiting for its completion, -1 none */
	bool		 subs_ok;	/* nchan: the channel has its subscribers */
	int64_t		 info_next;
};

/* One published message. */
struct msg {
	int64_t	sent_ns;
	int	group, publisher;
	int	gseq;		/* the gseq-th message of its group, from 0 */
	int	expected;	/* members ready when it was sent (all-delivered time) */
	int	received;	/* members that got it (once each) */
	int	dups, missing;	/* receipts past the first; expected members without it */
	int	cut;		/* expected members without it that failed later */
	bool	completed, posted;
	int64_t	complete_ns;
};

struct delivery {
	long	msg;
	int64_t	lat;
	bool	sse;		/* the receiver's transport */
};

struct run {
	struct options	 opt;
	struct sockaddr_in addr[8];	/* one per --port */
	int		 epfd;
	unsigned	 next_src;
	enum phase	 phase;
	int64_t		 t0, phase_start, setup_deadline, idle_end, publish_start, publish_end;
	int64_t		 drain_deadline, cleanup_deadline, global_deadline, next_sweep;
	struct client	*clients;
	int		 nclients, next_start, starting;
	int		 ready, failed, cleanup_next, cleanup_active;
	int		*dead, ndead;	/* clients to close once no parser of theirs is running */
	int		*ready_in_group;
	int		*group_sent;	/* messages sent per group so far */
	char		 setup_note[160];
	/* messages and measurements */
	struct msg	*msgs;
	long		 nmsgs, capmsgs;
	long long	 expected_total, matched, completions, completions_in_window;
	struct delivery	*dl;
	size_t		 ndl, capdl;
	long long	 receipts;	/* deliveries seen, injected ones included */
	struct samples	 connect, first_poll, rtt, post;
	int64_t		 first_send, last_send;
	/* errors */
	long long	 errors[E_COUNT];
	long long	 http_status[600];
	int		 logged;
	const char	*aborted;
	enum phase	 aborted_in;
	json_tokener	*tok;
	int		 open_fds, max_open_fds;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void __attribute__((format(printf, 4, 5)))
report(struct run *r, enum err e, const struct client *c, const char *fmt, ...)
{
	va_list ap;

	r->errors[e]++;
	if (r->logged++ >= MAX_LOGGED_ERRORS)
		return;
	fprintf(stderr, "loadgen: %s", err_names[e]);
	if (c != NULL)
		fprintf(stderr, " (client %d, %s)", c->idx, phase_names[r->phase]);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (r->logged == MAX_LOGGED_ERRORS)
		fprintf(stderr, "loadgen: (further errors are counted, not printed)\n");
}

static bool
is_hub(const struct run *r)
{
	return r->opt.target == TARGET_POLLHUB;
}

static void client_fail(struct client *c, enum err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void client_kill(struct client *c);
static bool cleaning(const struct client *c);
static void client_head(struct hconn *h);
static void client_data(struct hconn *h, const char *p, size_t n);
static void client_done(struct hconn *h);
static void client_sent(struct hconn *h);

/* ---------------------------------------------------------------- HTTP connection */

static void
hconn_init(struct hconn *h, struct client *owner)
{
	memset(h, 0, sizeof(*h));
	h->owner = owner;
	h->fd = -1;
	h->msg = -1;
}

static void
hconn_close(struct hconn *h)
{
	struct run *r = h->owner->run;

	if (h->fd < 0)
		return;
	close(h->fd);	/* also removes it from the epoll set */
	h->fd = -1;
	h->connecting = false;
	h->want_out = false;
	r->open_fds--;
	buf_reset(&h->out);
	buf_reset(&h->in);
}

/* A connection's buffers are released once its client is finished: 10,000 idle clients
 * should cost the generator little. */
static void
hconn_release(struct hconn *h)
{
	hconn_close(h);
	buf_free(&h->out);
	buf_free(&h->in);
	buf_free(&h->body);
	buf_free(&h->req);
}

static void
hconn_want_out(struct hconn *h, bool on)
{
	struct epoll_event ev;

	if (h->want_out == on || h->fd < 0)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = h;
	if (epoll_ctl(h->owner->run->epfd, EPOLL_CTL_MOD, h->fd, &ev) == 0)
		h->want_out = on;
}

/* Opens a non-blocking connection; 0, or -errno. */
static int
hconn_connect(struct hconn *h)
{
	struct run *r = h->owner->run;
	struct epoll_event ev;
	int fd, one = 1, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (r->opt.source_addrs > 1) {
		/* Spread over 127.0.0.1..N: each source address has its own ephemeral ports. */
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001u + r->next_src++ % (unsigned)r->opt.source_addrs);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	rc = connect(fd, (struct sockaddr *)&r->addr[h->owner->port_idx], sizeof(r->addr[0]));
	if (rc == -1 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = h;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	h->fd = fd;
	h->gen++;
	h->connecting = rc == -1;
	h->want_out = true;
	h->uses = 0;
	if (++r->open_fds > r->max_open_fds)
		r->max_open_fds = r->open_fds;
	return 0;
}

static void hconn_lost(struct hconn *h, int err);

static void
hconn_flush(struct hconn *h)
{
	while (h->out.off < h->out.len) {
		ssize_t n = send(h->fd, h->out.data + h->out.off, h->out.len - h->out.off,
		    MSG_NOSIGNAL);

		if (n > 0) {
			h->out.off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			hconn_want_out(h, true);
			return;
		}
		hconn_lost(h, n == -1 ? errno : EPIPE);
		return;
	}
	buf_reset(&h->out);
	hconn_want_out(h, false);
	client_sent(h);
}

/* (Re)sends h->req on the connection, connecting first when needed. */
static void
hconn_start(struct hconn *h)
{
	int rc;

	if (h->fd < 0 && (rc = hconn_connect(h)) < 0) {
		h->busy = false;
		client_fail(h->owner, E_CONNECT, "connect: %s", strerror(-rc));
		return;
	}
	buf_reset(&h->out);
	buf_append(&h->out, h->req.data, h->req.len);
	h->uses++;
	h->got_bytes = false;
	if (!h->connecting)
		hconn_flush(h);
}

/* Starts a request (the whole HTTP message is in req). The connection must be free. */
static void
hconn_request(struct hconn *h, enum req kind, bool streaming, const struct buf *req)
{
	struct run *r = h->owner->run;
	int64_t now = now_ns();

	if (h->busy) {
		fprintf(stderr, "loadgen: bug: request on a busy connection\n");
		abort();
	}
	h->busy = true;
	h->kind = kind;
	h->streaming = streaming;
	h->head_done = false;
	h->retried = false;
	h->status = 0;
	h->etag[0] = h->last_modified[0] = '\0';
	buf_reset(&h->body);
	buf_reset(&h->req);
	buf_append(&h->req, req->data, req->len);
	h->req_start = now;
	h->last_rx = now;
	/* Servers close idle keep-alive connections (lighttpd after 5 s); a request racing
	 * that close would fail, so reconnect before the server's limit instead. */
	if (h->fd >= 0 && !h->connecting &&
	    now - h->last_used > (int64_t)(r->opt.keepalive_s * NS_PER_S))
		hconn_close(h);
	hconn_start(h);
}

/* The connection ended (EOF or error) while it was ours. */
static void
hconn_lost(struct hconn *h, int err)
{
	if (!h->busy || (h == &h->owner->recv && cleaning(h->owner))) {
		/* An idle keep-alive connection closed by the server, or a poll or stream
		 * ended by our own DELETE. */
		hconn_close(h);
		h->busy = false;
		return;
	}
	if (h->head_done && h->mode == BM_CLOSE && err == 0) {
		hconn_close(h);
		h->busy = false;
		h->last_used = now_ns();
		client_done(h);
		return;
	}
	hconn_close(h);
	/* A reused connection that the server closed before answering: the request was
	 * not processed (the race every keep-alive client has); send it once more. */
	if (!h->got_bytes && h->uses > 1 && !h->retried) {
		h->retried = true;
		hconn_start(h);
		return;
	}
	h->busy = false;
	client_fail(h->owner, E_IO, "connection %s %s", err ? "failed:" : "closed by the server",
	    err ? strerror(err) : (h->head_done ? "mid-response" : "before answering"));
}

static void
copy_header_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Parses the status line and headers p[0..n) (n includes the blank line). */
static int
hconn_parse_head(struct hconn *h, const char *p, size_t n)
{
	const char *end = p + n, *line, *nl;
	bool has_length = false, chunked = false;
	long long length = 0;

	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return -1;
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	h->conn_close = p[7] == '0';
	h->is_event_stream = false;
	line = memchr(p, '\n', n);
	if (line == NULL)
		return -1;
	for (line++; line < end && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL;
	    line = nl + 1) {
		const char *colon = memchr(line, ':', (size_t)(nl - line)), *v, *ve;
		size_t nlen;

		if (colon == NULL)
			continue;	/* the blank line */
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < nl && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = nl; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
		if (IS("Content-Length")) {
			char *e;
			length = strtoll(v, &e, 10);
			if (e == v || length < 0)
				return -1;
			has_length = true;
		} else if (IS("Transfer-Encoding")) {
			chunked = memmem(v, (size_t)(ve - v), "chunked", 7) != NULL;
		} else if (IS("Connection")) {
			if ((size_t)(ve - v) == 5 && strncasecmp(v, "close", 5) == 0)
				h->conn_close = true;
		} else if (IS("Content-Type")) {
			h->is_event_stream = memmem(v, (size_t)(ve - v), "text/event-stream", 17) != NULL;
		} else if (IS("Etag")) {
			copy_header_value(h->etag, sizeof(h->etag), v, (size_t)(ve - v));
		} else if (IS("Last-Modified")) {
			copy_header_value(h->last_modified, sizeof(h->last_modified), v, (size_t)(ve - v));
		}
#undef IS
	}
	if (h->status == 204 || h->status == 304 || (h->status >= 100 && h->status < 200))
		h->mode = BM_NONE;
	else if (chunked)
		h->mode = BM_CHUNKED;
	else if (has_length)
		h->mode = length > 0 ? BM_LENGTH : BM_NONE;
	else
		h->mode = BM_CLOSE;
	h->remaining = length;
	h->ck = CK_SIZE;
	return 0;
}

/* Body bytes, decoded: to the client as they come (streams) or into h->body. */
static int
hconn_deliver(struct hconn *h, const char *p, size_t n)
{
	if (h->streaming) {
		client_data(h, p, n);
		return 0;
	}
	if (h->body.len + n > MAX_BODY)
		return -1;
	buf_append(&h->body, p, n);
	return 0;
}

/* Consumes body bytes from h->in: 1 complete, 0 needs more, -1 malformed. */
static int
hconn_body(struct hconn *h)
{
	unsigned gen = h->gen;

	for (;;) {
		const char *p = h->in.data + h->in.off, *nl;
		size_t avail = h->in.len - h->in.off, n;
		char *e;
		unsigned long long size;

		if (h->fd < 0 || h->gen != gen || h->owner->dead)
			return 0;
		switch (h->mode) {
		case BM_NONE:
			return 1;
		case BM_CLOSE:
			if (avail == 0)
				return 0;
			h->in.off += avail;
			if (hconn_deliver(h, p, avail) == -1)
				return -1;
			continue;
		case BM_LENGTH:
			n = avail < (size_t)h->remaining ? avail : (size_t)h->remaining;
			if (n == 0)
				return h->remaining == 0;
			h->in.off += n;
			h->remaining -= (long long)n;
			if (hconn_deliver(h, p, n) == -1)
				return -1;
			continue;
		case BM_CHUNKED:
			break;
		}
		switch (h->ck) {
		case CK_SIZE:
			if ((nl = memmem(p, avail, "\r\n", 2)) == NULL)
				return avail > 1024 ? -1 : 0;
			errno = 0;
			size = strtoull(p, &e, 16);
			if (e == p || errno != 0 || (*e != '\r' && *e != ';' && *e != ' ') ||
			    size > MAX_BODY)
				return -1;
			h->in.off += (size_t)(nl - p) + 2;
			h->remaining = (long long)size;
			h->ck = size ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA:
			n = avail < (size_t)h->remaining ? avail : (size_t)h->remaining;
			if (n == 0)
				return 0;
			h->in.off += n;
			h->remaining -= (long long)n;
			if (h->remaining == 0)
				h->ck = CK_CRLF;
			if (hconn_deliver(h, p, n) == -1)
				return -1;
			break;
		case CK_CRLF:
			if (avail < 2)
				return 0;
			if (p[0] != '\r' || p[1] != '\n')
				return -1;
			h->in.off += 2;
			h->ck = CK_SIZE;
			break;
		case CK_TRAILER:
			if ((nl = memmem(p, avail, "\r\n", 2)) == NULL)
				return avail > MAX_HEAD ? -1 : 0;
			h->in.off += (size_t)(nl - p) + 2;
			if (nl == p)
				return 1;
			break;
		}
	}
}

static void
hconn_protocol_error(struct hconn *h, const char *what)
{
	hconn_close(h);
	h->busy = false;
	client_fail(h->owner, E_PROTOCOL, "%s", what);
}

/* Parses what arrived; calls the client back at the head of a stream, with stream data,
 * and once the response is complete. */
static void
hconn_parse(struct hconn *h)
{
	unsigned gen = h->gen;

	while (h->fd >= 0 && h->gen == gen && !h->owner->dead) {
		size_t avail = h->in.len - h->in.off;
		const char *p = h->in.data + h->in.off, *end;
		int rc;

		if (!h->busy) {
			if (avail > 0)
				hconn_protocol_error(h, "bytes from the server with no request");
			return;
		}
		if (avail > 0)
			h->got_bytes = true;
		if (!h->head_done) {
			if ((end = memmem(p, avail, "\r\n\r\n", 4)) == NULL) {
				if (avail > MAX_HEAD)
					hconn_protocol_error(h, "response head too large");
				return;
			}
			if (hconn_parse_head(h, p, (size_t)(end - p) + 4) == -1) {
				hconn_protocol_error(h, "malformed response head");
				return;
			}
			h->in.off += (size_t)(end - p) + 4;
			if (h->status < 200)
				continue;	/* 1xx: the real answer follows */
			h->head_done = true;
			if (h->streaming) {
				client_head(h);
				continue;
			}
		}
		rc = hconn_body(h);
		if (h->fd < 0 || h->gen != gen || h->owner->dead)
			return;
		if (rc == -1) {
			hconn_protocol_error(h, "malformed response body");
			return;
		}
		buf_compact(&h->in);
		if (rc == 0)
			return;
		/* Complete. No pipelining, so nothing may follow. */
		if (h->in.len > 0) {
			hconn_protocol_error(h, "bytes after the response");
			return;
		}
		h->busy = false;
		h->last_used = now_ns();
		if (h->conn_close)
			hconn_close(h);
		client_done(h);
		return;
	}
}

static void
hconn_readable(struct hconn *h)
{
	unsigned gen = h->gen;
	size_t total = 0;
	int err = 0;
	bool eof = false;

	while (total < (1u << 20)) {
		ssize_t n;

		buf_reserve(&h->in, 16384);
		n = read(h->fd, h->in.data + h->in.len, h->in.cap - h->in.len - 1);
		if (n > 0) {
			h->in.len += (size_t)n;
			h->in.data[h->in.len] = '\0';
			total += (size_t)n;
			h->last_rx = now_ns();
			continue;
		}
		if (n == 0) {
			eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err = errno;
		}
		break;
	}
	hconn_parse(h);
	if (h->fd < 0 || h->gen != gen || h->owner->dead)
		return;
	if (eof || err)
		hconn_lost(h, err);
}

static void
hconn_event(struct hconn *h, uint32_t events)
{
	if (h->fd < 0 || h->owner->dead)
		return;
	if (h->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (err != 0) {
			hconn_close(h);
			h->busy = false;
			client_fail(h->owner, E_CONNECT, "connect: %s", strerror(err));
			return;
		}
		h->connecting = false;
		hconn_flush(h);
		return;
	}
	if ((events & EPOLLOUT) && h->out.len > 0) {
		unsigned gen = h->gen;

		hconn_flush(h);
		if (h->fd < 0 || h->gen != gen || h->owner->dead)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		hconn_readable(h);
}

/* ---------------------------------------------------------------- requests */

static void
http_begin(struct buf *b, const struct run *r, const char *method, const char *target)
{
	buf_reset(b);
	buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: pollhub-loadgen\r\n",
	    method, target, r->opt.host, r->opt.port);	/* the same server behind every port */
}

static void
http_end(struct buf *b, const char *content_type, const char *body, size_t len, bool has_body)
{
	if (has_body) {
		if (content_type != NULL)
			buf_printf(b, "Content-Type: %s\r\n", content_type);
		buf_printf(b, "Content-Length: %zu\r\n", len);
	}
	buf_puts(b, "\r\n");
	if (len > 0)
		buf_append(b, body, len);
}

static void
group_name(const struct run *r, int g, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%d", r->opt.group_prefix, g);
}

static void
send_negotiate(struct client *c)
{
	struct run *r = c->run;
	struct buf b = { 0 };
	char g[96];

	group_name(r, c->group, g, sizeof(g));
	buf_printf(&b, "%s/negotiate?negotiateVersion=1&group=%s", r->opt.hub_path, g);
	{
		struct buf req = { 0 };

		http_begin(&req, r, "POST", b.data);
		buf_puts(&req, "X-Requested-With: XMLHttpRequest\r\n");
		if (r->opt.bearer != NULL)
			buf_printf(&req, "Authorization: Bearer %s\r\n", r->opt.bearer);
		http_end(&req, NULL, NULL, 0, true);
		hconn_request(&c->send, REQ_NEGOTIATE, false, &req);
		buf_free(&req);
	}
	buf_free(&b);
}

static void
send_hub(struct client *c, struct hconn *h, enum req kind, const char *method,
    const char *body, size_t len)
{
	struct run *r = c->run;
	struct buf target = { 0 }, req = { 0 };

	buf_printf(&target, "%s?id=%s", r->opt.hub_path, c->token);
	/* A JWT is URL-safe as it is ([A-Za-z0-9_-] and dots). */
	if (r->opt.bearer != NULL && kind == REQ_STREAM)
		buf_printf(&target, "&access_token=%s", r->opt.bearer);
	if (strcmp(method, "POST") == 0)
		c->last_post = now_ns();
	http_begin(&req, r, method, target.data);
	buf_puts(&req, "X-Requested-With: XMLHttpRequest\r\n");
	if (r->opt.bearer != NULL && kind != REQ_STREAM)
		buf_printf(&req, "Authorization: Bearer %s\r\n", r->opt.bearer);
	if (kind == REQ_STREAM)
		buf_puts(&req, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
	http_end(&req, "text/plain;charset=UTF-8", body, len, strcmp(method, "POST") == 0);
	hconn_request(h, kind, kind == REQ_STREAM, &req);
	buf_free(&target);
	buf_free(&req);
}

static void
send_nchan_sub(struct client *c)
{
	struct run *r = c->run;
	struct buf target = { 0 }, req = { 0 };
	char g[96];

	group_name(r, c->group, g, sizeof(g));
	buf_printf(&target, "%s%s", r->opt.sub_prefix, g);
	http_begin(&req, r, "GET", target.data);
	if (c->tr == TRANSPORT_SSE) {
		buf_puts(&req, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
	} else {
		if (c->last_modified[0] != '\0')
			buf_printf(&req, "If-Modified-Since: %s\r\n", c->last_modified);
		if (c->etag[0] != '\0')
			buf_printf(&req, "If-None-Match: %s\r\n", c->etag);
	}
	http_end(&req, NULL, NULL, 0, false);
	hconn_request(&c->recv, REQ_NCHAN_SUB, c->tr == TRANSPORT_SSE, &req);
	buf_free(&target);
	buf_free(&req);
}

static void
send_nchan_info(struct client *c)
{
	struct run *r = c->run;
	struct buf target = { 0 }, req = { 0 };
	char g[96];

	group_name(r, c->group, g, sizeof(g));
	buf_printf(&target, "%s%s", r->opt.pub_prefix, g);
	http_begin(&req, r, "GET", target.data);
	buf_puts(&req, "Accept: text/json\r\n");
	http_end(&req, NULL, NULL, 0, false);
	hconn_request(&c->send, REQ_NCHAN_INFO, false, &req);
	buf_free(&target);
	buf_free(&req);
}

/* ---------------------------------------------------------------- clients */

static void
client_ready(struct client *c)
{
	struct run *r = c->run;

	c->st = CS_READY;
	c->ever_ready = true;
	c->t_ready = now_ns();
	c->last_post = 0;	/* an SSE client pings right after the handshake */
	samples_add(&r->connect, c->t_ready - c->t_start);
	if (c->subscriber)
		r->ready_in_group[c->group]++;
	r->ready++;
	if (r->phase == PH_SETUP)
		r->starting--;
}

/* Stops a client: counted once; its sockets close at the next turn of the loop (its
 * parsers may still be on the stack). */
static void
client_fail(struct client *c, enum err e, const char *fmt, ...)
{
	struct run *r = c->run;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->st == CS_CLEANUP) {
		/* Not a measurement any more, but still an error to report. */
		report(r, E_CLEANUP, c, "%s: %s", err_names[e], msg);
		c->st = CS_DONE;
		client_kill(c);
		r->cleanup_active--;
		return;
	}
	if (c->st == CS_FAILED || c->st == CS_DONE)
		return;
	report(r, e, c, "%s", msg);
	if (c->st == CS_READY) {
		if (c->subscriber)
			r->ready_in_group[c->group]--;
		r->ready--;
		c->t_failed = now_ns();
	} else if (r->phase == PH_SETUP && c->st != CS_WAITING) {
		r->starting--;
	}
	r->failed++;
	c->st = CS_FAILED;
	client_kill(c);
}

/* Marks the client finished; the main loop closes its sockets. */
static void
client_kill(struct client *c)
{
	struct run *r = c->run;

	c->dead = true;
	if (!c->queued) {
		c->queued = true;
		r->dead[r->ndead++] = c->idx;
	}
}

static void
client_finish(struct client *c)
{
	hconn_release(&c->recv);
	hconn_release(&c->send);
	buf_free(&c->sse_line);
	buf_free(&c->sse_data);
}

static void
client_start(struct client *c)
{
	struct run *r = c->run;

	c->t_start = now_ns();
	if (is_hub(r)) {
		c->st = CS_NEGOTIATE;
		send_negotiate(c);
	} else if (!c->subscriber) {
		c->st = CS_CONNECT;
		client_ready(c);	/* an nchan publisher connects when it publishes */
	} else {
		c->st = CS_CONNECT;
		send_nchan_sub(c);
	}
}

static long
msg_find(const struct run *r, int64_t sent_ns)
{
	long lo = 0, hi = r->nmsgs - 1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (r->msgs[mid].sent_ns == sent_ns)
			return mid;
		if (r->msgs[mid].sent_ns < sent_ns)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Whether c has stopped reading (--stop-reading): what reaches it is not taken in. */
static bool
stopped_reading(const struct client *c)
{
	const struct run *r = c->run;

	return c->idx == r->opt.stop_client && r->publish_start != 0 &&
	    now_ns() - r->publish_start >= (int64_t)(r->opt.stop_s * NS_PER_S);
}

/* One receipt of message m by c: the first counts, any further one is a duplicate. */
static void
record_delivery(struct client *c, long m, int64_t lat)
{
	struct run *r = c->run;
	struct msg *mm = &r->msgs[m];
	size_t byte = (size_t)mm->gseq / 8;
	uint8_t bit = (uint8_t)(1u << (mm->gseq % 8));

	if (byte >= c->seen_cap) {
		size_t cap = c->seen_cap ? c->seen_cap : 16;

		while (cap <= byte)
			cap *= 2;
		c->seen = xrealloc(c->seen, cap);
		memset(c->seen + c->seen_cap, 0, cap - c->seen_cap);
		c->seen_cap = cap;
	}
	if (c->seen[byte] & bit) {
		mm->dups++;
		report(r, E_DUPLICATE, c, "message %ld (group %d) received again", m, mm->group);
	} else {
		c->seen[byte] |= bit;
		if (++mm->received <= mm->expected)
			r->matched++;
	}
	if (r->ndl == r->capdl) {
		r->capdl = r->capdl ? r->capdl * 2 : 4096;
		r->dl = xrealloc(r->dl, r->capdl * sizeof(*r->dl));
	}
	r->dl[r->ndl].msg = m;
	r->dl[r->ndl].lat = lat;
	r->dl[r->ndl].sse = c->tr == TRANSPORT_SSE;
	r->ndl++;
}

/* A message "t <ns>" arrived at c. */
static void
delivered(struct client *c, const char *text, size_t len)
{
	struct run *r = c->run;
	int64_t now = now_ns();
	char tmp[32], *e;
	long long sent;
	long m;
	struct msg *mm;

	if (len < 3 || len >= sizeof(tmp) || text[0] != 't' || text[1] != ' ') {
		report(r, E_UNKNOWN_PUSH, c, "push not sent by this run: %.*s", (int)(len > 60 ? 60 : len), text);
		return;
	}
	memcpy(tmp, text + 2, len - 2);
	tmp[len - 2] = '\0';
	sent = strtoll(tmp, &e, 10);
	if (*e != '\0' || (m = msg_find(r, sent)) < 0) {
		report(r, E_UNKNOWN_PUSH, c, "push not sent by this run: %.*s", (int)len, text);
		return;
	}
	mm = &r->msgs[m];
	if (mm->group != c->group) {
		report(r, E_PROTOCOL, c, "push for group %d delivered in group %d", mm->group, c->group);
		return;
	}
	if (mm->publisher == c->idx) {
		report(r, E_UNKNOWN_PUSH, c, "its own message %ld pushed back to it", m);
		return;
	}
	if (stopped_reading(c))
		return;
	r->receipts++;
	if (r->receipts == r->opt.inject_drop) {
		fprintf(stderr, "loadgen: --inject-drop: delivery %lld (message %ld to client %d)"
		    " ignored\n", r->receipts, m, c->idx);
		return;
	}
	record_delivery(c, m, now - sent);
	if (r->receipts == r->opt.inject_dup) {
		fprintf(stderr, "loadgen: --inject-dup: delivery %lld (message %ld to client %d)"
		    " counted twice\n", r->receipts, m, c->idx);
		record_delivery(c, m, now - sent);
	}
}

static void publisher_tick(struct client *c, int64_t now);

/* The answer to message m arrived: a completion (pollhub) or the publish response (nchan). */
static void
completed(struct client *c, long m, bool error, const char *why)
{
	struct run *r = c->run;
	struct msg *mm;
	int64_t now = now_ns();

	if (m < 0 || m >= r->nmsgs || r->msgs[m].publisher != c->idx || r->msgs[m].completed) {
		report(r, E_PROTOCOL, c, "completion for invocation %ld that is not pending", m);
		return;
	}
	mm = &r->msgs[m];
	mm->completed = true;
	mm->complete_ns = now;
	r->completions++;
	if (now <= r->publish_end)
		r->completions_in_window++;
	samples_add(&r->rtt, now - mm->sent_ns);
	if (error)
		report(r, E_COMPLETION, c, "invocation %ld: %s", m, why);
	if (c->inflight == m)
		c->inflight = -1;
	if (r->phase == PH_PUBLISH)
		publisher_tick(c, now);
}

/* One hub protocol record (without its 0x1E). */
static void
hub_record(struct client *c, const char *rec, size_t len)
{
	struct run *r = c->run;
	json_object *o, *v, *args, *m, *title;
	int type;

	json_tokener_reset(r->tok);
	o = json_tokener_parse_ex(r->tok, rec, (int)len);
	if (o == NULL || json_tokener_get_error(r->tok) != json_tokener_success ||
	    json_tokener_get_parse_end(r->tok) != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		client_fail(c, E_PROTOCOL, "malformed hub record: %.*s", (int)(len > 80 ? 80 : len), rec);
		return;
	}
	if (c->st == CS_HANDSHAKE) {
		if (json_object_object_get_ex(o, "error", &v))
			client_fail(c, E_HANDSHAKE, "handshake refused: %s", json_object_get_string(v));
		else if (json_object_object_length(o) != 0)
			client_fail(c, E_HANDSHAKE, "handshake answer is not {}: %.*s", (int)len, rec);
		else
			client_ready(c);
		json_object_put(o);
		return;
	}
	if (!json_object_object_get_ex(o, "type", &v) || !json_object_is_type(v, json_type_int)) {
		json_object_put(o);
		client_fail(c, E_PROTOCOL, "hub record without type: %.*s", (int)(len > 80 ? 80 : len), rec);
		return;
	}
	type = json_object_get_int(v);
	switch (type) {
	case 1:		/* invocation: the pushes */
		if (json_object_object_get_ex(o, "target", &v) &&
		    strcmp(json_object_get_string(v), "create") == 0 &&
		    json_object_object_get_ex(o, "arguments", &args) &&
		    json_object_is_type(args, json_type_array) &&
		    (m = json_object_array_get_idx(args, 0)) != NULL &&
		    json_object_object_get_ex(m, "Title", &title) &&
		    json_object_is_type(title, json_type_string))
			delivered(c, json_object_get_string(title),
			    (size_t)json_object_get_string_len(title));
		else
			report(r, E_UNKNOWN_PUSH, c, "unexpected invocation: %.*s",
			    (int)(len > 80 ? 80 : len), rec);
		break;
	case 3: {	/* completion */
		const char *id = "", *why = "";
		char *e;
		long n;

		if (json_object_object_get_ex(o, "invocationId", &v) &&
		    json_object_is_type(v, json_type_string))
			id = json_object_get_string(v);
		n = strtol(id, &e, 10);
		if (*id == '\0' || *e != '\0')
			n = -1;
		if (json_object_object_get_ex(o, "error", &v))
			why = json_object_get_string(v);
		completed(c, n, why[0] != '\0', why);
		break;
	}
	case 6:		/* ping */
		break;
	case 7:		/* close */
		client_fail(c, E_CLOSED, "Close message: %.*s", (int)(len > 200 ? 200 : len), rec);
		break;
	default:
		break;
	}
	json_object_put(o);
}

/* Records of an LP body or an SSE event, each ending in 0x1E. */
static void
hub_records(struct client *c, const char *p, size_t n)
{
	while (n > 0 && !c->dead) {
		const char *rs = memchr(p, RS, n);
		size_t len;

		if (rs == NULL) {
			client_fail(c, E_PROTOCOL, "record without its 0x1E terminator");
			return;
		}
		len = (size_t)(rs - p);
		hub_record(c, p, len);
		p += len + 1;
		n -= len + 1;
	}
}

/* A complete server-sent event's data (data lines joined with LF). */
static void
sse_event(struct client *c, const char *data, size_t len)
{
	if (is_hub(c->run))
		hub_records(c, data, len);
	else
		delivered(c, data, len);
}

static void
sse_line(struct client *c, const char *line, size_t len)
{
	const char *colon, *v;
	size_t nlen, vlen;

	if (len == 0) {
		if (c->sse_data.len > 0) {
			c->sse_data.len--;	/* the LF after the last data line */
			sse_event(c, c->sse_data.data, c->sse_data.len);
			buf_reset(&c->sse_data);
		}
		return;
	}
	if (line[0] == ':')
		return;		/* comment */
	colon = memchr(line, ':', len);
	nlen = colon ? (size_t)(colon - line) : len;
	if (nlen != 4 || memcmp(line, "data", 4) != 0)
		return;		/* id:, event:, retry: are not needed here */
	v = colon ? colon + 1 : line + len;
	vlen = (size_t)(line + len - v);
	if (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	buf_append(&c->sse_data, v, vlen);
	buf_append(&c->sse_data, "\n", 1);
}

/* Event stream bytes, any split. Lines end in LF or CRLF. */
static void
sse_feed(struct client *c, const char *p, size_t n)
{
	struct buf *b = &c->sse_line;
	size_t start = 0;
	char *nl;

	buf_append(b, p, n);
	while (!c->dead && (nl = memchr(b->data + start, '\n', b->len - start)) != NULL) {
		size_t end = (size_t)(nl - b->data), len = end - start;

		if (len > 0 && b->data[start + len - 1] == '\r')
			len--;
		sse_line(c, b->data + start, len);
		start = end + 1;
	}
	if (c->dead)
		return;
	b->off = start;
	buf_compact(b);
	if (b->len > MAX_SSE_LINE)
		client_fail(c, E_PROTOCOL, "event stream line over %d bytes", MAX_SSE_LINE);
}

static bool
cleaning(const struct client *c)
{
	return c->st == CS_CLEANUP || c->st == CS_DONE || c->run->phase >= PH_CLEANUP;
}

/* The head of a streaming response (SSE or nchan EventSource). */
static void
client_head(struct hconn *h)
{
	struct client *c = h->owner;

	if (h->status != 200 || !h->is_event_stream) {
		c->run->http_status[h->status]++;
		client_fail(c, E_HTTP, "event stream answered %d%s", h->status,
		    h->is_event_stream ? "" : " (not text/event-stream)");
		return;
	}
	if (is_hub(c->run)) {
		samples_add(&c->run->first_poll, now_ns() - c->t_start);
		c->st = CS_HANDSHAKE;
		send_hub(c, &c->send, REQ_HANDSHAKE, "POST", "{\"protocol\":\"json\",\"version\":1}\x1e", 32);
	} else {
		client_ready(c);
	}
}

static void
client_data(struct hconn *h, const char *p, size_t n)
{
	sse_feed(h->owner, p, n);
}

/* A request has been written completely. */
static void
client_sent(struct hconn *h)
{
	struct client *c = h->owner;

	/* An nchan long-poll subscriber has nothing else to wait for before it counts. */
	if (h->kind == REQ_NCHAN_SUB && !h->streaming && c->st == CS_CONNECT)
		client_ready(c);
}

static void
on_negotiate(struct client *c, struct hconn *h)
{
	struct run *r = c->run;
	json_object *o, *v;
	const char *tok;

	if (h->status != 200) {
		r->http_status[h->status]++;
		client_fail(c, E_HTTP, "negotiate answered %d", h->status);
		return;
	}
	o = json_tokener_parse(h->body.data ? h->body.data : "");
	if (o != NULL && json_object_object_get_ex(o, "error", &v)) {
		client_fail(c, E_NEGOTIATE, "negotiate refused: %s", json_object_get_string(v));
		json_object_put(o);
		return;
	}
	if (o == NULL || !json_object_object_get_ex(o, "connectionToken", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= sizeof(c->token) ||
	    strspn(tok = json_object_get_string(v),
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
	    (size_t)json_object_get_string_len(v) || *tok == '\0') {
		json_object_put(o);
		client_fail(c, E_NEGOTIATE, "negotiate answer without a usable connectionToken");
		return;
	}
	snprintf(c->token, sizeof(c->token), "%s", tok);
	json_object_put(o);
	c->st = CS_CONNECT;
	if (c->tr == TRANSPORT_LP)
		send_hub(c, &c->recv, REQ_POLL, "GET", NULL, 0);
	else
		send_hub(c, &c->recv, REQ_STREAM, "GET", NULL, 0);
}

static void
on_poll(struct client *c, struct hconn *h)
{
	struct run *r = c->run;

	if (cleaning(c))
		return;		/* the DELETE ends the poll (204); no new one */
	if (h->status == 204) {
		client_fail(c, E_CLOSED, "poll answered 204: the connection ended");
		return;
	}
	if (h->status != 200) {
		r->http_status[h->status]++;
		client_fail(c, E_HTTP, "poll answered %d", h->status);
		return;
	}
	if (c->st == CS_CONNECT) {
		/* The first poll answers at once; then poll and handshake together, as the
		 * TypeScript client does. */
		samples_add(&r->first_poll, now_ns() - c->t_start);
		c->st = CS_HANDSHAKE;
		send_hub(c, &c->recv, REQ_POLL, "GET", NULL, 0);
		if (!c->dead)
			send_hub(c, &c->send, REQ_HANDSHAKE, "POST",
			    "{\"protocol\":\"json\",\"version\":1}\x1e", 32);
		return;
	}
	if (h->body.len > 0)
		hub_records(c, h->body.data, h->body.len);
	if (!c->dead && !h->busy && !stopped_reading(c))
		send_hub(c, &c->recv, REQ_POLL, "GET", NULL, 0);
}

static void
on_nchan_sub(struct client *c, struct hconn *h)
{
	struct run *r = c->run;

	if (h->streaming) {
		if (!cleaning(c))
			client_fail(c, E_CLOSED, "event stream ended");
		return;
	}
	if (cleaning(c))
		return;
	if (h->status == 200) {
		if (h->etag[0] != '\0')
			snprintf(c->etag, sizeof(c->etag), "%s", h->etag);
		if (h->last_modified[0] != '\0')
			snprintf(c->last_modified, sizeof(c->last_modified), "%s", h->last_modified);
		delivered(c, h->body.data ? h->body.data : "", h->body.len);
	} else if (h->status != 304 && h->status != 408) {
		/* 304 / 408: the subscriber timed out with nothing new; poll again. */
		r->http_status[h->status]++;
		client_fail(c, E_HTTP, "subscriber poll answered %d", h->status);
		return;
	}
	if (!c->dead)
		send_nchan_sub(c);
}

static void
on_nchan_info(struct client *c, struct hconn *h)
{
	struct run *r = c->run;
	json_object *o, *v;
	int subs = 0;

	if (h->status == 200 && (o = json_tokener_parse(h->body.data ? h->body.data : "")) != NULL) {
		if (json_object_object_get_ex(o, "subscribers", &v))
			subs = json_object_get_int(v);
		json_object_put(o);
	} else if (h->status != 404) {	/* 404: no subscriber has created the channel yet */
		r->http_status[h->status]++;
	}
	if (subs >= r->ready_in_group[c->group])
		c->subs_ok = true;
	else
		c->info_next = now_ns() + 50 * NS_PER_MS;
}

static void
on_delete(struct client *c, struct hconn *h)
{
	struct run *r = c->run;

	if (c->st != CS_CLEANUP)
		return;
	if (h->status != 202 && h->status != 404) {
		r->http_status[h->status]++;
		report(r, E_CLEANUP, c, "DELETE answered %d", h->status);
	}
	c->st = CS_DONE;
	client_kill(c);
	r->cleanup_active--;
}

static void
client_done(struct hconn *h)
{
	struct client *c = h->owner;
	struct run *r = c->run;

	switch (h->kind) {
	case REQ_NEGOTIATE:
		on_negotiate(c, h);
		break;
	case REQ_POLL:
		on_poll(c, h);
		break;
	case REQ_STREAM:
		if (!cleaning(c))
			client_fail(c, E_CLOSED, "event stream ended (status %d)", h->status);
		break;
	case REQ_HANDSHAKE:
	case REQ_PING:
		if (h->status != 200) {
			r->http_status[h->status]++;
			client_fail(c, E_HTTP, "%s answered %d", h->kind == REQ_PING ? "ping POST" :
			    "handshake POST", h->status);
		}
		break;
	case REQ_INVOKE:
		if (h->status != 200) {
			r->http_status[h->status]++;
			report(r, E_HTTP, c, "invocation POST answered %d", h->status);
		} else if (h->msg >= 0 && h->msg < r->nmsgs) {
			r->msgs[h->msg].posted = true;
			samples_add(&r->post, now_ns() - r->msgs[h->msg].sent_ns);
		}
		if (r->phase == PH_PUBLISH)
			publisher_tick(c, now_ns());
		break;
	case REQ_NCHAN_PUB:
		if (h->status != 201 && h->status != 202) {
			r->http_status[h->status]++;
			report(r, E_PUBLISH, c, "publish answered %d", h->status);
		} else if (h->msg >= 0 && h->msg < r->nmsgs) {
			r->msgs[h->msg].posted = true;
			samples_add(&r->post, now_ns() - r->msgs[h->msg].sent_ns);
		}
		completed(c, h->msg, false, "");
		break;
	case REQ_NCHAN_SUB:
		on_nchan_sub(c, h);
		break;
	case REQ_NCHAN_INFO:
		on_nchan_info(c, h);
		break;
	case REQ_DELETE:
		on_delete(c, h);
		break;
	case REQ_NONE:
		break;
	}
}

/* ---------------------------------------------------------------- publishing */

static void
send_message(struct client *c, int64_t now)
{
	struct run *r = c->run;
	struct buf body = { 0 }, req = { 0 }, target = { 0 };
	struct msg *mm;
	long m;
	char g[96];

	if (r->nmsgs == r->capmsgs) {
		r->capmsgs = r->capmsgs ? r->capmsgs * 2 : 1024;
		r->msgs = xrealloc(r->msgs, (size_t)r->capmsgs * sizeof(*r->msgs));
	}
	m = r->nmsgs++;
	mm = &r->msgs[m];
	memset(mm, 0, sizeof(*mm));
	/* Strictly increasing: the send time is the message's identity. */
	mm->sent_ns = m > 0 && now <= r->msgs[m - 1].sent_ns ? r->msgs[m - 1].sent_ns + 1 : now;
	mm->group = c->group;
	mm->gseq = r->group_sent[c->group]++;
	mm->publisher = c->idx;
	mm->expected = r->ready_in_group[c->group] - (c->subscriber ? 1 : 0);
	if (mm->expected < 0)
		mm->expected = 0;
	r->expected_total += mm->expected;
	if (r->first_send == 0)
		r->first_send = mm->sent_ns;
	r->last_send = mm->sent_ns;
	c->sent++;
	c->inflight = m;
	c->send.msg = m;
	if (is_hub(r)) {
		buf_printf(&body, "{\"type\":1,\"invocationId\":\"%ld\",\"target\":\"create\","
		    "\"arguments\":[{\"ID\":null,\"Title\":\"t %" PRId64 "\","
		    "\"Start\":\"2026-11-26T10:00:00Z\",\"End\":\"2026-11-26T10:30:00Z\","
		    "\"IsAllDay\":false}]}\x1e", m, mm->sent_ns);
		send_hub(c, &c->send, REQ_INVOKE, "POST", body.data, body.len);
	} else {
		group_name(r, c->group, g, sizeof(g));
		buf_printf(&target, "%s%s", r->opt.pub_prefix, g);
		buf_printf(&body, "t %" PRId64, mm->sent_ns);
		http_begin(&req, r, "POST", target.data);
		buf_puts(&req, "Accept: text/json\r\n");
		http_end(&req, "text/plain", body.data, body.len, true);
		hconn_request(&c->send, REQ_NCHAN_PUB, false, &req);
	}
	buf_free(&body);
	buf_free(&req);
	buf_free(&target);
}

static bool
duration_mode(const struct run *r)
{
	return r->opt.duration_s > 0;
}

/* Sends the publisher's next message when it is due and its send connection is free. */
static void
publisher_tick(struct client *c, int64_t now)
{
	struct run *r = c->run;

	if (!c->publisher || c->st != CS_READY || c->dead || c->send.busy)
		return;
	if (duration_mode(r)) {
		if (now >= r->publish_end || c->inflight >= 0)
			return;
	} else {
		if (c->sent >= r->opt.messages || now < c->next_send || now >= r->publish_end)
			return;
		c->next_send += (int64_t)(r->opt.interval_ms * NS_PER_MS);
	}
	send_message(c, now);
}

static bool
publishing_done(const struct run *r, int64_t now)
{
	if (duration_mode(r) || now >= r->publish_end)
		return now >= r->publish_end;
	for (int i = 0; i < r->nclients; i++) {
		const struct client *c = &r->clients[i];

		if (c->publisher && c->st == CS_READY && c->sent < r->opt.messages)
			return false;
	}
	return true;
}

static bool
drained(const struct run *r)
{
	return r->matched >= r->expected_total && r->completions >= r->nmsgs;
}

/* ---------------------------------------------------------------- phases */

static void
enter(struct run *r, enum phase p, int64_t now)
{
	if (!r->opt.quiet)
		fprintf(stderr, "loadgen: %.1f s: %s -> %s\n", (double)(now - r->t0) / NS_PER_S,
		    phase_names[r->phase], phase_names[p]);
	r->phase = p;
	r->phase_start = now;
}

static void
write_ready_file(const struct run *r)
{
	FILE *f;

	if (r->opt.ready_file == NULL)
		return;
	if ((f = fopen(r->opt.ready_file, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", r->opt.ready_file, strerror(errno));
		return;
	}
	fprintf(f, "%d %d\n", r->ready, r->failed);
	fclose(f);
}

/* A pollhub publisher that could not connect hands its role to a connected member of its
 * group, so that one failed client does not silence a whole run. */
static void
replace_failed_publishers(struct run *r)
{
	if (!is_hub(r))
		return;		/* nchan publishers have no connection to lose */
	for (int i = 0; i < r->nclients; i++) {
		struct client *c = &r->clients[i];

		if (!c->publisher || c->st == CS_READY)
			continue;
		for (int j = r->opt.publishers; j < r->nclients; j++) {
			struct client *d = &r->clients[j];

			if (d->group == c->group && !d->publisher && d->st == CS_READY && !d->dead) {
				c->publisher = false;
				d->publisher = true;
				fprintf(stderr, "loadgen: publisher %d did not connect; client %d publishes"
				    " in its place\n", c->idx, d->idx);
				break;
			}
		}
	}
}

static void
start_publishing(struct run *r, int64_t now)
{
	int k = 0;

	replace_failed_publishers(r);
	enter(r, PH_PUBLISH, now);
	r->publish_start = now;
	r->publish_end = duration_mode(r) ? now + (int64_t)(r->opt.duration_s * NS_PER_S) :
	    r->opt.publish_limit_s > 0 ? now + (int64_t)(r->opt.publish_limit_s * NS_PER_S) : INT64_MAX;
	/* Publishers start staggered over one interval so groups do not all fire at once. */
	for (int i = 0; i < r->nclients; i++) {
		struct client *c = &r->clients[i];

		if (!c->publisher)
			continue;
		c->next_send = now + (int64_t)(r->opt.interval_ms * NS_PER_MS) * k / r->opt.publishers;
		k++;
	}
}

static void
after_setup(struct run *r, int64_t now)
{
	int late = 0;

	for (int i = 0; i < r->nclients; i++) {
		struct client *c = &r->clients[i];

		if (c->st == CS_WAITING || c->st == CS_NEGOTIATE || c->st == CS_CONNECT ||
		    c->st == CS_HANDSHAKE) {
			if (c->st != CS_WAITING)
				r->starting--;
			late++;
			c->st = CS_FAILED;
			client_kill(c);
			r->failed++;
			r->errors[E_SETUP_TIMEOUT]++;
		}
	}
	if (late > 0) {
		snprintf(r->setup_note, sizeof(r->setup_note),
		    "%d clients not connected within the setup timeout", late);
		fprintf(stderr, "loadgen: setup_timeout: %s\n", r->setup_note);
	}
	if (!r->opt.quiet)
		fprintf(stderr, "loadgen: %d clients ready, %d failed, in %.2f s\n", r->ready,
		    r->failed, (double)(now - r->t0) / NS_PER_S);
	if (!is_hub(r)) {
		/* nchan's channel info is each worker's own view and may lag (with two workers a
		 * count stayed short for 15 s while every subscriber got the message), so it is
		 * waited for one second at most: an EventSource subscriber is registered before
		 * its headers are sent, a long-poll one within moments of its request. */
		enter(r, PH_WAITSUBS, now);
		r->setup_deadline = now + NS_PER_S;	/* reused as the wait's limit */
		return;
	}
	enter(r, PH_IDLE, now);
	r->idle_end = now + (int64_t)(r->opt.idle_s * NS_PER_S);
	write_ready_file(r);
}

static void
start_cleanup(struct run *r, int64_t now)
{
	enter(r, PH_CLEANUP, now);
	r->cleanup_deadline = now + (int64_t)(r->opt.cleanup_timeout_s * NS_PER_S);
	r->cleanup_next = 0;
	r->cleanup_active = 0;
	if (!is_hub(r) || !r->opt.cleanup)
		r->cleanup_next = r->nclients;
}

/* DELETE of each pollhub connection, at most --connect-concurrency at once. */
static void
cleanup_tick(struct run *r)
{
	while (r->cleanup_active < r->opt.connect_concurrency && r->cleanup_next < r->nclients) {
		struct client *c = &r->clients[r->cleanup_next++];

		if (c->st != CS_READY || c->dead)
			continue;
		if (c->send.busy)
			hconn_close(&c->send);	/* an invocation still in flight: abandon it */
		c->send.busy = false;
		c->st = CS_CLEANUP;
		r->cleanup_active++;
		send_hub(c, &c->send, REQ_DELETE, "DELETE", NULL, 0);
	}
}

/* How long a request may go unanswered: a held poll up to the server's poll timeout and
 * some, a stream as long as it is not silent for longer than the pings' interval allows,
 * anything else --request-timeout. */
static bool
hconn_overdue(const struct run *r, const struct hconn *h, int64_t now)
{
	const struct options *o = &r->opt;

	if (!h->busy || h->fd < 0)
		return false;
	if (h->streaming && h->head_done)
		return now - h->last_rx > (int64_t)(o->stream_idle_s * NS_PER_S);
	if ((h->kind == REQ_POLL || h->kind == REQ_NCHAN_SUB) && !h->streaming)
		return now - h->req_start > (int64_t)(o->poll_timeout_s * NS_PER_S);
	return now - h->req_start > (int64_t)(o->request_timeout_s * NS_PER_S);
}

static const char *const req_names[] = {
	"none", "negotiate", "poll", "event stream", "handshake POST", "invocation POST",
	"DELETE", "nchan subscribe", "nchan publish", "nchan channel info", "ping POST",
};

/* A server-sent events client POSTs a hub Ping right after the handshake and whenever it
 * has sent nothing for 15 s, as the TypeScript client does (long polling has inherent
 * keep-alive and never pings). Idle SSE clients cost the server that much. */
static void
client_ping(struct client *c, int64_t now)
{
	struct run *r = c->run;

	if (!is_hub(r) || c->tr != TRANSPORT_SSE || r->opt.client_ping_s <= 0 ||
	    c->st != CS_READY || c->send.busy || r->phase >= PH_CLEANUP ||
	    (c->publisher && r->phase == PH_PUBLISH))	/* its invocations are enough */
		return;
	if (now - c->last_post < (int64_t)(r->opt.client_ping_s * NS_PER_S))
		return;
	send_hub(c, &c->send, REQ_PING, "POST", "{\"type\":6}\x1e", 11);
}

/* Every request that went unanswered too long: an invocation or a publish is abandoned
 * (its connection closed, the next message goes on a new one); a client whose poll,
 * stream or setup request is stuck fails. */
static void
sweep_overdue(struct run *r, int64_t now)
{
	for (int i = 0; i < r->nclients; i++) {
		struct client *c = &r->clients[i];
		struct hconn *hs[2] = { &c->recv, &c->send };

		if (c->dead)
			continue;
		client_ping(c, now);
		for (int k = 0; k < 2 && !c->dead; k++) {
			struct hconn *h = hs[k];
			double waited = (double)(now - (h->streaming && h->head_done ? h->last_rx :
			    h->req_start)) / NS_PER_S;

			if (!hconn_overdue(r, h, now))
				continue;
			if (h->kind == REQ_INVOKE || h->kind == REQ_NCHAN_PUB) {
				report(r, E_REQUEST_TIMEOUT, c, "%s unanswered after %.0f s; abandoned",
				    req_names[h->kind], waited);
				hconn_close(h);
				h->busy = false;
				if (c->inflight == h->msg)
					c->inflight = -1;
				continue;
			}
			hconn_close(h);
			h->busy = false;
			client_fail(c, E_REQUEST_TIMEOUT, "%s %s after %.0f s", req_names[h->kind],
			    h->streaming && h->head_done ? "silent" : "unanswered", waited);
		}
	}
}

static void
run_timers(struct run *r, int64_t now)
{
	if (now >= r->next_sweep) {
		r->next_sweep = now + NS_PER_S / 2;
		sweep_overdue(r, now);
	}
	if (interrupted && r->phase != PH_END) {
		r->aborted = "interrupted";
		r->aborted_in = r->phase;
		enter(r, PH_END, now);
	}
	if (now >= r->global_deadline && r->phase != PH_END) {
		r->aborted = "global deadline (--timeout) reached";
		r->aborted_in = r->phase;
		report(r, E_DEADLINE, NULL, "global deadline reached in phase %s", phase_names[r->phase]);
		enter(r, PH_END, now);
	}
	switch (r->phase) {
	case PH_SETUP:
		while (r->starting < r->opt.connect_concurrency && r->next_start < r->nclients) {
			r->starting++;
			client_start(&r->clients[r->next_start++]);
		}
		if ((r->next_start == r->nclients && r->starting <= 0) || now >= r->setup_deadline)
			after_setup(r, now);
		break;
	case PH_WAITSUBS: {
		bool all = true;

		for (int i = 0; i < r->nclients; i++) {
			struct client *c = &r->clients[i];

			if (!c->publisher || c->st != CS_READY || c->subs_ok)
				continue;
			all = false;
			if (!c->send.busy && now >= c->info_next)
				send_nchan_info(c);
		}
		if (all || now >= r->setup_deadline) {
			if (!all && !r->opt.quiet)
				fprintf(stderr, "loadgen: nchan's channel info still counts fewer"
				    " subscribers; publishing anyway\n");
			enter(r, PH_IDLE, now);
			r->idle_end = now + (int64_t)(r->opt.idle_s * NS_PER_S);
			write_ready_file(r);
		}
		break;
	}
	case PH_IDLE:
		if (now >= r->idle_end && (r->opt.go_file == NULL || access(r->opt.go_file, F_OK) == 0))
			start_publishing(r, now);
		break;
	case PH_PUBLISH:
		for (int i = 0; i < r->nclients; i++)
			if (r->clients[i].publisher)
				publisher_tick(&r->clients[i], now);
		if (publishing_done(r, now)) {
			enter(r, PH_DRAIN, now);
			r->drain_deadline = now + (int64_t)(r->opt.settle_s * NS_PER_S);
		}
		break;
	case PH_DRAIN:
		if (drained(r) || now >= r->drain_deadline)
			start_cleanup(r, now);
		break;
	case PH_CLEANUP:
		cleanup_tick(r);
		if ((r->cleanup_next >= r->nclients && r->cleanup_active <= 0) ||
		    now >= r->cleanup_deadline) {
			if (r->cleanup_active > 0)
				report(r, E_CLEANUP, NULL, "%d DELETEs unanswered at the cleanup deadline",
				    r->cleanup_active);
			enter(r, PH_END, now);
		}
		break;
	case PH_END:
		break;
	}
}

/* ---------------------------------------------------------------- results */

struct stat3 {
	double p50, p99, max;
};

static const char *
transport_name(enum transport t)
{
	return t == TRANSPORT_LP ? "lp" : t == TRANSPORT_SSE ? "sse" : "mixed";
}

static struct stat3
stat_of(struct samples *s)
{
	struct stat3 st;

	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
	st.p50 = pct_ms(s->v, s->n, 50);
	st.p99 = pct_ms(s->v, s->n, 99);
	st.max = pct_ms(s->v, s->n, 100);
	return st;
}

static json_object *
jnum(double v)
{
	return isnan(v) ? NULL : json_object_new_double(round(v * 1000) / 1000);
}

static json_object *
jstat(struct stat3 s, size_t n)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "p50", jnum(s.p50));
	json_object_object_add(o, "p99", jnum(s.p99));
	json_object_object_add(o, "max", jnum(s.max));
	json_object_object_add(o, "count", json_object_new_int64((int64_t)n));
	return o;
}

static int
cmp_delivery(const void *a, const void *b)
{
	const struct delivery *x = a, *y = b;

	if (x->msg != y->msg)
		return (x->msg > y->msg) - (x->msg < y->msg);
	return (x->lat > y->lat) - (x->lat < y->lat);
}

static const char *
fmt_ms(char *out, size_t len, double v)
{
	if (isnan(v))
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.2f", v);
	return out;
}

/* Per --bucket seconds of publishing (by send time): messages, deliveries per second,
 * latency over all receivers and per transport, missing and duplicate deliveries.
 * r->dl must be sorted by message. Printed, and returned as a JSON array. */
static json_object *
bucket_results(struct run *r)
{
	json_object *arr = json_object_new_array();
	int64_t width = (int64_t)(r->opt.bucket_s * NS_PER_S);
	long m = 0;
	size_t i = 0;
	char a[32], b[32], c[32], d[32], e[32];

	if (width <= 0 || r->publish_start == 0 || r->nmsgs == 0)
		return arr;
	printf("per %.0f s:   (from send time) sent, deliveries/s, latency ms p50 / p99 / max,"
	    " LP p99, SSE p99, missing, duplicate, not received by clients that failed later,"
	    " clients failed\n", r->opt.bucket_s);
	for (int k = 0; m < r->nmsgs; k++) {
		int64_t end = r->publish_start + (k + 1) * width;
		struct samples all = { 0 }, lp = { 0 }, sse = { 0 }, rtt = { 0 };
		long long sent = 0, got = 0, miss = 0, dup = 0, members = 0, cut = 0, failed = 0;
		struct stat3 st, sl, ss, sr;
		json_object *o;

		for (; m < r->nmsgs && r->msgs[m].sent_ns < end; m++) {
			const struct msg *mm = &r->msgs[m];

			sent++;
			got += mm->received;
			miss += mm->missing;
			cut += mm->cut;
			dup += mm->dups;
			members += mm->received + mm->missing + mm->cut;
			if (mm->completed)
				samples_add(&rtt, mm->complete_ns - mm->sent_ns);
			for (; i < r->ndl && r->dl[i].msg == m; i++) {
				samples_add(&all, r->dl[i].lat);
				samples_add(r->dl[i].sse ? &sse : &lp, r->dl[i].lat);
			}
		}
		for (int q = 0; q < r->nclients; q++) {
			int64_t tf = r->clients[q].t_failed;

			if (tf != 0 && tf >= end - width && (tf < end || m >= r->nmsgs))
				failed++;
		}
		st = stat_of(&all);
		sl = stat_of(&lp);
		ss = stat_of(&sse);
		sr = stat_of(&rtt);
		printf("  %3d  %6lld  %8.1f  %s / %s / %s  %s  %s  %lld  %lld  %lld  %lld\n", k, sent,
		    (double)all.n / r->opt.bucket_s, fmt_ms(a, sizeof(a), st.p50),
		    fmt_ms(b, sizeof(b), st.p99), fmt_ms(c, sizeof(c), st.max),
		    fmt_ms(d, sizeof(d), sl.p99), fmt_ms(e, sizeof(e), ss.p99), miss, dup, cut, failed);
		o = json_object_new_object();
		json_object_object_add(o, "bucket", json_object_new_int(k));
		json_object_object_add(o, "start_s", json_object_new_double((double)k * r->opt.bucket_s));
		json_object_object_add(o, "sent", json_object_new_int64(sent));
		json_object_object_add(o, "expected", json_object_new_int64(members));
		json_object_object_add(o, "received", json_object_new_int64(got));
		json_object_object_add(o, "receipts", json_object_new_int64((int64_t)all.n));
		json_object_object_add(o, "missing", json_object_new_int64(miss));
		json_object_object_add(o, "cut_by_failure", json_object_new_int64(cut));
		json_object_object_add(o, "clients_failed", json_object_new_int64(failed));
		json_object_object_add(o, "duplicate", json_object_new_int64(dup));
		json_object_object_add(o, "deliveries_per_s", jnum((double)all.n / r->opt.bucket_s));
		json_object_object_add(o, "latency_ms", jstat(st, all.n));
		json_object_object_add(o, "lp_ms", jstat(sl, lp.n));
		json_object_object_add(o, "sse_ms", jstat(ss, sse.n));
		json_object_object_add(o, "sent_per_s", jnum((double)sent / r->opt.bucket_s));
		json_object_object_add(o, "rtt_ms", jstat(sr, rtt.n));
		json_object_array_add(arr, o);
		free(all.v);
		free(lp.v);
		free(sse.v);
		free(rtt.v);
	}
	return arr;
}

static int
results(struct run *r)
{
	struct samples all = { 0 };
	struct stat3 lat, con, fp, rtt, post, med = { NAN, NAN, NAN };
	double *p50s, *p99s, *maxs, *lasts, med_last = NAN, publish_s, tput = NAN;
	long long missing = 0, cut = 0, dup = 0, total_err = 0;
	json_object *root, *o, *pm, *buckets;
	char a[32], b[32], c[32], d[32];
	size_t i, j;
	long m;

	/* Exactly once: every member that was connected when a message was sent (and did
	 * not fail before) must have it; duplicates were counted as they came. What a
	 * member that failed later lacks is counted apart (cut): its failure is already
	 * an error, and the server may still hold it for a reconnect. */
	for (m = 0; m < r->nmsgs; m++) {
		struct msg *mm = &r->msgs[m];

		mm->missing = mm->cut = 0;
		for (int k = mm->group; k < r->nclients; k += r->opt.groups) {
			const struct client *cl = &r->clients[k];
			size_t byte = (size_t)mm->gseq / 8;

			if (!cl->subscriber || cl->idx == mm->publisher || !cl->ever_ready ||
			    cl->t_ready > mm->sent_ns || (cl->t_failed != 0 && cl->t_failed <= mm->sent_ns))
				continue;
			if (byte >= cl->seen_cap || !(cl->seen[byte] & (1u << (mm->gseq % 8)))) {
				if (cl->t_failed != 0)
					mm->cut++;
				else
					mm->missing++;
			}
		}
		missing += mm->missing;
		cut += mm->cut;
		dup += mm->dups;
		if (!mm->completed)
			r->errors[E_INVOKE_TIMEOUT]++;
	}
	r->errors[E_MISSING] += missing;
	for (int e = 0; e < E_COUNT; e++)
		total_err += r->errors[e];

	/* Per message: its own p50/p99/max; the run reports the median over messages. */
	if (r->ndl > 0)
		qsort(r->dl, r->ndl, sizeof(*r->dl), cmp_delivery);
	p50s = xrealloc(NULL, (size_t)(r->nmsgs + 1) * sizeof(double));
	p99s = xrealloc(NULL, (size_t)(r->nmsgs + 1) * sizeof(double));
	maxs = xrealloc(NULL, (size_t)(r->nmsgs + 1) * sizeof(double));
	lasts = xrealloc(NULL, (size_t)(r->nmsgs + 1) * sizeof(double));
	pm = json_object_new_array();
	for (m = 0, i = 0; m < r->nmsgs; m++) {
		struct samples one = { 0 };

		for (j = i; j < r->ndl && r->dl[j].msg == m; j++) {
			samples_add(&one, r->dl[j].lat);
			samples_add(&all, r->dl[j].lat);
		}
		i = j;
		{
			struct stat3 s = stat_of(&one);

			p50s[m] = s.p50;
			p99s[m] = s.p99;
			maxs[m] = s.max;
			/* Time until every receiver had it: never (infinite) when one did not. */
			if (r->msgs[m].expected == 0)
				lasts[m] = NAN;
			else
				lasts[m] = r->msgs[m].received >= r->msgs[m].expected ? s.max : INFINITY;
			if (r->nmsgs <= 200 && r->msgs[m].expected > 0) {
				o = jstat(s, one.n);
				json_object_object_add(o, "expected",
				    json_object_new_int(r->msgs[m].expected));
				json_object_object_add(o, "group", json_object_new_int(r->msgs[m].group));
				json_object_array_add(pm, o);
			}
		}
		free(one.v);
	}
	if (r->nmsgs > 0) {
		med.p50 = median_d(p50s, (size_t)r->nmsgs);
		med.p99 = median_d(p99s, (size_t)r->nmsgs);
		med.max = median_d(maxs, (size_t)r->nmsgs);
		med_last = median_d(lasts, (size_t)r->nmsgs);
		if (isinf(med_last))
			med_last = NAN;	/* most messages never reached everyone */
	}
	lat = stat_of(&all);
	con = stat_of(&r->connect);
	fp = stat_of(&r->first_poll);
	rtt = stat_of(&r->rtt);
	post = stat_of(&r->post);
	publish_s = r->publish_start ? (double)((r->publish_end != INT64_MAX ? r->publish_end :
	    r->last_send) - r->publish_start) / NS_PER_S : 0;
	if (duration_mode(r) && publish_s > 0)
		tput = (double)r->completions_in_window / publish_s;

	printf("== %s: %s %s, %d clients in %d groups, %d publishers ==\n",
	    r->opt.label ? r->opt.label : "loadgen",
	    is_hub(r) ? "pollhub" : "nchan", transport_name(r->opt.transport),
	    r->nclients, r->opt.groups, r->opt.publishers);
	printf("setup:       %d ready, %d failed; connect ms p50 %s p99 %s max %s\n", r->ready,
	    r->failed, fmt_ms(a, sizeof(a), con.p50), fmt_ms(b, sizeof(b), con.p99),
	    fmt_ms(c, sizeof(c), con.max));
	if (is_hub(r))
		printf("first poll:  negotiate + first poll (LP) or stream open (SSE) ms p50 %s p99 %s max %s\n",
		    fmt_ms(a, sizeof(a), fp.p50), fmt_ms(b, sizeof(b), fp.p99), fmt_ms(c, sizeof(c), fp.max));
	printf("deliveries:  %lld expected, %zu received, %lld missing, %lld duplicate",
	    r->expected_total, r->ndl, missing, dup);
	if (cut > 0)
		printf("; %lld not received by clients that failed later", cut);
	printf("\n");
	printf("latency ms:  p50 %s p99 %s max %s (all deliveries)\n", fmt_ms(a, sizeof(a), lat.p50),
	    fmt_ms(b, sizeof(b), lat.p99), fmt_ms(c, sizeof(c), lat.max));
	printf("per message: median of p50 %s p99 %s max %s; all delivered after %s ms (median)\n",
	    fmt_ms(a, sizeof(a), med.p50), fmt_ms(b, sizeof(b), med.p99),
	    fmt_ms(c, sizeof(c), med.max), fmt_ms(d, sizeof(d), med_last));
	printf("%s %ld sent, %lld answered; rtt ms p50 %s p99 %s max %s; POST ms p50 %s\n",
	    is_hub(r) ? "invocations:" : "publishes:  ", r->nmsgs, r->completions,
	    fmt_ms(a, sizeof(a), rtt.p50), fmt_ms(b, sizeof(b), rtt.p99),
	    fmt_ms(c, sizeof(c), rtt.max), fmt_ms(d, sizeof(d), post.p50));
	if (!duration_mode(r) && r->nmsgs < (long)r->opt.messages * r->opt.publishers)
		printf("behind:      %ld of %ld messages sent before --publish-limit (publishers waited"
		    " for their previous POST)\n", r->nmsgs, (long)r->opt.messages * r->opt.publishers);
	if (duration_mode(r))
		printf("throughput:  %.1f per second (%lld answered in %.1f s)\n", tput,
		    r->completions_in_window, publish_s);
	buckets = bucket_results(r);
	printf("errors:      %lld", total_err);
	for (int e = 0; e < E_COUNT; e++)
		if (r->errors[e])
			printf(" %s=%lld", err_names[e], r->errors[e]);
	for (int s = 0; s < 600; s++)
		if (r->http_status[s])
			printf(" [HTTP %d: %lld]", s, r->http_status[s]);
	printf("\n");
	if (r->aborted)
		printf("ABORTED:     %s (phase %s)\n", r->aborted, phase_names[r->aborted_in]);
	printf("sockets:     at most %d open at once\n", r->max_open_fds);
	fflush(stdout);

	if (r->opt.json_path != NULL) {
		root = json_object_new_object();
		json_object_object_add(root, "label", r->opt.label ? json_object_new_string(r->opt.label) : NULL);
		json_object_object_add(root, "target", json_object_new_string(is_hub(r) ? "pollhub" : "nchan"));
		json_object_object_add(root, "transport",
		    json_object_new_string(transport_name(r->opt.transport)));
		json_object_object_add(root, "clients", json_object_new_int(r->nclients));
		json_object_object_add(root, "groups", json_object_new_int(r->opt.groups));
		json_object_object_add(root, "publishers", json_object_new_int(r->opt.publishers));
		json_object_object_add(root, "messages", json_object_new_int(r->opt.messages));
		json_object_object_add(root, "interval_ms", json_object_new_double(r->opt.interval_ms));
		json_object_object_add(root, "duration_s", json_object_new_double(r->opt.duration_s));
		o = json_object_new_object();
		json_object_object_add(o, "ready", json_object_new_int(r->ready));
		json_object_object_add(o, "failed", json_object_new_int(r->failed));
		json_object_object_add(o, "connect_ms", jstat(con, r->connect.n));
		json_object_object_add(o, "first_poll_ms", jstat(fp, r->first_poll.n));
		json_object_object_add(o, "bearer", json_object_new_boolean(r->opt.bearer != NULL));
		json_object_object_add(o, "note", r->setup_note[0] ? json_object_new_string(r->setup_note) : NULL);
		json_object_object_add(root, "setup", o);
		o = json_object_new_object();
		json_object_object_add(o, "expected", json_object_new_int64(r->expected_total));
		json_object_object_add(o, "received", json_object_new_int64((int64_t)r->ndl));
		json_object_object_add(o, "missing", json_object_new_int64(missing));
		json_object_object_add(o, "cut_by_failure", json_object_new_int64(cut));
		json_object_object_add(o, "duplicate", json_object_new_int64(dup));
		json_object_object_add(root, "deliveries", o);
		json_object_object_add(root, "latency_ms", jstat(lat, all.n));
		o = jstat(med, (size_t)r->nmsgs);
		json_object_object_add(o, "all_delivered", jnum(med_last));
		json_object_object_add(root, "per_message_median_ms", o);
		json_object_object_add(root, "per_message", pm);
		pm = NULL;
		json_object_object_add(root, "bucket_s", json_object_new_double(r->opt.bucket_s));
		json_object_object_add(root, "per_bucket", buckets);
		buckets = NULL;
		o = json_object_new_object();
		json_object_object_add(o, "sent", json_object_new_int64(r->nmsgs));
		json_object_object_add(o, "planned", json_object_new_int64(duration_mode(r) ? r->nmsgs :
		    (int64_t)r->opt.messages * r->opt.publishers));
		json_object_object_add(o, "answered", json_object_new_int64(r->completions));
		json_object_object_add(o, "rtt_ms", jstat(rtt, r->rtt.n));
		json_object_object_add(o, "post_ms", jstat(post, r->post.n));
		json_object_object_add(root, "invocations", o);
		json_object_object_add(root, "throughput_per_s", jnum(tput));
		o = json_object_new_object();
		json_object_object_add(o, "total", json_object_new_int64(total_err));
		for (int e = 0; e < E_COUNT; e++)
			json_object_object_add(o, err_names[e], json_object_new_int64(r->errors[e]));
		json_object_object_add(root, "errors", o);
		o = json_object_new_object();
		for (int s = 0; s < 600; s++)
			if (r->http_status[s]) {
				snprintf(a, sizeof(a), "%d", s);
				json_object_object_add(o, a, json_object_new_int64(r->http_status[s]));
			}
		json_object_object_add(root, "http_status", o);
		json_object_object_add(root, "max_open_sockets", json_object_new_int(r->max_open_fds));
		json_object_object_add(root, "aborted", r->aborted ? json_object_new_string(r->aborted) : NULL);
		json_object_object_add(root, "aborted_in",
		    r->aborted ? json_object_new_string(phase_names[r->aborted_in]) : NULL);
		json_object_object_add(root, "ok", json_object_new_boolean(total_err == 0 && !r->aborted));
		if (json_object_to_file_ext(r->opt.json_path, root, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE) == -1)
			fprintf(stderr, "loadgen: cannot write %s: %s\n", r->opt.json_path, strerror(errno));
		json_object_put(root);
	}
	json_object_put(pm);
	json_object_put(buckets);
	free(p50s);
	free(p99s);
	free(maxs);
	free(lasts);
	free(all.v);
	return total_err == 0 && !r->aborted ? 0 : 1;
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *f)
{
	fputs("usage: loadgen [options]\n"
	    "  --target pollhub|nchan     server kind (pollhub)\n"
	    "  --transport lp|sse         long polling or server-sent events / EventSource (lp)\n"
	    "  --host ADDR --port N       IPv4 address and port (127.0.0.1:8080)\n"
	    "  --port N1,N2,...           several front ends of one server (at most 8): client i\n"
	    "                             uses the (i / G %% count)-th\n"
	    "  --hub-path PATH            pollhub hub path (/meetings)\n"
	    "  --sub-prefix P --pub-prefix P   nchan locations (/sub/, /pub/)\n"
	    "  --clients N                clients, publishers included (10)\n"
	    "  --groups G                 groups / channels; client i is in group i %% G (1)\n"
	    "  --group-prefix S           group and channel name prefix (lg<pid>-)\n"
	    "  --publishers P             clients 0..P-1 publish (1); for nchan they do not subscribe\n"
	    "  --messages M               messages per publisher, spaced (1)\n"
	    "  --interval MS              spacing of one publisher's messages (200)\n"
	    "  --duration S               instead: invoke back-to-back for S seconds (throughput)\n"
	    "  --idle S                   hold every client connected S seconds before publishing\n"
	    "  --ready-file PATH          written when the idle phase starts\n"
	    "  --settle S                 wait at most S seconds for deliveries after publishing (10)\n"
	    "  --setup-timeout S          clients not connected by then count as failed (auto)\n"
	    "  --timeout S                global deadline (auto)\n"
	    "  --connect-concurrency N    clients connecting at once (128)\n"
	    "  --source-addrs N           spread sockets over source addresses 127.0.0.1..N (1)\n"
	    "  --keepalive S              reconnect a connection idle longer than S (4)\n"
	    "  --request-timeout S        a negotiate, POST or DELETE unanswered after S fails (100)\n"
	    "  --poll-timeout S           a held poll unanswered after S fails (120)\n"
	    "  --stream-idle-timeout S    an event stream silent for S fails (45; pings every 15)\n"
	    "  --client-ping S            SSE clients POST a Ping after S quiet seconds (15; 0 never)\n"
	    "  --bearer-file FILE         send the token in FILE as Authorization: Bearer on every\n"
	    "                             pollhub request (access_token in an event stream's query)\n"
	    "  --no-cleanup               do not DELETE pollhub connections at the end\n"
	    "  --transport mixed          half LP, half SSE: client i is SSE when i / G + i %% G is\n"
	    "                             odd (every group and the publishers half each)\n"
	    "  --go-file PATH             publishing waits (after --idle) until PATH exists\n"
	    "  --bucket S                 also report latency, deliveries and losses per S seconds\n"
	    "  --publish-limit S          stop publishing after S seconds, messages left or not\n"
	    "  --inject-drop N            ignore the N-th delivery (checks the loss accounting)\n"
	    "  --inject-dup N             count the N-th delivery twice (checks the duplicates)\n"
	    "  --stop-reading I:S         client I stops reading S s after publishing starts\n"
	    "  --json FILE                write the results as JSON\n"
	    "  --label TEXT               name of the run in the output\n"
	    "  --quiet                    no phase messages on stderr\n"
	    "Exit status: 0 no error, 1 errors were counted (results still printed), 2 usage.\n", f);
}

/* The token in path (one line; surrounding blanks dropped), or NULL with a message: it
 * must be non-empty and have only the bytes a JWT has. Never freed (one per run). */
static char *
read_bearer(const char *path)
{
	char line[16384], *t, *end;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "loadgen: --bearer-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	t = fgets(line, sizeof(line), f);
	fclose(f);
	if (t == NULL) {
		fprintf(stderr, "loadgen: --bearer-file %s is empty\n", path);
		return NULL;
	}
	t += strspn(t, " \t");
	end = t + strcspn(t, " \t\r\n");
	*end = '\0';
	if (*t == '\0' || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") != (size_t)(end - t)) {
		fprintf(stderr, "loadgen: --bearer-file %s does not hold a JWT\n", path);
		return NULL;
	}
	return strdup(t);
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static char prefix[32];
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 'T' },
		{ "transport", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "hub-path", required_argument, NULL, 'P' },
		{ "sub-prefix", required_argument, NULL, 'S' },
		{ "pub-prefix", required_argument, NULL, 'B' },
		{ "clients", required_argument, NULL, 'c' },
		{ "groups", required_argument, NULL, 'g' },
		{ "group-prefix", required_argument, NULL, 'G' },
		{ "publishers", required_argument, NULL, 'u' },
		{ "messages", required_argument, NULL, 'm' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "idle", required_argument, NULL, 'I' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "settle", required_argument, NULL, 's' },
		{ "setup-timeout", required_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 'x' },
		{ "connect-concurrency", required_argument, NULL, 'C' },
		{ "source-addrs", required_argument, NULL, 'A' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "request-timeout", required_argument, NULL, 'r' },
		{ "poll-timeout", required_argument, NULL, 'o' },
		{ "stream-idle-timeout", required_argument, NULL, 'e' },
		{ "client-ping", required_argument, NULL, 'w' },
		{ "no-cleanup", no_argument, NULL, 'n' },
		{ "go-file", required_argument, NULL, 'O' },
		{ "bucket", required_argument, NULL, 'K' },
		{ "publish-limit", required_argument, NULL, 'M' },
		{ "inject-drop", required_argument, NULL, 'D' },
		{ "inject-dup", required_argument, NULL, 'E' },
		{ "stop-reading", required_argument, NULL, 'Z' },
		{ "bearer-file", required_argument, NULL, 'b' },
		{ "json", required_argument, NULL, 'j' },
		{ "label", required_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	snprintf(prefix, sizeof(prefix), "lg%ld-", (long)getpid());
	o->host = "127.0.0.1";
	o->port = o->ports[0] = 8080;
	o->nports = 1;
	o->hub_path = "/meetings";
	o->sub_prefix = "/sub/";
	o->pub_prefix = "/pub/";
	o->group_prefix = prefix;
	o->clients = 10;
	o->groups = 1;
	o->publishers = 1;
	o->messages = 1;
	o->interval_ms = 200;
	o->settle_s = 10;
	o->keepalive_s = 4;
	o->cleanup_timeout_s = 30;
	o->request_timeout_s = 100;	/* the TypeScript client's HTTP timeout */
	o->poll_timeout_s = 120;
	o->stream_idle_s = 45;
	o->client_ping_s = 15;
	o->connect_concurrency = 128;
	o->source_addrs = 1;
	o->cleanup = true;
	o->stop_client = -1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'T':
			if (strcmp(optarg, "pollhub") == 0)
				o->target = TARGET_POLLHUB;
			else if (strcmp(optarg, "nchan") == 0)
				o->target = TARGET_NCHAN;
			else
				return -1;
			break;
		case 't':
			if (strcmp(optarg, "lp") == 0)
				o->transport = TRANSPORT_LP;
			else if (strcmp(optarg, "sse") == 0)
				o->transport = TRANSPORT_SSE;
			else if (strcmp(optarg, "mixed") == 0)
				o->transport = TRANSPORT_MIXED;
			else
				return -1;
			break;
		case 'H': o->host = optarg; break;
		case 'p': {
			char *q = optarg, *e;

			for (o->nports = 0; o->nports < 8; q = e + 1) {
				long v = strtol(q, &e, 10);

				if (e == q || v <= 0 || v > 65535 || (*e != ',' && *e != '\0'))
					return -1;
				o->ports[o->nports++] = (int)v;
				if (*e == '\0')
					break;
			}
			if (*e != '\0')
				return -1;
			o->port = o->ports[0];
			break;
		}
		case 'P': o->hub_path = optarg; break;
		case 'S': o->sub_prefix = optarg; break;
		case 'B': o->pub_prefix = optarg; break;
		case 'c': o->clients = atoi(optarg); break;
		case 'g': o->groups = atoi(optarg); break;
		case 'G': o->group_prefix = optarg; break;
		case 'u': o->publishers = atoi(optarg); break;
		case 'm': o->messages = atoi(optarg); break;
		case 'i': o->interval_ms = atof(optarg); break;
		case 'd': o->duration_s = atof(optarg); break;
		case 'I': o->idle_s = atof(optarg); break;
		case 'R': o->ready_file = optarg; break;
		case 's': o->settle_s = atof(optarg); break;
		case 'U': o->setup_timeout_s = atof(optarg); break;
		case 'x': o->timeout_s = atof(optarg); break;
		case 'C': o->connect_concurrency = atoi(optarg); break;
		case 'A': o->source_addrs = atoi(optarg); break;
		case 'k': o->keepalive_s = atof(optarg); break;
		case 'r': o->request_timeout_s = atof(optarg); break;
		case 'o': o->poll_timeout_s = atof(optarg); break;
		case 'e': o->stream_idle_s = atof(optarg); break;
		case 'w': o->client_ping_s = atof(optarg); break;
		case 'n': o->cleanup = false; break;
		case 'O': o->go_file = optarg; break;
		case 'K': o->bucket_s = atof(optarg); break;
		case 'M': o->publish_limit_s = atof(optarg); break;
		case 'D': o->inject_drop = atoll(optarg); break;
		case 'E': o->inject_dup = atoll(optarg); break;
		case 'Z':
			if (sscanf(optarg, "%d:%lf", &o->stop_client, &o->stop_s) != 2 ||
			    o->stop_client < 0 || o->stop_s < 0)
				return -1;
			break;
		case 'b':
			if ((o->bearer = read_bearer(optarg)) == NULL)
				return -1;
			break;
		case 'j': o->json_path = optarg; break;
		case 'L': o->label = optarg; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || o->port <= 0 || o->port > 65535 || o->clients < 1 ||
	    o->groups < 1 || o->publishers < 0 || o->publishers > o->clients ||
	    o->messages < 0 || o->interval_ms < 0 || o->duration_s < 0 || o->idle_s < 0 ||
	    o->settle_s < 0 || o->connect_concurrency < 1 || o->source_addrs < 1 ||
	    o->source_addrs > 250 || o->keepalive_s <= 0 || o->request_timeout_s <= 0 ||
	    o->poll_timeout_s <= 0 || o->stream_idle_s <= 0 || strlen(o->group_prefix) > 64 ||
	    o->bucket_s < 0 || o->inject_drop < 0 || o->inject_dup < 0)
		return -1;
	if (o->setup_timeout_s <= 0)
		o->setup_timeout_s = 30 + o->clients / 50.0;
	if (o->timeout_s <= 0)
		o->timeout_s = o->setup_timeout_s + 15 + o->idle_s + o->duration_s +
		    o->messages * o->interval_ms / 1000.0 + o->settle_s + o->cleanup_timeout_s + 10;
	return 0;
}

/* Each client may hold two sockets; ask for the room (root may raise the hard limit). */
static void
raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit more = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		fprintf(stderr, "loadgen: warning: only %llu file descriptors (want %llu)\n",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

int
main(int argc, char **argv)
{
	static struct run run;
	struct run *r = &run;
	struct epoll_event evs[1024];
	struct sigaction sa;
	int rc;

	if (parse_options(argc, argv, &r->opt) == -1) {
		usage(stderr);
		return 2;
	}
	memset(r->addr, 0, sizeof(r->addr));
	for (int k = 0; k < r->opt.nports; k++) {
		r->addr[k].sin_family = AF_INET;
		r->addr[k].sin_port = htons((uint16_t)r->opt.ports[k]);
		if (inet_pton(AF_INET, r->opt.host, &r->addr[k].sin_addr) != 1) {
			fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
			return 2;
		}
	}
	raise_nofile((rlim_t)r->opt.clients * 2 + 256);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("loadgen: epoll_create1");
		return 3;
	}
	r->tok = json_tokener_new_ex(32);
	r->nclients = r->opt.clients;
	r->clients = calloc((size_t)r->nclients, sizeof(*r->clients));
	r->ready_in_group = calloc((size_t)r->opt.groups, sizeof(int));
	r->group_sent = calloc((size_t)r->opt.groups, sizeof(int));
	r->dead = calloc((size_t)r->nclients, sizeof(int));
	if (r->clients == NULL || r->ready_in_group == NULL || r->group_sent == NULL ||
	    r->dead == NULL || r->tok == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 3;
	}
	for (int i = 0; i < r->nclients; i++) {
		struct client *c = &r->clients[i];

		c->run = r;
		c->idx = i;
		c->group = i % r->opt.groups;
		c->publisher = i < r->opt.publishers;
		c->port_idx = i / r->opt.groups % r->opt.nports;
		c->tr = r->opt.transport != TRANSPORT_MIXED ? r->opt.transport :
		    (i / r->opt.groups + i % r->opt.groups) % 2 ? TRANSPORT_SSE : TRANSPORT_LP;
		/* nchan publishers only publish; pollhub publishers are members like browsers. */
		c->subscriber = is_hub(r) || !c->publisher;
		c->inflight = -1;
		hconn_init(&c->recv, c);
		hconn_init(&c->send, c);
	}
	r->t0 = now_ns();
	r->phase = PH_SETUP;
	r->setup_deadline = r->t0 + (int64_t)(r->opt.setup_timeout_s * NS_PER_S);
	r->global_deadline = r->t0 + (int64_t)(r->opt.timeout_s * NS_PER_S);
	r->publish_end = INT64_MAX;

	while (r->phase != PH_END) {
		int timeout = r->phase == PH_PUBLISH || r->phase == PH_WAITSUBS ? 2 : 20;
		int n = epoll_wait(r->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);

		if (n == -1 && errno != EINTR) {
			perror("loadgen: epoll_wait");
			r->aborted = "epoll_wait failed";
			break;
		}
		for (int i = 0; i < n; i++) {
			struct hconn *h = evs[i].data.ptr;

			hconn_event(h, evs[i].events);
		}
		run_timers(r, now_ns());
		/* Close what finished, now that no parser of theirs is on the stack. */
		while (r->ndead > 0)
			client_finish(&r->clients[r->dead[--r->ndead]]);
	}
	rc = results(r);
	for (int i = 0; i < r->nclients; i++) {
		client_finish(&r->clients[i]);
		free(r->clients[i].seen);
	}
	json_tokener_free(r->tok);
	free(r->group_sent);
	free(r->clients);
	free(r->ready_in_group);
	free(r->dead);
	free(r->msgs);
	free(r->dl);
	free(r->connect.v);
	free(r->first_poll.v);
	free(r->rtt.v);
	free(r->post.v);
	close(r->epfd);
	return rc;
}
