// SPDX-License-Identifier: GPL-2.0
/*
 * Telling user space that a virtual device changed: poll/epoll on the nodes
 * (EPOLLPRI until GET_STATUS reads the new generation), the blocking
 * VDMUX_IOC_WAIT_FOREGROUND, the sysfs attributes and their poll wake-ups,
 * the "change" uevents with their variables, and fsync/fdatasync/msync.
 */
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SYSFS "/sys/class/misc"

FIXTURE(events)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(events)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

FIXTURE_TEARDOWN(events)
{
	close_nodes(self->ctl, self->fd);
	reset_device();
}

/* The events poll(2) reports for @fd right now (timeout 0). */
static short poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

#define VDEV_READY (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM)
#define ALL_EVENTS (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLPRI)

TEST_F(events, poll_reports_pri_until_status_is_read)
{
	struct vdmux_status st;

	/* At open, the current generation counts as seen. */
	EXPECT_EQ(VDEV_READY, poll_now(self->fd[1], ALL_EVENTS));
	EXPECT_EQ(0, poll_now(self->ctl, ALL_EVENTS));

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[1], ALL_EVENTS));
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[0], ALL_EVENTS));
	EXPECT_EQ(VDEV_READY, poll_now(self->fd[2], ALL_EVENTS));	/* not involved */
	EXPECT_EQ(POLLPRI, poll_now(self->ctl, ALL_EVENTS));
	/* Still set: nothing read the status yet. */
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[1], ALL_EVENTS));

	ASSERT_EQ(0, get_status(self->fd[1], &st));
	EXPECT_EQ(VDEV_READY, poll_now(self->fd[1], ALL_EVENTS));
	/* Per open file: vdev 0's file has not read its status. */
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[0], ALL_EVENTS));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(0, poll_now(self->ctl, ALL_EVENTS));

	/* A resize changes the control node's generation only. */
	ASSERT_EQ(0, set_reserved(2 * DEFAULT_RESERVED));
	EXPECT_EQ(POLLPRI, poll_now(self->ctl, ALL_EVENTS));
	EXPECT_EQ(VDEV_READY, poll_now(self->fd[1], ALL_EVENTS));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(0, poll_now(self->ctl, ALL_EVENTS));

	/* A failed GET_STATUS (bad pointer) does not count as seen. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->fd[1], VDMUX_IOC_GET_STATUS, 8));
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[1], ALL_EVENTS));
}

TEST_F(events, poll_reports_err_while_removed)
{
	struct vdmux_status st;

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	EXPECT_EQ(POLLERR | POLLPRI, poll_now(self->fd[2], ALL_EVENTS));
	ASSERT_EQ(0, get_status(self->fd[2], &st));
	/* POLLERR is reported even when not asked for. */
	EXPECT_EQ(POLLERR, poll_now(self->fd[2], 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	EXPECT_EQ(VDEV_READY | POLLPRI, poll_now(self->fd[2], ALL_EVENTS));
}

/*
 * Waiting for the foreground, and a 32-bit sleep, meet the same code
 * whatever the device memory: the pci pass ($VDMUX_MODULE_PARAMS with
 * device_memory=pci) leaves them to the RAM runs. 1 in the pci pass.
 */
static int pci_pass(void)
{
	const char *params = getenv("VDMUX_MODULE_PARAMS");

	return params && strstr(params, "device_memory=pci");
}

/* Sleeps @ms milliseconds; 0, or -1 when usleep(3) failed. */
static int sleep_ms(int ms)
{
	return usleep(ms * 1000);
}

/*
 * A 32-bit program's usleep(3) is a time64 clock_nanosleep: a kernel
 * without CONFIG_COMPAT_32BIT_TIME fails it at once with ENOSYS. Debian's
 * kernels have it, and so must the test kernel, or the -m32 build of this
 * program waits for nothing.
 */
TEST(usleep_sleeps)
{
	double start = now_s();

	if (pci_pass())
		SKIP(return, "run in the RAM runs: the same code whatever the device memory");
	ASSERT_EQ(0, usleep(300 * 1000)) TH_LOG("usleep: %s", strerror(errno));
	EXPECT_LE(0.3, now_s() - start);
}

/* Runs SWITCH @to in a child after @delay_ms; returns its pid. */
static pid_t switch_later(int to, int delay_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (sleep_ms(delay_ms))
			_exit(2);
		_exit(vdmux_ctl(VDMUX_IOC_SWITCH, to) ? 1 : 0);
	}
	return pid;
}

static int reaped_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST_F(events, poll_is_woken_by_another_process)
{
	struct pollfd p = { .fd = self->fd[3], .events = POLLPRI };
	double t0 = now_s();
	pid_t pid;

	pid = switch_later(3, 200);
	ASSERT_LT(0, pid);
	EXPECT_EQ(1, poll(&p, 1, 20000));
	EXPECT_EQ(POLLPRI, p.revents & (POLLPRI | POLLERR));
	EXPECT_GT(10.0, now_s() - t0);
	EXPECT_TRUE(reaped_ok(pid));
}

TEST_F(events, epoll_is_woken_by_another_process)
{
	struct epoll_event ev = { .events = EPOLLPRI, .data.u32 = 77 }, got;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct vdmux_status st;
	pid_t pid;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->ctl, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &got, 1, 0));
	pid = switch_later(2, 200);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, epoll_wait(ep, &got, 1, 20000));
	EXPECT_EQ(77, got.data.u32);
	EXPECT_TRUE(got.events & EPOLLPRI);
	EXPECT_TRUE(reaped_ok(pid));
	/* Level-triggered: reported until the status is read. */
	EXPECT_EQ(1, epoll_wait(ep, &got, 1, 0));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(0, epoll_wait(ep, &got, 1, 0));
	close(ep);
}

TEST_F(events, wait_foreground_returns_at_once_for_the_foreground)
{
	double t0 = now_s();

	EXPECT_EQ(0, vdmux_ioc(self->fd[1], VDMUX_IOC_WAIT_FOREGROUND, 0));
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_WAIT_FOREGROUND, 0));
	EXPECT_GT(2.0, now_s() - t0);
}

TEST_F(events, wait_foreground_rejects_bad_indices)
{
	EXPECT_EQ(-EINVAL, vdmux_ioc(self->fd[0], VDMUX_IOC_WAIT_FOREGROUND, DEFAULT_NR_VDEVS));
	if (sizeof(long) > 4)
		EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_WAIT_FOREGROUND,
					     (unsigned long)(1ULL << 32)));
	EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_WAIT_FOREGROUND, -1UL));
}

/* A child blocked in WAIT_FOREGROUND(@vdev); exits 0 when it returns 0. */
static pid_t waiter(int vdev)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open_vdev(0, O_RDONLY);

		_exit(fd >= 0 && vdmux_ioc(fd, VDMUX_IOC_WAIT_FOREGROUND, vdev) == 0 ? 0 : 1);
	}
	return pid;
}

/* Whether @pid is still running after @ms milliseconds. */
static int still_running(pid_t pid, int ms)
{
	int status;

	return sleep_ms(ms) == 0 && waitpid(pid, &status, WNOHANG) == 0;
}

TEST_F(events, wait_foreground_blocks_until_the_vdev_comes_forward)
{
	pid_t pid;

	if (pci_pass())
		SKIP(return, "run in the RAM runs: the same code whatever the device memory");
	pid = waiter(2);
	ASSERT_LT(0, pid);
	EXPECT_TRUE(still_running(pid, 300));
	/* Other changes do not release it. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(still_running(pid, 200));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	EXPECT_TRUE(still_running(pid, 200));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	ASSERT_EQ(0, set_reserved(2 * DEFAULT_RESERVED));
	EXPECT_TRUE(still_running(pid, 200));
	/* Only the waiter holds a file now: the module cannot go. */
	close_nodes(self->ctl, self->fd);
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	EXPECT_TRUE(reaped_ok(pid));
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

TEST_F(events, wait_foreground_is_interrupted_by_a_signal)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	double t0;

	if (pci_pass())
		SKIP(return, "run in the RAM runs: the same code whatever the device memory");
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarms = 0;
	alarm(1);
	t0 = now_s();
	EXPECT_EQ(-EINTR, vdmux_ioc(self->fd[0], VDMUX_IOC_WAIT_FOREGROUND, 3));
	EXPECT_EQ(1, alarms);
	EXPECT_LT(0.5, now_s() - t0);
	signal(SIGALRM, SIG_DFL);
}

TEST_F(events, wait_foreground_restarts_with_sa_restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	pid_t pid;
	double t0;

	if (pci_pass())
		SKIP(return, "run in the RAM runs: the same code whatever the device memory");
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarms = 0;
	/* The switch comes 2 s after the signal: the ioctl must have restarted. */
	pid = switch_later(3, 3000);
	ASSERT_LT(0, pid);
	alarm(1);
	t0 = now_s();
	EXPECT_EQ(0, vdmux_ioc(self->fd[0], VDMUX_IOC_WAIT_FOREGROUND, 3));
	ksft_print_msg("WAIT_FOREGROUND returned after %.2f s\n", now_s() - t0);
	EXPECT_LT(1.5, now_s() - t0);
	EXPECT_EQ(1, alarms);
	EXPECT_TRUE(reaped_ok(pid));
	signal(SIGALRM, SIG_DFL);
}

static int sysfs_read(const char *node, const char *attr, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS "/%s/%s", node, attr);
	return read_text(path, buf, len);
}

#define EXPECT_ATTR(node, attr, want)                                      \
	do {                                                               \
		char buf_[64];                                             \
		ASSERT_EQ(0, sysfs_read(node, attr, buf_, sizeof(buf_)));  \
		EXPECT_STREQ(want, buf_);                                  \
	} while (0)

/* The generation of vdev @i, from GET_STATUS. */
static unsigned long long generation_of(int i)
{
	struct vdmux_status st;

	return status_of(i, &st) ? ~0ULL : st.generation;
}

TEST_F(events, sysfs_attributes_follow_every_change)
{
	unsigned long long g = generation_of(1);
	char want[32];

	EXPECT_ATTR("vdmux0", "state", "foreground\n");
	EXPECT_ATTR("vdmux1", "state", "background\n");
	snprintf(want, sizeof(want), "%llu\n", g);
	EXPECT_ATTR("vdmux1", "generation", want);
	EXPECT_ATTR("vdmux", "foreground", "0\n");
	snprintf(want, sizeof(want), "%lu\n", DEFAULT_RESERVED);
	EXPECT_ATTR("vdmux", "reserved_size", want);
	EXPECT_ATTR("vdmux", "nr_vdevs", "4\n");

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_ATTR("vdmux0", "state", "background\n");
	EXPECT_ATTR("vdmux1", "state", "foreground\n");
	snprintf(want, sizeof(want), "%llu\n", g + 1);
	EXPECT_ATTR("vdmux1", "generation", want);
	EXPECT_ATTR("vdmux", "foreground", "1\n");

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_ATTR("vdmux1", "state", "removed\n");
	snprintf(want, sizeof(want), "%llu\n", g + 2);
	EXPECT_ATTR("vdmux1", "generation", want);
	EXPECT_ATTR("vdmux", "foreground", "none\n");
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_ATTR("vdmux1", "state", "background\n");
	snprintf(want, sizeof(want), "%llu\n", g + 3);
	EXPECT_ATTR("vdmux1", "generation", want);

	ASSERT_EQ(0, set_reserved(5 * PAGE));
	snprintf(want, sizeof(want), "%lu\n", 5 * PAGE);
	EXPECT_ATTR("vdmux", "reserved_size", want);
	/* Read-only. */
	EXPECT_EQ(-1, open(SYSFS "/vdmux1/state", O_WRONLY | O_CLOEXEC));
}

/* Opens a sysfs attribute and reads it once, as a sysfs poller must. */
static int open_attr(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && read(fd, buf, sizeof(buf)) <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(events, sysfs_poll_is_woken_by_a_change)
{
	int state = open_attr(SYSFS "/vdmux2/state");
	int fg = open_attr(SYSFS "/vdmux/foreground");
	struct pollfd p[2] = {
		{ .fd = state, .events = POLLPRI | POLLERR },
		{ .fd = fg, .events = POLLPRI | POLLERR },
	};
	char buf[64];
	pid_t pid;

	ASSERT_LE(0, state);
	ASSERT_LE(0, fg);
	EXPECT_EQ(0, poll(p, 2, 0));
	pid = switch_later(2, 200);
	ASSERT_LT(0, pid);
	ASSERT_LT(0, poll(p, 2, 20000));
	EXPECT_TRUE(reaped_ok(pid));
	/* Both attributes changed; give the second notification its moment. */
	ASSERT_LT(0, poll(&p[0], 1, 5000));
	ASSERT_LT(0, poll(&p[1], 1, 5000));
	EXPECT_TRUE(p[0].revents & POLLPRI);
	EXPECT_TRUE(p[1].revents & POLLPRI);
	ASSERT_LT(0, pread(state, buf, sizeof(buf), 0));
	EXPECT_EQ(0, strncmp(buf, "foreground\n", 11));
	close(state);
	close(fg);
}

/* A socket that receives the kernel's uevents. */
static int uevent_socket(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int rcvbuf = 1 << 20;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Receives uevents until one whose header is "change@...@devpath_suffix"
 * comes (or 5 s pass) and copies its NUL-separated variables into @vars;
 * the length, or -1.
 */
static int next_uevent(int fd, const char *devpath_suffix, char *vars, size_t len)
{
	double end = now_s() + 5;
	char buf[2 * 2048];	/* twice the kernel's UEVENT_BUFFER_SIZE */

	while (now_s() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *at;
		ssize_t n;
		size_t hdr;

		if (poll(&p, 1, 500) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return -1;
		buf[n] = 0;
		at = strchr(buf, '@');
		hdr = strlen(buf);
		if (strncmp(buf, "change@", 7) || !at ||
		    hdr < strlen(devpath_suffix) ||
		    strcmp(buf + hdr - strlen(devpath_suffix), devpath_suffix))
			continue;
		n -= hdr + 1;
		if (n < 0 || (size_t)n >= len)
			return -1;
		memcpy(vars, buf + hdr + 1, n);
		vars[n] = 0;
		return n;
	}
	return -1;
}

/* Whether the NUL-separated @vars of length @len hold the string @want. */
static int has_var(const char *vars, int len, const char *want)
{
	int i;

	for (i = 0; i < len; i += strlen(vars + i) + 1)
		if (!strcmp(vars + i, want))
			return 1;
	return 0;
}

/* Expects the next uevent of @dev (a /misc/... suffix) to hold @state and @generation. */
#define EXPECT_UEVENT(sock, dev, state, generation)                               \
	do {                                                                      \
		char vars_[2048], want_[64];                                      \
		int n_ = next_uevent(sock, dev, vars_, sizeof(vars_));            \
		ASSERT_LT(0, n_);                                                 \
		EXPECT_TRUE(has_var(vars_, n_, "ACTION=change"));                 \
		EXPECT_TRUE(has_var(vars_, n_, "VDMUX_STATE=" state));            \
		snprintf(want_, sizeof(want_), "VDMUX_GENERATION=%llu", generation); \
		EXPECT_TRUE(has_var(vars_, n_, want_));                           \
	} while (0)

TEST_F(events, uevents_carry_state_generation_and_size)
{
	unsigned long long g0 = generation_of(0), g1 = generation_of(1), g3 = generation_of(3);
	int sock = uevent_socket();
	char vars[2048], want[64];
	int n;

	ASSERT_LE(0, sock);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_UEVENT(sock, "/misc/vdmux0", "background", g0 + 1);
	EXPECT_UEVENT(sock, "/misc/vdmux1", "foreground", g1 + 1);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 3));
	EXPECT_UEVENT(sock, "/misc/vdmux3", "removed", g3 + 1);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 3));
	EXPECT_UEVENT(sock, "/misc/vdmux3", "background", g3 + 2);

	ASSERT_EQ(0, set_reserved(3 * PAGE));
	n = next_uevent(sock, "/misc/vdmux", vars, sizeof(vars));
	ASSERT_LT(0, n);
	EXPECT_TRUE(has_var(vars, n, "ACTION=change"));
	EXPECT_TRUE(has_var(vars, n, "DEVNAME=vdmux"));
	snprintf(want, sizeof(want), "VDMUX_RESERVED_SIZE=%lu", 3 * PAGE);
	EXPECT_TRUE(has_var(vars, n, want));
	close(sock);
}

/*
 * A growth by an autogrow store sends no uevent (vdmux(4) names every
 * uevent, and one per page stored would flood udev), and it notifies the
 * pollers of reserved_size (a little later, VDMUX_LATE_NOTIFY_MS, once for
 * a burst of growths): a poller in another thread is woken at least once
 * by GROWTHS stores, each growing the buffer by its page. How often is
 * printed, not judged: under TCG a poller takes longer to poll and read
 * again than the 10 ms that a burst is, so it cannot tell one
 * notification per burst from one per growth. A SET_RESERVED_SIZE after
 * the burst sends its uevent, the first one of the control node since the
 * burst began.
 */
#define GROWTHS 256

struct size_poller {
	int fd;
	volatile int stop;
	int wakeups, bad;
};

static void *poll_size(void *arg)
{
	struct size_poller *s = arg;
	char buf[64];

	while (!s->stop) {
		struct pollfd p = { .fd = s->fd, .events = POLLPRI | POLLERR };
		int n = poll(&p, 1, 20);

		if (n <= 0) {
			s->bad += n < 0;
			continue;
		}
		s->wakeups++;
		if (pread(s->fd, buf, sizeof(buf), 0) <= 0)
			s->bad++;
	}
	return NULL;
}

TEST_F(events, growth_notifies_sysfs_and_sends_no_uevent)
{
	const size_t grown = DEFAULT_RESERVED + GROWTHS * PAGE;
	struct size_poller s = { .fd = open_attr(SYSFS "/vdmux/reserved_size") };
	int sock = uevent_socket(), n, i;
	char vars[2048], want[64];
	struct vdmux_status st;
	volatile char *p;
	double t0, t1;
	pthread_t th;

	ASSERT_LE(0, sock);
	ASSERT_LE(0, s.fd);
	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_shared(self->fd[1], grown, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pthread_create(&th, NULL, poll_size, &s));
	t0 = now_s();
	for (i = 0; i < GROWTHS; i++)
		p[DEFAULT_RESERVED + i * PAGE] = 1;
	t1 = now_s();
	/* The last notification, 10 ms after the last growth. */
	usleep(200000);
	s.stop = 1;
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(grown, st.reserved_size);
	ksft_print_msg("%d growths in %.1f ms woke the poller %d times\n", GROWTHS,
		       (t1 - t0) * 1000, s.wakeups);
	EXPECT_EQ(0, s.bad);
	EXPECT_LE(1, s.wakeups);

	/* Growing while mapped is allowed: the resize's uevent is the next one. */
	ASSERT_EQ(0, set_reserved(grown + PAGE));
	n = next_uevent(sock, "/misc/vdmux", vars, sizeof(vars));
	ASSERT_LT(0, n);
	snprintf(want, sizeof(want), "VDMUX_RESERVED_SIZE=%llu",
		 (unsigned long long)(grown + PAGE));
	EXPECT_TRUE(has_var(vars, n, want)) TH_LOG("a uevent came for a growth");
	EXPECT_EQ(0, munmap((void *)p, grown));
	close(s.fd);
	close(sock);
}

TEST_F(events, fsync_and_msync_succeed_unless_removed)
{
	char *p = map_shared(self->fd[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	EXPECT_EQ(0, fsync(self->fd[1]));
	EXPECT_EQ(0, fdatasync(self->fd[1]));
	EXPECT_EQ(0, msync(p, DEFAULT_RESERVED, MS_SYNC));
	EXPECT_EQ(0, msync(p, DEFAULT_RESERVED, MS_ASYNC));
	EXPECT_EQ(0, fsync(self->fd[0]));

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(-1, fsync(self->fd[1]));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, fdatasync(self->fd[1]));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, msync(p, DEFAULT_RESERVED, MS_SYNC));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_EQ(0, fsync(self->fd[1]));

	EXPECT_EQ(-1, fsync(self->ctl));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, fdatasync(self->ctl));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, munmap(p, DEFAULT_RESERVED));
}

int main(int argc, char **argv)
{
	set_test_timeouts(60);
	return test_harness_run(argc, argv);
}
