#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "app.h"
#include "ids.h"
#include "log.h"
#include "sqlproto.h"

/* handoff_resume reads a group of SQL_GROUP_SIZE bytes as hex with %2561s. */
_Static_assert(2 * SQL_GROUP_SIZE == 2562, "the %2561s below");

#define ENV_LISTEN "POLLHUB_LISTEN_FD"
/* A line of the list: numbers, token, id, the group in hex (2 bytes a byte),
 * a client's connection, where the records stand. */
#define LINE_MAX_LEN (2 * SQL_GROUP_SIZE + 768)
/* Unwritten bytes a line may carry: a stream's cap and one answer, with room. */
#define CARRY_MAX ((size_t)1 << 30)
#define ENV_HANDOFF "POLLHUB_HANDOFF_FD"

extern char **environ;

/* What the previous image passed, read by handoff_take_env before any thread
 * starts (-1: nothing). */
static int inherited_listen = -1, inherited_handoff = -1;

struct handoff {
	pthread_mutex_t	 lock;
	struct handoff_item *list;
	size_t		 n, cap;
};

struct handoff *
handoff_new(void)
{
	struct handoff *ho = calloc(1, sizeof(*ho));

	if (ho != NULL) {
		pthread_mutex_init(&ho->lock, NULL);
	}
	return ho;
}

int
handoff_park_item(struct handoff *ho, const struct handoff_item *item)
{
	int rc = -1;

	pthread_mutex_lock(&ho->lock);
	if (ho->n == ho->cap) {
		size_t cap = ho->cap ? ho->cap * 2 : 64;
		struct handoff_item *grown = realloc(ho->list, cap * sizeof(*grown));

		if (grown == NULL)
			goto out;
		ho->list = grown;
		ho->cap = cap;
	}
	ho->list[ho->n] = *item;
	if (item->carry_len > 0) {
		char *copy = malloc(item->carry_len);

		if (copy == NULL)
			goto out;
		memcpy(copy, item->carry, item->carry_len);
		ho->list[ho->n].carry = copy;
	}
	ho->n++;
	rc = 0;
out:
	pthread_mutex_unlock(&ho->lock);
	return rc;
}

size_t
handoff_parked(struct handoff *ho, enum handoff_kind kind)
{
	size_t n = 0;

	pthread_mutex_lock(&ho->lock);
	for (size_t i = 0; i < ho->n; i++)
		n += ho->list[i].kind == kind;
	pthread_mutex_unlock(&ho->lock);
	return n;
}

void
handoff_unpark(struct handoff *ho)
{
	pthread_mutex_lock(&ho->lock);
	for (size_t i = 0; i < ho->n; i++)
		free((char *)ho->list[i].carry);
	ho->n = 0;
	pthread_mutex_unlock(&ho->lock);
}

static int
keep_open(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags == -1 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/* Mark every descriptor above 2 close-on-exec: libfcgi's and libpq's sockets
 * of requests and connections that do not cross over must not leak into the
 * next image (a web server would wait on them forever). One call on a
 * kernel with close_range (5.11); else each open descriptor, whatever its
 * number (/proc/self/fd). */
static void
close_others_on_exec(void)
{
	DIR *d;
	struct dirent *e;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0 || (d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		int flags;

		if (*end == '\0' && e->d_name[0] != '\0' && fd > 2 && fd <= INT_MAX &&
		    (flags = fcntl((int)fd, F_GETFD)) != -1)
			fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
	}
	closedir(d);
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

/* Whether an environment entry names one of the variables the exec sets or
 * that must not reach the next image (systemd's are for the first one). */
static int
env_dropped(const char *e)
{
	static const char *const names[] = { ENV_LISTEN, ENV_HANDOFF, "LISTEN_PID", "LISTEN_FDS",
	    "LISTEN_FDNAMES" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i]);

		if (strncmp(e, names[i], len) == 0 && e[len] == '=')
			return 1;
	}
	return 0;
}

/* The next image's environment: ours (nobody changes it once threads run:
 * every setenv/unsetenv happens in handoff_take_env and before), without the
 * handoff's variables, plus the new ones. NULL when out of memory. */
static char **
exec_environment(int mfd, int listen_fd, char *mfd_var, char *listen_var, size_t varlen)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!env_dropped(environ[i]))
			env[k++] = environ[i];
	snprintf(mfd_var, varlen, ENV_HANDOFF "=%d", mfd);
	env[k++] = mfd_var;
	if (listen_fd >= 0) {
		snprintf(listen_var, varlen, ENV_LISTEN "=%d", listen_fd);
		env[k++] = listen_var;
	}
	env[k] = NULL;
	return env;
}

int
handoff_exec(struct handoff *ho, const char *exe, char *const argv[], int listen_fd,
    char *err, size_t errlen)
{
	char mfd_var[48], listen_var[48], **env;
	FILE *f;
	int mfd, dup_fd;

	/* Close-on-exec from the start: only the exec's own step below clears it. */
	if ((mfd = memfd_create("pollhub-handoff", MFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		return -1;
	}
	if ((dup_fd = fcntl(mfd, F_DUPFD_CLOEXEC, 3)) == -1 || (f = fdopen(dup_fd, "w")) == NULL) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		if (dup_fd != -1)
			close(dup_fd);
		close(mfd);
		return -1;
	}
	pthread_mutex_lock(&ho->lock);
	for (size_t i = 0; i < ho->n; i++) {
		const struct handoff_item *p = &ho->list[i];

		char peer[TCPDIAG_TEXT];

		/* The older format (a stream: no kind, no timeout, no CORS) is
		 * still read, from an image of an earlier version. */
		fprintf(f, "%c %d %d %d %lld %s %s %lld %d %d ", (char)p->kind, p->fd,
		    p->request_id, p->keep, p->pi.poll_no, p->token, p->pi.connection_id,
		    p->left_ms, p->cors_index, p->vary_origin);
		put_hex(f, p->pi.group);
		/* A poll's client connection, when known (an older line ends before). */
		if (tcpdiag_format(&p->peer, peer, sizeof(peer)) == 0)
			fprintf(f, " %s", peer);
		/* Where the connection's records stand; then the bytes not yet
		 * written, raw, after the line (an older line has neither). */
		fprintf(f, " r=%u:%d:%zu:", (unsigned)p->rd.request_id, p->rd.stdin_done,
		    p->rd.stdin_total);
		for (size_t k = 0; k < p->rd.hdr_len; k++)
			fprintf(f, "%02x", p->rd.hdr[k]);
		fprintf(f, "%s:%d:%zu:%zu", p->rd.hdr_len == 0 ? "-" : "", p->rd.in_stdin,
		    p->rd.content_left, p->rd.padding_left);
		if (p->carry_len > 0)
			fprintf(f, " o=%zu", p->carry_len);
		fputc('\n', f);
		if (p->carry_len > 0)
			fwrite(p->carry, 1, p->carry_len, f);
	}
	pthread_mutex_unlock(&ho->lock);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		close(mfd);
		return -1;
	}
	if ((env = exec_environment(mfd, listen_fd, mfd_var, listen_var, sizeof(mfd_var))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(mfd);
		return -1;
	}
	/* Our own descriptors are close-on-exec when created, and libpq sets it on
	 * its sockets; libfcgi's connections are not, nor may be a library's:
	 * make sure, then open exactly what crosses over. */
	close_others_on_exec();
	if (keep_open(mfd) == -1 || (listen_fd >= 0 && keep_open(listen_fd) == -1)) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
	} else {
		pthread_mutex_lock(&ho->lock);
		for (size_t i = 0; i < ho->n; i++)
			keep_open(ho->list[i].fd);
		pthread_mutex_unlock(&ho->lock);
		execve(exe, argv, env);
		snprintf(err, errlen, "exec %s: %s", exe, strerror(errno));
	}
	/* Still this image: nothing it keeps may leak into a later exec. */
	free(env);
	close(mfd);
	close_others_on_exec();
	return -1;
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

/* "r=ID:STDIN_DONE:STDIN_TOTAL:HDR:IN_STDIN:CONTENT_LEFT:PADDING_LEFT", HDR
 * the begun header in hex or "-" (fcgirec_resume judges the numbers). */
static int
parse_state(const char *s, struct fcgirec_state *rd)
{
	char hdr[2 * FCGIREC_HEADER_LEN + 2];
	unsigned id;
	size_t n = 0;

	memset(rd, 0, sizeof(*rd));
	if (sscanf(s, "%u:%d:%zu:%17[-0-9a-f]:%d:%zu:%zu", &id, &rd->stdin_done, &rd->stdin_total,
	    hdr, &rd->in_stdin, &rd->content_left, &rd->padding_left) != 7 || id > 65535)
		return -1;
	rd->request_id = (uint16_t)id;
	if (strcmp(hdr, "-") != 0)
		for (const char *h = hdr; *h != '\0'; h += 2) {
			unsigned c;

			if (n == FCGIREC_HEADER_LEN - 1 || h[1] == '\0' || sscanf(h, "%2x", &c) != 1)
				return -1;
			rd->hdr[n++] = (unsigned char)c;
		}
	rd->hdr_len = n;
	return 0;
}

/* What follows the group on this version's line: a client's connection (four
 * words), r= (where the records stand), o= (bytes carried after the line). */
static int
parse_tail(const char *rest, struct handoff_item *p, size_t *carry_len)
{
	char buf[LINE_MAX_LEN], *save = NULL, *w, *peer[4];
	int npeer = 0;

	snprintf(buf, sizeof(buf), "%s", rest);
	for (w = strtok_r(buf, " \n", &save); w != NULL; w = strtok_r(NULL, " \n", &save)) {
		if (strncmp(w, "r=", 2) == 0) {
			if (parse_state(w + 2, &p->rd) == -1 || p->rd.request_id != p->request_id)
				return -1;
		} else if (strncmp(w, "o=", 2) == 0) {
			char *end;
			unsigned long long n = strtoull(w + 2, &end, 10);

			if (*end != '\0' || n == 0 || n > CARRY_MAX)
				return -1;
			*carry_len = (size_t)n;
		} else if (npeer < 4 && strlen(w) < TCPDIAG_ADDR_TEXT)
			peer[npeer++] = w;
		else
			return -1;
	}
	if (npeer == 4)
		(void)tcpdiag_parse(&p->peer, peer[0], peer[1], peer[2], peer[3]);	/* else unknown */
	return npeer == 0 || npeer == 4 ? 0 : -1;
}

/* An earlier version parked a connection's token itself: name it by its key
 * now (those versions had no identity: user ""). 0, or -1. */
static int
keyed(struct handoff_item *p)
{
	char key[ID_KEY_LEN + 1];

	if (strlen(p->token) != ID_LEN)
		return 0;
	if (id_token_key("", p->token, key) == -1)
		return -1;
	memcpy(p->token, key, sizeof(key));
	return 0;
}

/* One line of the list: this version's, or an earlier version's (a stream).
 * *carry_len: bytes that follow the line (0: none). */
static int
parse_item(const char *line, struct handoff_item *p, char *hex, size_t *carry_len)
{
	char kind;
	int n, end = 0;

	*carry_len = 0;
	memset(p, 0, sizeof(*p));
	p->cors_index = -1;
	n = sscanf(line, "%c %d %d %d %lld %63s %63s %lld %d %d %2561s%n", &kind, &p->fd,
	    &p->request_id, &p->keep, &p->pi.poll_no, p->token, p->pi.connection_id, &p->left_ms,
	    &p->cors_index, &p->vary_origin, hex, &end);
	if (n == 11 && (kind == HANDOFF_STREAM || kind == HANDOFF_POLL || kind == HANDOFF_ANSWER)) {
		p->kind = (enum handoff_kind)kind;
		/* An earlier version read each body to its end before holding. */
		p->rd.request_id = (uint16_t)p->request_id;
		p->rd.stdin_done = 1;
		return keyed(p) == -1 ? -1 : parse_tail(line + end, p, carry_len);
	}
	memset(p, 0, sizeof(*p));
	p->cors_index = -1;
	p->kind = HANDOFF_STREAM;
	if (sscanf(line, "%d %d %d %lld %63s %63s %2561s", &p->fd, &p->request_id, &p->keep,
	    &p->pi.poll_no, p->token, p->pi.connection_id, hex) != 7)
		return -1;
	p->rd.request_id = (uint16_t)p->request_id;
	p->rd.stdin_done = 1;
	return keyed(p);
}

/* Descriptors the previous image passed on purpose: the listening socket, the
 * memfd and the connections it lists. Anything else open above 2 leaked
 * through a descriptor that was not close-on-exec: say so and close it. */
static void
close_leaked(void)
{
	char line[LINE_MAX_LEN], hex[2 * SQL_GROUP_SIZE];
	int *keep = NULL, nkeep = 0, dup_fd;
	FILE *f = NULL;
	DIR *d;
	struct dirent *e;

	if (inherited_handoff >= 0 && (dup_fd = fcntl(inherited_handoff, F_DUPFD_CLOEXEC, 3)) != -1 &&
	    ((f = fdopen(dup_fd, "r")) == NULL ? (close(dup_fd), 0) : 1) &&
	    lseek(dup_fd, 0, SEEK_SET) != -1) {
		while (fgets(line, sizeof(line), f) != NULL) {
			int *grown = realloc(keep, (size_t)(nkeep + 1) * sizeof(*keep));
			struct handoff_item p;
			size_t carry = 0;

			if (grown == NULL)
				break;
			keep = grown;
			/* A line handoff_resume cannot read still names its
			 * descriptor first (after the kind): it closes it. */
			if (parse_item(line, &p, hex, &carry) == 0)
				keep[nkeep] = p.fd;
			else
				keep[nkeep] = atoi(line[0] == HANDOFF_STREAM || line[0] == HANDOFF_POLL ||
				    line[0] == HANDOFF_ANSWER ? line + 1 : line);
			nkeep++;
			if (carry > 0 && fseeko(f, (off_t)carry, SEEK_CUR) != 0)
				break;
		}
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char *end, path[64], target[256] = "?";
			long fd = strtol(e->d_name, &end, 10);
			int wanted = 0;
			ssize_t len;

			if (*end != '\0' || e->d_name[0] == '\0' || fd <= 2 || fd == dirfd(d) ||
			    fd == inherited_listen || fd == inherited_handoff ||
			    (f != NULL && fd == fileno(f)))
				continue;
			for (int i = 0; i < nkeep; i++)
				wanted |= keep[i] == fd;
			if (wanted)
				continue;
			snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
			if ((len = readlink(path, target, sizeof(target) - 1)) >= 0)
				target[len] = '\0';
			log_warn("restart: descriptor %ld (%s) was not close-on-exec in the previous"
			    " image; closing it", fd, target);
			close((int)fd);
		}
		closedir(d);
	}
	if (f != NULL)
		fclose(f);
	free(keep);
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
	if (*end != '\0' || v[0] == '\0' || fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFD) == -1)
		fd = -1;
	unsetenv(name);
	if (fd >= 0)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return (int)fd;
}

void
handoff_take_env(void)
{
	inherited_listen = take_env_fd(ENV_LISTEN);
	inherited_handoff = take_env_fd(ENV_HANDOFF);
	if (inherited_handoff >= 0)
		close_leaked();
	/* What whoever started us left open (systemd's socket included: main
	 * takes it next) is ours to keep or not, never the next image's. */
	close_others_on_exec();
}

int
handoff_listen_fd(void)
{
	return inherited_listen;
}

/* A line that cannot be resumed: its descriptor (when the line named one
 * that is neither the list's nor the listening socket) is closed, not kept
 * open for nobody. */
static void
drop_item(const struct handoff_item *p, int mfd, const char *why, const char *line)
{
	log_error("handoff: a held request could not be resumed (%s: %s)", why, LOG_TEXT(line));
	if (p->fd > 2 && p->fd != mfd && p->fd != inherited_listen)
		close(p->fd);
}

/* The bytes a line carries, read after it into *out (malloc'd). -1 when
 * out of memory (they are passed over: the next line is still read), -2
 * when the list ends inside them. */
static int
read_carry(FILE *f, size_t len, char **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	if ((*out = malloc(len)) == NULL)
		return fseeko(f, (off_t)len, SEEK_CUR) == 0 ? -1 : -2;
	if (fread(*out, 1, len, f) != len) {
		free(*out);
		*out = NULL;
		return -2;
	}
	return 0;
}

/* The kind that takes back lines of this letter, or NULL. */
static const struct hold_kind *
kind_of(const struct hold_kind *const kinds[], enum handoff_kind letter)
{
	for (size_t i = 0; kinds != NULL && kinds[i] != NULL; i++)
		if (kinds[i]->parks_as == letter && kinds[i]->resume != NULL)
			return kinds[i];
	return NULL;
}

int
handoff_resume(struct app *app, const struct hold_kind *const kinds[], int *polls)
{
	int mfd = inherited_handoff, resumed = 0;
	char line[LINE_MAX_LEN], hex[2 * SQL_GROUP_SIZE];
	FILE *f;
	int norigins = 0;

	for (char **o = app->cfg.allowed_origins; o != NULL && *o != NULL; o++)
		norigins++;
	*polls = 0;
	inherited_handoff = -1;
	if (mfd == -1 || lseek(mfd, 0, SEEK_SET) == -1 || (f = fdopen(mfd, "r")) == NULL) {
		if (mfd != -1)
			close(mfd);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct handoff_item p;
		struct http_held conn = { 0 };
		const struct hold_kind *kind;
		size_t carry_len = 0;
		int flags, rc, bad;

		bad = parse_item(line, &p, hex, &carry_len) == -1;
		if ((rc = read_carry(f, carry_len, &conn.carry)) != 0) {
			drop_item(&p, mfd, rc == -1 ? "out of memory for its unwritten answer" :
			    "its unwritten answer cut short", line);
			if (rc == -2)
				break;
			continue;
		}
		conn.carry_len = carry_len;
		if (bad || from_hex(hex, p.pi.group, sizeof(p.pi.group)) == -1 ||
		    fcntl(p.fd, F_SETFD, FD_CLOEXEC) == -1 ||
		    (flags = fcntl(p.fd, F_GETFL)) == -1 ||
		    fcntl(p.fd, F_SETFL, flags | O_NONBLOCK) == -1) {
			drop_item(&p, mfd, "bad record", line);
			http_held_free(&conn);
			continue;
		}
		if ((kind = kind_of(kinds, p.kind)) == NULL) {
			drop_item(&p, mfd, "no kind resumes it", line);
			http_held_free(&conn);
			continue;
		}
		conn.fd = p.fd;
		conn.request_id = p.request_id;
		conn.keep = p.keep;
		conn.rd = p.rd;
		/* The same configuration, so the same list: its entry outlives us. */
		conn.cors_origin = p.cors_index >= 0 && p.cors_index < norigins ?
		    app->cfg.allowed_origins[p.cors_index] : NULL;
		conn.vary_origin = p.vary_origin;
		/* A stream's headers went out in the first image: what follows is
		 * records. A poll has written nothing yet. An answer is written
		 * and closed. */
		if (kind->resume(app, &conn, &p) == -1) {
			log_error("handoff: out of memory for connection %s", p.pi.connection_id);
			close(p.fd);
			http_held_free(&conn);
			continue;
		}
		if (p.kind == HANDOFF_POLL)
			(*polls)++;
		else if (p.kind == HANDOFF_STREAM)
			resumed++;
	}
	fclose(f);
	return resumed;
}
