/* Unit tests for fcgi/handoff.h: what a new image does with what it inherits. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "handoff.h"
#include "unit.h"

#define HIGH_FD	70000	/* past 65535: handoff worked only below it */

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int
high_fds_possible(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_max <= HIGH_FD + 10)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* The sweep marks every inherited descriptor close-on-exec, however high. */
static void
test_sweep(void)
{
	int fd;

	if (!high_fds_possible()) {
		printf("test_sweep: skipped (RLIMIT_NOFILE below %d)\n", HIGH_FD + 10);
		return;
	}
	fd = dup2(1, HIGH_FD);
	CHECK_INTEQ(fd, HIGH_FD);
	CHECK_INTEQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	unsetenv("POLLHUB_HANDOFF_FD");
	handoff_take_env();
	CHECK_INTEQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
}

/* Lines the new image cannot resume: the descriptors they name are closed,
 * not left open for nobody; one whose carried bytes are cut short ends the
 * list. The list itself may sit above 65535. */
static void
test_bad_lines_closed(void)
{
	struct app app;
	int a[2], b[2], mfd, polls = -1;
	char line[256], var[64];
	int high = high_fds_possible();

	CHECK_INTEQ(pipe(a), 0);
	CHECK_INTEQ(pipe(b), 0);
	mfd = memfd_create("handoff-test", 0);
	CHECK(mfd >= 0);
	if (high) {
		CHECK_INTEQ(dup2(mfd, HIGH_FD + 1), HIGH_FD + 1);
		close(mfd);
		mfd = HIGH_FD + 1;
	}
	/* A group that is not hex; a line that names nothing; carried bytes cut short. */
	snprintf(line, sizeof(line), "S %d 1 0 5 tok conn 0 -1 0 zz\n", a[0]);
	CHECK(write(mfd, line, strlen(line)) > 0);
	CHECK(write(mfd, "nonsense\n", 9) == 9);
	snprintf(line, sizeof(line), "S %d 1 0 5 tok conn 0 -1 0 - r=1:1:0:-:0:0:0 o=100\nshort",
	    b[0]);
	CHECK(write(mfd, line, strlen(line)) > 0);
	snprintf(var, sizeof(var), "%d", mfd);
	setenv("POLLHUB_HANDOFF_FD", var, 1);
	handoff_take_env();
	CHECK(getenv("POLLHUB_HANDOFF_FD") == NULL);
	CHECK(is_open(a[0]));	/* listed: kept for handoff_resume */
	CHECK(is_open(b[0]));
	memset(&app, 0, sizeof(app));
	CHECK_INTEQ(handoff_resume(&app, NULL, &polls), 0);
	CHECK_INTEQ(polls, 0);
	CHECK(!is_open(a[0]));
	CHECK(!is_open(b[0]));
	CHECK(!is_open(mfd));
	/* (a[1] and b[1], listed nowhere, went as leaked at handoff_take_env.) */
}

static struct {
	int		 calls, fd;
	long long	 left_ms;
	char		 token[64], group[16];
} resumed;

static int
fake_resume(struct app *app, const struct http_held *conn, const struct handoff_item *item)
{
	(void)app;
	resumed.calls++;
	resumed.fd = conn->fd;
	resumed.left_ms = item->left_ms;
	snprintf(resumed.token, sizeof(resumed.token), "%s", item->token);
	snprintf(resumed.group, sizeof(resumed.group), "%.15s", item->pi.group);
	close(conn->fd);	/* the kind's from here */
	return 0;
}

/* Each line goes to the kind that parks as its letter, through its resume
 * op; a line no kind takes is dropped and its descriptor closed. */
static void
test_resume_by_kind(void)
{
	static const struct hold_kind poll_kind = { .name = "poll", .parks_as = HANDOFF_POLL,
	    .resume = fake_resume };
	const struct hold_kind *const kinds[] = { &poll_kind, NULL };
	struct app app;
	int a[2], b[2], mfd, polls = -1;
	char line[256], var[64];

	CHECK_INTEQ(pipe(a), 0);
	CHECK_INTEQ(pipe(b), 0);
	mfd = memfd_create("handoff-test", 0);
	CHECK(mfd >= 0);
	snprintf(line, sizeof(line), "P %d 1 0 5 tok conn 1500 -1 0 6731 r=1:1:0:-:0:0:0\n", a[0]);
	CHECK(write(mfd, line, strlen(line)) > 0);
	snprintf(line, sizeof(line), "S %d 1 0 5 tok2 conn2 0 -1 0 - r=1:1:0:-:0:0:0\n", b[0]);
	CHECK(write(mfd, line, strlen(line)) > 0);
	snprintf(var, sizeof(var), "%d", mfd);
	setenv("POLLHUB_HANDOFF_FD", var, 1);
	handoff_take_env();
	memset(&app, 0, sizeof(app));
	CHECK_INTEQ(handoff_resume(&app, kinds, &polls), 0);
	CHECK_INTEQ(polls, 1);
	CHECK_INTEQ(resumed.calls, 1);
	CHECK_INTEQ(resumed.fd, a[0]);
	CHECK_INTEQ(resumed.left_ms, 1500);
	CHECK_STREQ(resumed.token, "tok");
	CHECK_STREQ(resumed.group, "g1");
	CHECK(!is_open(a[0]));
	CHECK(!is_open(b[0]));	/* no kind takes 'S' here */
	/* (a[1] and b[1], listed nowhere, went as leaked at handoff_take_env.) */
}

int
main(void)
{
	test_sweep();
	test_bad_lines_closed();
	test_resume_by_kind();
	return unit_done();
}
