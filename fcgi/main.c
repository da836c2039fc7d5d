/*
 * pollhub: the FastCGI responder. Worker threads each serve one request at a
 * time over FCGX_Accept_r; a request to hold (a long poll with nothing to
 * answer yet, a stream) goes to the event loop (loop.h), which holds any
 * number of them without a thread each; a maintenance thread reaps idle connections;
 * the main thread waits for SIGTERM/SIGINT (stop) and SIGHUP (restart in
 * place, keeping every client: see handoff.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "auth.h"
#include "fanout.h"
#include "handoff.h"
#include "heldstreams.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "longpoll.h"
#include "loop.h"
#include "router.h"
#include "sse.h"
#include "version.h"

/* Present only in AddressSanitizer/LeakSanitizer builds. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

#define WORKER_STACK (256 * 1024)	/* requests use little stack; many threads */
#define REAP_INTERVAL 2			/* seconds between maintenance runs */
#define TRIM_AFTER (4u << 20)		/* bytes of large buffers freed before a malloc_trim */
#define ACCEPT_SLICE_MS 200		/* how soon a restart stops the accepting thread */
#define HANDOFF_WAIT 10			/* seconds requests in flight get before a restart */
#define BACKOFF_MIN_MS 100		/* out of descriptors: first pause before accepting again */
#define BACKOFF_MAX_MS 1000
#define LISTEN_BACKLOG 65535		/* the kernel caps it at net.core.somaxconn */

/* What a previous image may have parked, by the kind that takes it back: the
 * transports' held requests and the loop's own unwritten answers. */
static const struct hold_kind *const resumable[] = { &longpoll_kind, &sse_kind,
    &loop_answer_kind, NULL };

struct worker_ctx {
	struct app	*app;
	int		 listen_fd;
	pthread_mutex_t	*accept_lock;
	atomic_int	 live;		/* worker threads running */
	/* Guarded by accept_lock: */
	int		 backoff_ms;	/* 0, or the pause after the last EMFILE/ENFILE */
	long		 refused;	/* accept failures in this episode */
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000 * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* After FCGX_Accept_r (accept lock held): out of descriptors, pause (while
 * holding the lock, so no other thread spins either) before the next try,
 * longer each time; say so once per episode, and when it is over. */
static void
accept_outcome(struct worker_ctx *w, int rc)
{
	if (rc == -EMFILE || rc == -ENFILE) {
		if (w->backoff_ms == 0) {
			log_error("accept: out of file descriptors (%s); new requests wait"
			    " in the backlog, retrying every %d-%d ms", strerror(-rc),
			    BACKOFF_MIN_MS, BACKOFF_MAX_MS);
			w->backoff_ms = BACKOFF_MIN_MS;
		} else if ((w->backoff_ms *= 2) > BACKOFF_MAX_MS)
			w->backoff_ms = BACKOFF_MAX_MS;
		w->refused++;
		sleep_ms(w->backoff_ms);
		return;
	}
	if (rc >= 0 && w->backoff_ms != 0) {
		log_info("accept: accepting again after %ld refusal(s) for want of descriptors",
		    w->refused);
		w->backoff_ms = 0;
		w->refused = 0;
	}
}

static void *
worker(void *arg)
{
	struct worker_ctx *w = arg;
	FCGX_Request req;
	struct http_request h;

	if (FCGX_InitRequest(&req, w->listen_fd, 0) != 0) {
		log_error("FCGX_InitRequest failed");
		return NULL;
	}
	for (;;) {
		int rc;

		/* One thread in accept at a time, as fcgi2's threaded example does.
		 * It waits for a connection in slices, so that a restart can stop
		 * accepting (connections then wait in the backlog for the next
		 * image) by taking the lock. */
		pthread_mutex_lock(w->accept_lock);
		for (;;) {
			/* A connection the web server asked to keep carries its next
			 * request, or its end, on itself. */
			struct pollfd p[2] = {
				{ .fd = w->listen_fd, .events = POLLIN },
				{ .fd = req.ipcFd, .events = POLLIN },
			};

			if (atomic_load(&w->app->handing_off) ||
			    poll(p, req.ipcFd >= 0 ? 2 : 1, ACCEPT_SLICE_MS) != 0)
				break;
		}
		if (atomic_load(&w->app->handing_off)) {
			/* Counted out under the lock: a failed restart, holding it,
			 * knows how many threads to start again. */
			atomic_fetch_sub(&w->live, 1);
			pthread_mutex_unlock(w->accept_lock);
			return NULL;
		}
		rc = FCGX_Accept_r(&req);
		/* Active before the lock goes: a restart that takes it next must
		 * see this request. */
		if (rc >= 0) {
			atomic_fetch_add(&w->app->active, 1);
			/* libfcgi's accept() leaves it inheritable: only a parked
			 * stream's connection crosses an exec, opened for it then. */
			(void)fcntl(req.ipcFd, F_SETFD, FD_CLOEXEC);
		}
		accept_outcome(w, rc);
		pthread_mutex_unlock(w->accept_lock);
		if (rc < 0) {
			if (atomic_load(&w->app->stopping))
				break;
			if (rc != -EMFILE && rc != -ENFILE)
				log_warn("FCGX_Accept_r failed: %d", rc);
			continue;
		}
		http_request_init(&h, &req);
		router_handle(w->app, &h);
		/* A held request went to the event loop (http_detach): libfcgi
		 * has forgotten it, and this finishes nothing. */
		FCGX_Finish_r(&req);
		atomic_fetch_sub(&w->app->active, 1);
	}
	atomic_fetch_sub(&w->live, 1);
	return NULL;
}

/* Tell the database this process's streams are alive, so the reaper (which
 * removes active connections unseen for poll + disconnect timeout) only
 * takes those of a responder that died. */
static void
touch_streams(struct app *app, PGconn *db)
{
	struct buf ids = BUF_INIT;

	if (waiters_streams(app->waiters, &ids) > 0 && corestore_touch(db, ids.data) != PH_OK)
		log_warn("could not vouch for this process's streams");
	buf_free(&ids);
}

/* " and N more" after the 20 ids a maintenance line names. */
static const char *
more(int n)
{
	static __thread char text[32];

	if (n <= 20)
		return "";
	snprintf(text, sizeof(text), " and %d more", n - 20);
	return text;
}

static void *
maintenance(void *arg)
{
	struct app *app = arg;
	/* Well inside the reaper's limit for an active connection. */
	int touch_every = (app->cfg.poll_timeout + app->cfg.disconnect_timeout) / 3;
	time_t last_touch = 0;

	if (touch_every > 30)
		touch_every = 30;
	if (touch_every < 1)
		touch_every = 1;
	while (!atomic_load(&app->stopping)) {
		PGconn *db = pool_acquire(app->pool);
		struct maintain_result mr = { 0 };
		time_t now = time(NULL);

		if (db != NULL) {
			if (now - last_touch >= touch_every) {
				touch_streams(app, db);
				last_touch = now;
			}
			if (corestore_maintain(db, app->responder_id, app->cfg.poll_timeout,
			    app->cfg.disconnect_timeout, app->cfg.max_pending, &mr) == PH_OK) {
				if (mr.removed > 0)
					log_info("reaped %d idle connection(s): disconnected: reaped"
					    " (no poll for the disconnect timeout): %s%s", mr.removed,
					    LOG_TEXT(mr.removed_ids), more(mr.removed));
				if (mr.closed > 0)
					log_info("closed %d connection(s): disconnected: pending cap"
					    " (more than %d messages pending): %s%s", mr.closed,
					    app->cfg.max_pending, LOG_TEXT(mr.closed_ids), more(mr.closed));
				if (mr.skipped > 0)
					log_debug("maintenance skipped %d group(s) held by another"
					    " session", mr.skipped);
			}
			pool_release(app->pool, db);
		}
		/* Memory the streams and batches freed goes back to the system. */
		{
			struct timespec t0, t1;
			size_t freed;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			if ((freed = buf_trim(TRIM_AFTER)) > 0) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				log_debug("malloc_trim after %zu KiB of buffers freed: %ld us", freed / 1024,
				    (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
			}
		}
		sleep(REAP_INTERVAL);
	}
	return NULL;
}

/* Say in the database that this responder is alive with its timeouts: every
 * responder reaps by the longest of those alive (40_reap.sql), and we say so
 * when another's are longer than ours. */
static void
register_responder(struct app *app)
{
	char host[256];
	PGconn *db;
	int poll = app->cfg.poll_timeout, disc = app->cfg.disconnect_timeout;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	/* The pid survives a restart in place: the new image takes over the row. */
	snprintf(app->responder_id, sizeof(app->responder_id), "%s:%ld", host, (long)getpid());
	if ((db = pool_acquire(app->pool)) == NULL)
		return;
	if (corestore_responder_seen(db, app->responder_id, &poll, &disc) != PH_OK)
		log_warn("could not register this responder's timeouts");
	else if (poll != app->cfg.poll_timeout || disc != app->cfg.disconnect_timeout)
		log_info("reap thresholds in force: poll timeout %d s, disconnect timeout %d s"
		    " (another responder's are longer than this one's %d s / %d s)",
		    poll, disc, app->cfg.poll_timeout, app->cfg.disconnect_timeout);
	pool_release(app->pool, db);
}

static void
unregister_responder(struct app *app)
{
	PGconn *db = pool_acquire(app->pool);

	if (db == NULL)
		return;
	if (corestore_responder_leave(db, app->responder_id) != PH_OK)
		log_warn("could not unregister this responder; its row ages out");
	pool_release(app->pool, db);
}

/* systemd socket activation (sd_listen_fds): the first socket, fd 3. Called
 * while the process has one thread (unsetenv). */
static int
systemd_listener(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = -1;

	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid() &&
	    strtol(fds, NULL, 10) >= 1)
		fd = 3;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}

/* The listening socket: the one a previous image of this process passed
 * (restart in place), systemd's, POLLHUB_SOCKET, or fd 0 when the web server
 * or spawn-fcgi passed one. *ours: 1 when we opened it (it goes on to the
 * next image by number). */
static int
open_listener(const struct config *cfg, int systemd_fd, int *ours)
{
	struct stat st;
	int fd;

	*ours = 0;
	if ((fd = handoff_listen_fd()) >= 0 || (fd = systemd_fd) >= 0) {
		*ours = 1;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);	/* handoff_exec opens it for the next image */
		return fd;
	}
	if (cfg->socket[0] == '\0')
		return 0;
	*ours = 1;
	if (cfg->socket[0] == '/' && stat(cfg->socket, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cfg->socket);	/* a stale socket from a previous run */
	/* As deep a backlog as the kernel allows (net.core.somaxconn caps it): held
	 * requests leave it at once, but a burst of short ones (a thousand pages
	 * closing at once, each a DELETE) waits there for the workers; a full
	 * backlog makes lighttpd drop requests ("connection was dropped after
	 * accept()"). */
	if ((fd = FCGX_OpenSocket(cfg->socket, LISTEN_BACKLOG)) < 0)
		return -1;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* The web server may run as another user; the socket is the only door. */
	if (cfg->socket[0] == '/' && chmod(cfg->socket, 0666) == -1)
		log_warn("chmod %s: %s", cfg->socket, strerror(errno));
	return fd;
}

/* Start n more worker threads; returns how many started. */
static int
start_workers(struct worker_ctx *w, int n)
{
	pthread_attr_t attr;
	pthread_t tid;
	int started = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < n; i++) {
		atomic_fetch_add(&w->live, 1);
		if (pthread_create(&tid, &attr, worker, w) == 0)
			started++;
		else
			atomic_fetch_sub(&w->live, 1);
	}
	pthread_attr_destroy(&attr);
	return started;
}

/* SIGHUP: stop accepting, answer held polls, park streams, and re-execute
 * with the same pid. Returns only if the exec failed, serving again: the
 * parked streams go on in their threads, the workers that left are replaced
 * and accepting resumes. */
static void
restart_in_place(struct app *app, struct worker_ctx *wctx, const char *exe,
    char *const argv[], int listen_fd)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 }, until;
	char err[512];
	int i, locked, again;

	log_info("restarting in place (%s)", exe);
	atomic_store(&app->handing_off, 1);
	/* Once we hold the lock no thread is in accept, nor will enter it. A
	 * thread may sit in accept() after a kept connection ended: it goes with
	 * the exec (a connection it takes in that instant is cut). */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	if (!(locked = pthread_mutex_timedlock(wctx->accept_lock, &until) == 0))
		log_warn("restart: a thread is still in accept()");
	waiters_wake_all(app->waiters);
	for (i = 0; i < HANDOFF_WAIT * 20 && atomic_load(&app->active) > 0; i++) {
		waiters_wake_all(app->waiters);
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&app->active) > 0)
		log_warn("restart: %d request(s) still in flight are cut", atomic_load(&app->active));
	/* Core polls and streams park once what is queued for them is written;
	 * classic ones answer or end (their clients come back by cursor). */
	loop_handoff(app->loop, HANDOFF_WAIT * 1000);
	log_info("restart: %zu stream(s) handed over, and %zu held poll(s)",
	    handoff_parked(app->handoff, HANDOFF_STREAM), handoff_parked(app->handoff, HANDOFF_POLL));
	handoff_exec(app->handoff, exe, argv, listen_fd, err, sizeof(err));

	/* Still this image. Threads that left accepting counted themselves out
	 * under the lock; those still to take it see handing_off cleared. */
	atomic_store(&app->handing_off, 0);
	loop_unpark(app->loop);		/* empties the list too, on its own thread */
	again = app->cfg.threads - atomic_load(&wctx->live);
	if (again > 0)
		again = start_workers(wctx, again);
	if (locked)
		pthread_mutex_unlock(wctx->accept_lock);
	log_error("restart failed: %s; serving on in this image (%d worker thread(s)"
	    " started again, parked streams taken back)", err, again > 0 ? again : 0);
}

/* Every held poll or stream keeps its FastCGI connection open, so a
 * responder started by a web server or spawn-fcgi with the usual soft limit
 * of 1,024 would hold about 1,000 clients: raise the soft limit to the hard
 * one and say so (make run and the shipped unit raise it too). */
static void
raise_descriptor_limit(void)
{
	struct rlimit rl;
	rlim_t soft;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("descriptor limit: getrlimit failed: %s", strerror(errno));
		return;
	}
	soft = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("descriptor limit: soft %llu, hard %llu: could not raise the soft"
			    " limit: %s", (unsigned long long)soft, (unsigned long long)rl.rlim_max,
			    strerror(errno));
			return;
		}
	}
	log_info("descriptor limit: soft %llu, hard %llu%s", (unsigned long long)soft,
	    (unsigned long long)rl.rlim_max, soft != rl.rlim_max ? ": soft raised to the hard" : "");
}

int
main(int argc, char **argv)
{
	static struct app app;		/* the process context */
	static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
	static struct worker_ctx wctx;
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t sigs;
	char err[512], exe[PATH_MAX];
	struct pool_limits limits;
	int fd, sig, started = 0, ours, resumed, polls, systemd_fd;
	ssize_t n;

	/* The only argument: what an administrator runs to see which pollhub
	 * this is (common/version.h). Anything else is ignored, as before. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("pollhub %s\n", POLLHUB_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	/* The environment changes only now, before any thread (libpq's getenv)
	 * runs: what a previous image or systemd passed is taken out of it. */
	handoff_take_env();
	systemd_fd = systemd_listener();
	/* The path now, so that a binary replaced later is the one re-executed. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		n = 0;
	exe[n] = '\0';

	if (config_load(&app.cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "pollhub: %s\n", err);
		return 2;
	}
	log_set_level(app.cfg.log_level);
	if (auth_load(&app.auth, err, sizeof(err)) != PH_OK) {
		fprintf(stderr, "pollhub: %s\n", err);
		return 2;
	}
	buf_setup_allocator();	/* before any thread: memory comes back */
	raise_descriptor_limit();
	signal(SIGPIPE, SIG_IGN);
	/* Signals go to the main thread's sigwait only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	limits = (struct pool_limits){
		.lock_timeout_ms = app.cfg.db_lock_timeout,
		.statement_timeout_ms = app.cfg.db_statement_timeout,
		.idle_tx_timeout_ms = app.cfg.db_idle_tx_timeout,
		.acquire_timeout_ms = app.cfg.db_acquire_timeout,
		.connect_timeout_s = app.cfg.db_connect_timeout,
		.tcp_user_timeout_ms = app.cfg.db_tcp_user_timeout,
		.per_key = app.cfg.db_per_group,
		/* Polls, drains and negotiates always find a connection. */
		.reserve = app.cfg.db_pool / 4 > 0 ? app.cfg.db_pool / 4 : 1,
	};
	if ((app.pool = pool_open(app.cfg.database, app.cfg.db_pool, &limits, err,
	    sizeof(err))) == NULL ||
	    (app.waiters = waiters_new(err, sizeof(err))) == NULL ||
	    (app.streams = heldstreams_new(err, sizeof(err))) == NULL ||
	    (app.listener = listen_start(app.pool, app.waiters, fanout_drain, &app.cfg,
	    err, sizeof(err))) == NULL ||
	    (app.loop = loop_start(&app, app.cfg.loop_jobs, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return 1;
	}
	register_responder(&app);
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	if ((app.handoff = handoff_new()) == NULL) {
		log_error("out of memory");
		return 1;
	}
	if ((fd = open_listener(&app.cfg, systemd_fd, &ours)) < 0) {
		log_error("cannot listen on %s", app.cfg.socket);
		return 1;
	}
	wctx.app = &app;
	wctx.listen_fd = fd;
	wctx.accept_lock = &accept_lock;
	started = start_workers(&wctx, app.cfg.threads);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (started == 0 || pthread_create(&tid, &attr, maintenance, &app) != 0) {
		log_error("cannot start threads");
		return 1;
	}
	pthread_attr_destroy(&attr);
	resumed = handoff_resume(&app, resumable, &polls);
	log_info("ready: pollhub %s, %d worker threads for short requests, an event loop with %d"
	    " job threads for held ones, %d database connections, poll timeout %d s,"
	    " authentication %s%s", POLLHUB_VERSION, started, app.cfg.loop_jobs, app.cfg.db_pool,
	    app.cfg.poll_timeout, auth_mode_name(auth_mode(app.auth)),
	    resumed > 0 ? ", streams resumed" : "");
	if (resumed > 0 || polls > 0)
		log_info("resumed %d stream(s) from the previous image, and %d held poll(s)", resumed,
		    polls);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
		if (sig != SIGHUP)
			break;
		/* Returns only when the exec failed, serving again. */
		restart_in_place(&app, &wctx, exe, argv, ours ? fd : -1);
	}

	/* Our own socket goes first: the web server's new connections fail at
	 * once and go to another responder, while those already queued are still
	 * accepted and served below. */
	log_info("stopping on signal %d", sig);
	if (app.cfg.socket[0] == '/')
		unlink(app.cfg.socket);
	/* Held polls answer now (empty 200: the client polls again, elsewhere if
	 * need be); requests in flight get a moment to finish. */
	atomic_store(&app.stopping, 1);
	loop_stop_all(app.loop);
	waiters_wake_all(app.waiters);
	for (int i = 0; i < 50 && (i < 3 || atomic_load(&app.active) > 0 ||
	    loop_count(app.loop) > 0); i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		waiters_wake_all(app.waiters);
		nanosleep(&ts, NULL);
	}
	unregister_responder(&app);
	/* Sanitizer builds (the tests): _exit skips LeakSanitizer's check at
	 * exit, so run it now; a leak fails the test that stopped us. */
	if (__lsan_do_recoverable_leak_check != NULL && __lsan_do_recoverable_leak_check() != 0)
		_exit(23);
	/* Worker threads may sit in accept(); exit without joining them. */
	_exit(0);
}
