#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "app.h"
#include "log.h"
#include "sse.h"

#define RESUME_STACK (256 * 1024)	/* like a worker thread's */

/* One parked stream: what the next image needs to go on writing it. */
struct parked {
	int		 fd;		/* the FastCGI connection */
	int		 request_id;
	int		 keep;		/* the web server asked to keep the connection */
	char		 token[64];
	struct poll_info pi;
};

struct handoff {
	pthread_mutex_t	 lock;
	struct parked	*list;
	size_t		 n, cap;
};

struct handoff *
handoff_new(void)
{
	struct handoff *ho = calloc(1, sizeof(*ho));

	if (ho != NULL)
		pthread_mutex_init(&ho->lock, NULL);
	return ho;
}

int
handoff_park(struct handoff *ho, struct http_request *h, const char *token,
    const struct poll_info *pi)
{
	struct parked *p;
	int rc = -1;

	if (strlen(token) >= sizeof(p->token) || FCGX_FFlush(h->fcgi->out) != 0)
		return -1;
	pthread_mutex_lock(&ho->lock);
	if (ho->n == ho->cap) {
		size_t cap = ho->cap ? ho->cap * 2 : 64;
		struct parked *grown = realloc(ho->list, cap * sizeof(*grown));

		if (grown == NULL)
			goto out;
		ho->list = grown;
		ho->cap = cap;
	}
	p = &ho->list[ho->n++];
	p->fd = h->fcgi->ipcFd;
	p->request_id = h->fcgi->requestId;
	p->keep = h->fcgi->keepConnection;
	snprintf(p->token, sizeof(p->token), "%s", token);
	p->pi = *pi;
	h->detached = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&ho->lock);
	return rc;
}

size_t
handoff_parked(struct handoff *ho)
{
	size_t n;

	pthread_mutex_lock(&ho->lock);
	n = ho->n;
	pthread_mutex_unlock(&ho->lock);
	return n;
}

static int
keep_open(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags == -1 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/* Mark every descriptor above 2 close-on-exec: libfcgi's and libpq's sockets
 * of requests and connections that do not cross over must not leak into the
 * next image (a web server would wait on them forever). */
static void
close_others_on_exec(void)
{
	int max = (int)sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++) {
		int flags = fcntl(fd, F_GETFD);

		if (flags != -1)
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	}
}

/* Group names may hold any byte but NUL: hex keeps one stream per line. */
static void
put_hex(FILE *f, const char *s)
{
	if (*s == '\0')
		fputc('-', f);
	for (; *s; s++)
		fprintf(f, "%02x", (unsigned char)*s);
}

int
handoff_exec(struct handoff *ho, const char *exe, char *const argv[], int listen_fd,
    char *err, size_t errlen)
{
	char num[24];
	FILE *f;
	int mfd, dup_fd;

	if ((mfd = memfd_create("pollhub-handoff", 0)) == -1 || (dup_fd = dup(mfd)) == -1 ||
	    (f = fdopen(dup_fd, "w")) == NULL) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&ho->lock);
	for (size_t i = 0; i < ho->n; i++) {
		const struct parked *p = &ho->list[i];

		fprintf(f, "%d %d %d %lld %s %s ", p->fd, p->request_id, p->keep, p->pi.poll_no,
		    p->token, p->pi.connection_id);
		put_hex(f, p->pi.group);
		fputc('\n', f);
	}
	pthread_mutex_unlock(&ho->lock);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		return -1;
	}
	close_others_on_exec();
	if (keep_open(mfd) == -1 || (listen_fd >= 0 && keep_open(listen_fd) == -1)) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < ho->n; i++)
		keep_open(ho->list[i].fd);
	snprintf(num, sizeof(num), "%d", mfd);
	setenv("POLLHUB_HANDOFF_FD", num, 1);
	if (listen_fd >= 0) {
		snprintf(num, sizeof(num), "%d", listen_fd);
		setenv("POLLHUB_LISTEN_FD", num, 1);
	}
	execv(exe, argv);
	snprintf(err, errlen, "exec %s: %s", exe, strerror(errno));
	return -1;
}

/* A descriptor number from the environment, removed from it. -1 if absent. */
static int
take_env_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long fd;

	if (v == NULL)
		return -1;
	fd = strtol(v, &end, 10);
	unsetenv(name);
	if (*end != '\0' || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) == -1)
		return -1;
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return (int)fd;
}

int
handoff_listen_fd(void)
{
	return take_env_fd("POLLHUB_LISTEN_FD");
}

/* End a resumed request as FCGX_Finish_r would: the end of stdout, then
 * FCGI_END_REQUEST, then the connection is closed. */
static void
end_request(FCGX_Request *req)
{
	FCGI_EndRequestRecord rec;

	FCGX_FClose(req->out);
	memset(&rec, 0, sizeof(rec));
	rec.header.version = FCGI_VERSION_1;
	rec.header.type = FCGI_END_REQUEST;
	rec.header.requestIdB1 = (unsigned char)(req->requestId >> 8);
	rec.header.requestIdB0 = (unsigned char)req->requestId;
	rec.header.contentLengthB0 = sizeof(rec.body);
	rec.body.protocolStatus = FCGI_REQUEST_COMPLETE;
	if (write(req->ipcFd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		log_debug("resumed stream: end of request not written: %s", strerror(errno));
	FCGX_FreeStream(&req->out);
	close(req->ipcFd);
}

struct resume_arg {
	struct app	*app;
	struct parked	 p;
};

static void *
resume_thread(void *arg)
{
	struct resume_arg *ra = arg;
	struct app *app = ra->app;
	char *no_params[] = { NULL };
	FCGX_Request req;
	struct http_request h;

	memset(&req, 0, sizeof(req));
	req.requestId = ra->p.request_id;
	req.role = FCGI_RESPONDER;
	req.envp = no_params;
	req.ipcFd = ra->p.fd;
	req.isBeginProcessed = 1;
	req.keepConnection = ra->p.keep;
	/* libfcgi's writer for a connection it did not accept; it keeps a small
	 * record of its own that it never frees (documented in fcgiapp.c). */
	req.out = FCGX_CreateWriter(ra->p.fd, ra->p.request_id, 8192, FCGI_STDOUT);
	if (req.out == NULL) {
		close(ra->p.fd);
		free(ra);
		return NULL;
	}
	atomic_fetch_add(&app->active, 1);
	http_request_init(&h, &req);
	sse_resume(app, &h, ra->p.token, &ra->p.pi);
	if (!h.detached)
		end_request(&req);
	atomic_fetch_sub(&app->active, 1);
	free(ra);
	return NULL;
}

static int
from_hex(const char *hex, char *out, size_t outlen)
{
	size_t n = 0;

	if (strcmp(hex, "-") == 0) {
		out[0] = '\0';
		return 0;
	}
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned int c;

		if (n + 1 >= outlen || sscanf(hex, "%2x", &c) != 1 || c == 0)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return *hex == '\0' ? 0 : -1;
}

int
handoff_resume(struct app *app)
{
	int mfd = take_env_fd("POLLHUB_HANDOFF_FD"), resumed = 0;
	char line[1024], hex[600];
	pthread_attr_t attr;
	FILE *f;

	if (mfd == -1 || lseek(mfd, 0, SEEK_SET) == -1 || (f = fdopen(mfd, "r")) == NULL) {
		if (mfd != -1)
			close(mfd);
		return 0;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, RESUME_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (fgets(line, sizeof(line), f) != NULL) {
		struct resume_arg *ra = calloc(1, sizeof(*ra));
		pthread_t tid;

		if (ra == NULL)
			break;
		ra->app = app;
		if (sscanf(line, "%d %d %d %lld %63s %63s %599s", &ra->p.fd, &ra->p.request_id,
		    &ra->p.keep, &ra->p.pi.poll_no, ra->p.token, ra->p.pi.connection_id, hex) != 7 ||
		    from_hex(hex, ra->p.pi.group, sizeof(ra->p.pi.group)) == -1 ||
		    fcntl(ra->p.fd, F_SETFD, FD_CLOEXEC) == -1) {
			log_error("handoff: a stream could not be resumed (bad record)");
			free(ra);
			continue;
		}
		if (pthread_create(&tid, &attr, resume_thread, ra) != 0) {
			log_error("handoff: no thread for connection %s", ra->p.pi.connection_id);
			close(ra->p.fd);
			free(ra);
			continue;
		}
		resumed++;
	}
	pthread_attr_destroy(&attr);
	fclose(f);
	return resumed;
}
