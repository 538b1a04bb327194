// SPDX-License-Identifier: GPL-2.0
/*
 * Device context management (VDMUX_IOC_SET_CTXMGT): its refusals; the
 * sysfs notification of each value it changes; an
 * access to a background virtual device makes it the foreground, through a
 * fault the kernel retries; the hold time; a waiter that is killed; no
 * foreground; a removed virtual device; POPULATE as an access, waiting for
 * its turn at its first span or mid-range; a waiter and the freezer;
 * processes time-sharing the device memory through their own virtual
 * devices, through PMD mappings, across a fork, growing the size, and
 * with a waiter's virtual device ejected.
 */
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

static int set_ctxmgt(int fd, unsigned int enable, unsigned int timeout_ms)
{
	struct vdmux_ctxmgt c = { .enable = enable, .timeout_ms = timeout_ms };

	return vdmux_ioc(fd, VDMUX_IOC_SET_CTXMGT, (unsigned long)&c);
}

static int get_ctxmgt(int fd, struct vdmux_ctxmgt *c)
{
	memset(c, 0xa5, sizeof(*c));
	return vdmux_ioc(fd, VDMUX_IOC_GET_CTXMGT, (unsigned long)c);
}

static long ctl_switches(int ctl)
{
	char buf[1024];

	if (read_fdinfo(ctl, buf, sizeof(buf)))
		return -1;
	return fdinfo_field(buf, "vdmux-ctxmgt-switches:\t");
}

static long sysfs_number(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/class/misc/vdmux/%s", name);
	if (read_first_line(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* This thread's major faults: a fault the kernel retried counts as one. */
static long thread_major_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_majflt;
}

/* 1 when vdev @v (open as @fd) reads, with pread(2), as its tagged pattern @seed. */
static int vdev_has_tagged(int fd, unsigned int v, unsigned int seed)
{
	char buf[DEFAULT_RESERVED];

	memset(buf, 0, sizeof(buf));
	return pread(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
	       has_tagged(buf, sizeof(buf), v, seed, 0);
}

static uint32_t state_of(int fd)
{
	struct vdmux_status st;

	return get_status(fd, &st) ? 0xffffffffu : st.state;
}

static uint64_t generation_of(int fd)
{
	struct vdmux_status st;

	return get_status(fd, &st) ? 0 : st.generation;
}

/* Whether vdmux maps a BAR with PMD entries (only with x86 PAT). */
#if defined(__x86_64__) || defined(__i386__)
#define IO_PMD_MAPPINGS 1
#else
#define IO_PMD_MAPPINGS 0
#endif

/*
 * The tests of how faults, fork, growth and POPULATE meet the mode run in
 * the 64-bit build on RAM device memory only: the code they reach is the
 * same with a BAR, and the 32-bit build is there for the ioctls' compat
 * paths. 1 when this run is another one.
 */
static int another_pass(void)
{
	const char *params = getenv("VDMUX_MODULE_PARAMS");

	return sizeof(long) != 8 || (params && strstr(params, "device_memory=pci"));
}

/*
 * Time-sharing is the same system calls and faults in a 32-bit process as
 * in a 64-bit one: the 64-bit builds (RAM and BAR) run it. 1 in the 32-bit
 * build.
 */
static int compat_build(void)
{
	return sizeof(long) != 8;
}

FIXTURE(ctx)
{
	int ctl;
	int vdev[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(ctx)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->vdev));
}

FIXTURE_TEARDOWN(ctx)
{
	set_ctxmgt(self->ctl, 0, 0);
	close_nodes(self->ctl, self->vdev);
	reset_device();
}

TEST(layout_and_numbers)
{
	EXPECT_EQ(8, sizeof(struct vdmux_ctxmgt));
	EXPECT_EQ(4, __builtin_offsetof(struct vdmux_ctxmgt, timeout_ms));
	EXPECT_EQ(_IOW(0xB9, 0x09, struct vdmux_ctxmgt), VDMUX_IOC_SET_CTXMGT);
	EXPECT_EQ(_IOR(0xB9, 0x0a, struct vdmux_ctxmgt), VDMUX_IOC_GET_CTXMGT);
	EXPECT_EQ(0x4008b909u, (unsigned int)VDMUX_IOC_SET_CTXMGT);
	EXPECT_EQ(0x8008b90au, (unsigned int)VDMUX_IOC_GET_CTXMGT);
}

TEST_F(ctx, defaults_and_refusals)
{
	struct vdmux_ctxmgt c;
	int i;

	/* Off with a 0 hold by default, on every node. */
	ASSERT_EQ(0, get_ctxmgt(self->ctl, &c));
	EXPECT_EQ(0, c.enable);
	EXPECT_EQ(0, c.timeout_ms);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
		ASSERT_EQ(0, get_ctxmgt(self->vdev[i], &c));
		EXPECT_EQ(0, c.enable);
	}
	EXPECT_EQ(0, sysfs_number("ctxmgt"));
	EXPECT_EQ(0, sysfs_number("ctxmgt_timeout_ms"));

	EXPECT_EQ(-ENOTTY, set_ctxmgt(self->vdev[1], 1, 0));
	EXPECT_EQ(-EINVAL, set_ctxmgt(self->ctl, 2, 0));
	EXPECT_EQ(-EINVAL, set_ctxmgt(self->ctl, 0xffffffffu, 0));
	EXPECT_EQ(-EINVAL, set_ctxmgt(self->ctl, 1, 10001));
	EXPECT_EQ(-EINVAL, set_ctxmgt(self->ctl, 0, 0xffffffffu));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_SET_CTXMGT, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_SET_CTXMGT, (unsigned long)-(long)PAGE));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_GET_CTXMGT, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->vdev[2], VDMUX_IOC_GET_CTXMGT, (unsigned long)-(long)PAGE));
	/* Nothing of those changed anything. */
	ASSERT_EQ(0, get_ctxmgt(self->ctl, &c));
	EXPECT_EQ(0, c.enable);
	EXPECT_EQ(0, c.timeout_ms);

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 10000));
	ASSERT_EQ(0, get_ctxmgt(self->vdev[3], &c));
	EXPECT_EQ(1, c.enable);
	EXPECT_EQ(10000, c.timeout_ms);
	EXPECT_EQ(1, sysfs_number("ctxmgt"));
	EXPECT_EQ(10000, sysfs_number("ctxmgt_timeout_ms"));
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 0, 0));
	ASSERT_EQ(0, get_ctxmgt(self->ctl, &c));
	EXPECT_EQ(0, c.enable);
	EXPECT_EQ(0, c.timeout_ms);
}

/* EPERM without CAP_SYS_ADMIN, before the value or the pointer is looked at. */
TEST_F(ctx, set_needs_cap_sys_admin)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vdmux_ctxmgt c;
		int ok = 1;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		ok &= set_ctxmgt(self->ctl, 1, 0) == -EPERM;
		ok &= set_ctxmgt(self->ctl, 2, 0) == -EPERM;
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_SET_CTXMGT, 0) == -EPERM;
		ok &= set_ctxmgt(self->vdev[0], 1, 0) == -ENOTTY;
		ok &= get_ctxmgt(self->ctl, &c) == 0 && c.enable == 0;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, sysfs_number("ctxmgt"));
}

/* Opens the sysfs attribute @name of the control node and reads it, as a poller must. */
static int open_ctl_attr(const char *name)
{
	char path[128], buf[64];
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/vdmux/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, sizeof(buf)) <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether attribute @fd was notified within @ms (then read again, to wait for the next). */
static int notified(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI | POLLERR };
	char buf[64];

	if (poll(&p, 1, ms) != 1 || !(p.revents & POLLPRI))
		return 0;
	return pread(fd, buf, sizeof(buf), 0) > 0;
}

/*
 * SET_CTXMGT notifies the sysfs attribute of each value it changes, and
 * only those (a watcher of the mode wakes, as vdmuxctl watch does): the
 * mode, the hold, both; setting the same values again notifies neither. No
 * virtual device changed: the control node's generation stays.
 */
TEST_F(ctx, setting_the_mode_notifies_its_sysfs_attributes)
{
	uint64_t gen = generation_of(self->ctl);
	int on = open_ctl_attr("ctxmgt"), hold = open_ctl_attr("ctxmgt_timeout_ms");

	ASSERT_LE(0, on);
	ASSERT_LE(0, hold);
	EXPECT_EQ(0, notified(on, 0));
	EXPECT_EQ(0, notified(hold, 0));

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	EXPECT_EQ(1, notified(on, 5000));
	EXPECT_EQ(0, notified(hold, 0));
	EXPECT_EQ(1, sysfs_number("ctxmgt"));

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 25));
	EXPECT_EQ(1, notified(hold, 5000));
	EXPECT_EQ(0, notified(on, 0));
	EXPECT_EQ(25, sysfs_number("ctxmgt_timeout_ms"));

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 25));
	EXPECT_EQ(0, notified(on, 200));
	EXPECT_EQ(0, notified(hold, 0));
	/* Refused: nothing changed, nothing notified. */
	EXPECT_EQ(-EINVAL, set_ctxmgt(self->ctl, 2, 0));
	EXPECT_EQ(0, notified(on, 0));
	EXPECT_EQ(0, notified(hold, 0));

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 0, 0));
	EXPECT_EQ(1, notified(on, 5000));
	EXPECT_EQ(1, notified(hold, 5000));
	EXPECT_EQ(gen, generation_of(self->ctl));
	close(on);
	close(hold);
}

/* Off: an access to a background vdev uses its backing store, as ever. */
TEST_F(ctx, off_keeps_todays_behaviour)
{
	uint64_t gen = generation_of(self->ctl);
	long switches = ctl_switches(self->ctl);
	char *p = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_LE(0, switches);
	fill_tagged(p, DEFAULT_RESERVED, 1, 7, 0);
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
	EXPECT_EQ(gen, generation_of(self->ctl));
	EXPECT_EQ(switches, ctl_switches(self->ctl));
	EXPECT_TRUE(vdev_has_tagged(self->vdev[1], 1, 7));
	munmap(p, DEFAULT_RESERVED);
}

/*
 * An access switches: the vdev and the control node move on one generation
 * each, as for VDMUX_IOC_SWITCH, the old foreground's bytes are kept, and the
 * fault is served by a retry (a major fault to getrusage) after the switch,
 * on the device memory.
 */
TEST_F(ctx, access_switches_through_a_retried_fault)
{
	uint64_t ctl_gen, gen1, gen0;
	struct fault_counts before, after;
	long majors, switches;
	char *p0, *p1;
	char c;

	p0 = map_shared(self->vdev[0], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	fill_tagged(p0, DEFAULT_RESERVED, 0, 1, 0);
	ASSERT_EQ(0, fill_vdev(self->vdev[1], 1, 2, DEFAULT_RESERVED));
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));

	ctl_gen = generation_of(self->ctl);
	gen0 = generation_of(self->vdev[0]);
	gen1 = generation_of(self->vdev[1]);
	switches = ctl_switches(self->ctl);
	before = fault_counts(self->vdev[1]);
	majors = thread_major_faults();
	c = p1[100];
	after = fault_counts(self->vdev[1]);
	EXPECT_EQ(pattern_byte(1, 2, 100), c);
	EXPECT_EQ(1, thread_major_faults() - majors);
	EXPECT_LE(1, after.pages - before.pages);

	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[1]));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[0]));
	EXPECT_EQ(ctl_gen + 1, generation_of(self->ctl));
	EXPECT_EQ(gen1 + 1, generation_of(self->vdev[1]));
	EXPECT_EQ(gen0 + 1, generation_of(self->vdev[0]));
	EXPECT_EQ(switches + 1, ctl_switches(self->ctl));
	EXPECT_EQ(switches + 1, sysfs_number("ctxmgt_switches"));
	/* The old foreground's bytes went to its backing store. */
	EXPECT_TRUE(vdev_has_tagged(self->vdev[0], 0, 1));
	/* What the mapping wrote is the device memory's, which pread reads now. */
	fill_tagged(p1, DEFAULT_RESERVED, 1, 3, 0);
	EXPECT_TRUE(vdev_has_tagged(self->vdev[1], 1, 3));
	/* The new foreground's mappings stay: no more faults, no switch. */
	before = fault_counts(self->vdev[1]);
	fill_tagged(p1, DEFAULT_RESERVED, 1, 4, 0);
	after = fault_counts(self->vdev[1]);
	EXPECT_EQ(before.pages, after.pages);
	EXPECT_EQ(switches + 1, ctl_switches(self->ctl));
	/* Back to vdev 0 by an access, its bytes intact. */
	EXPECT_TRUE(has_tagged(p0, DEFAULT_RESERVED, 0, 1, 0));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[0]));
	EXPECT_TRUE(vdev_has_tagged(self->vdev[1], 1, 4));
	EXPECT_EQ(switches + 2, ctl_switches(self->ctl));
	munmap(p0, DEFAULT_RESERVED);
	munmap(p1, DEFAULT_RESERVED);
}

/* Enabling revokes what a background vdev had mapped of its backing store. */
TEST_F(ctx, enabling_zaps_background_mappings)
{
	char *p = map_shared(self->vdev[2], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

	ASSERT_NE(MAP_FAILED, p);
	fill_tagged(p, DEFAULT_RESERVED, 2, 5, 0);
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[2]));
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	/* Every page was mapped: only a zap makes this access fault. */
	EXPECT_TRUE(has_tagged(p + DEFAULT_RESERVED / 4, 8, 2, 5, DEFAULT_RESERVED / 4));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[2]));
	EXPECT_TRUE(has_tagged(p, DEFAULT_RESERVED, 2, 5, 0));
	/* Disabled again: an access to the now background vdev 0 switches nothing. */
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 0, 0));
	munmap(p, DEFAULT_RESERVED);
	p = map_shared(self->vdev[0], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_tagged(p, DEFAULT_RESERVED, 0, 6, 0);
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[0]));
	munmap(p, DEFAULT_RESERVED);
}

/*
 * The hold: right after a SWITCH to vdev 0, an access to vdev 1 waits until
 * vdev 0 held the device memory for the timeout, then switches (within a
 * bound: a busy 2-core host under TCG).
 */
TEST_F(ctx, hold_time_is_honoured)
{
	const unsigned int hold_ms = 300;
	char *p = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	double t0, waited;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, hold_ms));
	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	p[0] = 1;
	waited = now_s() - t0;
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[1]));
	EXPECT_LE(hold_ms / 1000.0, waited);
	EXPECT_GT(hold_ms / 1000.0 + 5, waited);
	TH_LOG("an access right after a SWITCH waited %.3f s for a %u ms hold", waited, hold_ms);

	/* Held by an access too: vdev 1's access counts from its own switch. */
	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	p[DEFAULT_RESERVED / 8] = 2;
	EXPECT_LE(hold_ms / 1000.0, now_s() - t0);
	munmap(p, DEFAULT_RESERVED);
}

/* With no foreground (ejected), an access takes the device memory at once. */
TEST_F(ctx, no_foreground_takes_it_at_once)
{
	char *p = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	double t0, waited;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 10000));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	t0 = now_s();
	p[0] = 1;
	waited = now_s() - t0;
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[1]));
	EXPECT_GT(5.0, waited);
	munmap(p, DEFAULT_RESERVED);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 0));
}

/* A removed vdev's access raises SIGBUS and switches nothing. */
TEST_F(ctx, removed_vdev_is_sigbus)
{
	char *p = map_shared(self->vdev[3], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	uint64_t gen;
	long switches;
	char c;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 3));
	gen = generation_of(self->ctl);
	switches = ctl_switches(self->ctl);
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	EXPECT_EQ(SIGBUS, probe_write(p + DEFAULT_RESERVED / 8, 1));
	EXPECT_EQ(gen, generation_of(self->ctl));
	EXPECT_EQ(switches, ctl_switches(self->ctl));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[0]));
	munmap(p, DEFAULT_RESERVED);
}

/*
 * A waiter dies at once on SIGKILL, switching nothing: it waits without
 * mmap_lock (the parent's mmap and munmap of its own memory go on), and the
 * kill ends the wait long before the 10 s hold.
 */
TEST_F(ctx, killed_waiter_exits_at_once)
{
	double t0, gone;
	int status;
	pid_t pid;

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 10000));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *p = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

		if (p == MAP_FAILED)
			_exit(2);
		p[0] = 1;
		_exit(3);
	}
	usleep(500 * 1000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
	t0 = now_s();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	gone = now_s() - t0;
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	EXPECT_GT(2.0, gone);
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[0]));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
}

/*
 * A fault the kernel cannot retry (fixup_user_fault() without "unlocked":
 * FUTEX_WAKE_OP's store to its second word, once the store with page
 * faults disabled failed) cannot wait for a turn without holding
 * mmap_lock; it must not switch under it either: the futex call fails with
 * EFAULT, and nothing switches, even with no hold time. An ordinary access
 * then still switches.
 */
TEST_F(ctx, a_fault_that_cannot_be_retried_switches_nothing)
{
	uint32_t *p = (uint32_t *)map_shared(self->vdev[1], DEFAULT_RESERVED,
					     PROT_READ | PROT_WRITE, 0);
	uint32_t word = 0;
	long switches, ret;

	ASSERT_NE(MAP_FAILED, (void *)p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	switches = ctl_switches(self->ctl);
	errno = 0;
	ret = syscall(SYS_futex, &word, FUTEX_WAKE_OP_PRIVATE, 1, 1, p,
		      FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[0]));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
	EXPECT_EQ(switches, ctl_switches(self->ctl));
	p[0] = 1;
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[1]));
	EXPECT_EQ(switches + 1, ctl_switches(self->ctl));
	EXPECT_EQ(0, munmap(p, DEFAULT_RESERVED));
}

static void *touch_first_byte(void *p)
{
	*(volatile char *)p = 1;
	return NULL;
}

/*
 * A fault waiting for its turn holds no lock, so its VMA can be unmapped
 * and its file closed meanwhile: the waiter must still keep the module
 * loaded, since it sleeps in the module's code. A child's thread waits in
 * such a fault while the child unmaps the mapping (its only reference to
 * the file); with every other file closed, rmmod must be refused until
 * the child is killed, and then succeed.
 */
TEST_F(ctx, a_waiting_fault_keeps_the_module_loaded)
{
	int ready[2], status, ret;
	char c;
	pid_t pid;

	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 10000));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pthread_t th;
		char *p;
		int fd;

		/* Its only reference to a vdmux file is to be the mapping's. */
		close_nodes(self->ctl, self->vdev);
		close(ready[0]);
		fd = open_vdev(1, O_RDWR);
		p = fd < 0 ? MAP_FAILED
			   : map_shared(fd, DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
		if (p == MAP_FAILED)
			_exit(2);
		close(fd);
		if (pthread_create(&th, NULL, touch_first_byte, p))
			_exit(3);
		usleep(300 * 1000);
		if (munmap(p, DEFAULT_RESERVED))
			_exit(4);
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		pause();
		_exit(6);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	/* The toucher still waits: vdev 0 holds the device memory for 10 s. */
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
	close_nodes(self->ctl, self->vdev);
	ret = unload_module();
	EXPECT_NE(0, ret) TH_LOG("rmmod succeeded while a fault waited in the module");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	if (ret)
		ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->vdev));
}

/* A cgroup of the v1 freezer controller, mounted for a test, and where. */
struct freezer {
	char root[64];
	char group[96];
	int mounted;
};

/* 0 with @f's cgroup made, -1 when the kernel has no v1 freezer. */
static int freezer_open(struct freezer *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/vdmux-freezer");
	snprintf(f->group, sizeof(f->group), "%s/waiters", f->root);
	f->mounted = 0;
	if (mkdir(f->root, 0755) && errno != EEXIST)
		return -1;
	if (mount("vdmux-freezer", f->root, "cgroup", 0, "freezer"))
		return -1;
	f->mounted = 1;
	if (mkdir(f->group, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

static void freezer_close(struct freezer *f)
{
	char path[128];

	if (!f->mounted)
		return;
	snprintf(path, sizeof(path), "%s/freezer.state", f->group);
	write_text(path, "THAWED");
	rmdir(f->group);
	umount(f->root);
	rmdir(f->root);
}

static int freezer_set(struct freezer *f, const char *state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/freezer.state", f->group);
	return write_text(path, state);
}

/* What the group's freezer.state reads: THAWED, FREEZING or FROZEN. */
static const char *freezer_state(struct freezer *f)
{
	static char state[32];
	char path[128];

	snprintf(path, sizeof(path), "%s/freezer.state", f->group);
	if (read_first_line(path, state, sizeof(state)))
		return "unreadable";
	return state;
}

/* Waits up to @seconds for the group to read FROZEN; 1 when it does. */
static int frozen_within(struct freezer *f, double seconds)
{
	double end = now_s() + seconds;

	do {
		if (!strcmp(freezer_state(f), "FROZEN"))
			return 1;
		usleep(20 * 1000);
	} while (now_s() < end);
	return 0;
}

/*
 * A child waits for its turn of vdev 1 behind vdev 0's hold, in a fault
 * from user mode (a store) or from the kernel's copy of user memory
 * (write(2) of the mapping into a pipe: pipe_write() holds the pipe's
 * mutex while it copies). Returns its pid, in the freezer's group, once it
 * waits; -1 on error.
 */
static pid_t waiter_in_group(struct __test_metadata *_metadata, FIXTURE_DATA(ctx) *self,
			     struct freezer *f, int from_kernel)
{
	char path[128], pid_text[16];
	int ready[2], sink[2];
	pid_t pid;
	char c;

	if (pipe(ready) || pipe(sink))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *p = map_shared(self->vdev[1], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

		if (p == MAP_FAILED || write(ready[1], "r", 1) != 1)
			_exit(2);
		/* The parent moves us into the group first. */
		if (read(sink[0], &c, 1) != 1)
			_exit(3);
		if (from_kernel)
			_exit(write(sink[1], p, PAGE) == (ssize_t)PAGE ? 0 : 4);
		p[0] = 1;
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	snprintf(path, sizeof(path), "%s/cgroup.procs", f->group);
	snprintf(pid_text, sizeof(pid_text), "%d", pid);
	EXPECT_EQ(0, write_text(path, pid_text));
	/* Its read of the pipe returns, and it goes on to wait for vdev 1. */
	EXPECT_EQ(1, write(sink[1], "g", 1));
	close(sink[0]);
	close(sink[1]);
	usleep(300 * 1000);
	return pid;
}

/*
 * The freezer (suspend's, or the cgroup v1 freezer's) may freeze a task
 * only when it holds no lock: lockdep warns about one frozen with a lock
 * held, and whoever waits for that lock waits for the thaw. A task waiting
 * for its turn in a fault from user mode holds none and is frozen at once;
 * one waiting in a fault from a kernel copy (pipe_write() holds the pipe's
 * mutex) is not, until its copy is done, after the hold. freezer.state is
 * the kernel's account of which.
 */
TEST_F(ctx, the_freezer_freezes_only_a_waiter_without_locks)
{
	/* Room for the copy's check at 1 s; a waiter in user mode needs less. */
	const unsigned int hold_ms_of[2] = { 1500, 3000 };
	unsigned int hold_ms;
	struct freezer f;
	int from_kernel, status;
	double t0, frozen_at;
	pid_t pid;

	if (freezer_open(&f)) {
		freezer_close(&f);
		SKIP(return, "no cgroup v1 freezer controller");
	}
	for (from_kernel = 0; from_kernel < 2; from_kernel++) {
		hold_ms = hold_ms_of[from_kernel];
		ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, hold_ms));
		t0 = now_s();
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
		pid = waiter_in_group(_metadata, self, &f, from_kernel);
		ASSERT_LT(0, pid);
		ASSERT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
		ASSERT_EQ(0, freezer_set(&f, "FROZEN"));
		if (!from_kernel) {
			/* Frozen while it waits: the hold has not ended. */
			EXPECT_TRUE(frozen_within(&f, 1.0));
			frozen_at = now_s() - t0;
			EXPECT_GT(hold_ms / 1000.0, frozen_at);
			EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
		} else {
			/* Not frozen in the copy; frozen once it returns. */
			usleep(1000 * 1000);
			EXPECT_STREQ("FREEZING", freezer_state(&f));
			EXPECT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[1]));
			EXPECT_TRUE(frozen_within(&f, hold_ms / 1000.0 + 5));
			frozen_at = now_s() - t0;
			EXPECT_LE(hold_ms / 1000.0, frozen_at);
		}
		TH_LOG("waiting in a fault from %s: frozen %.2f s after the SWITCH (hold %u ms)",
		       from_kernel ? "a kernel copy" : "user mode", frozen_at, hold_ms);
		ASSERT_EQ(0, freezer_set(&f, "THAWED"));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("status %#x", status);
		EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[1]));
		ASSERT_EQ(0, set_ctxmgt(self->ctl, 0, 0));
	}
	freezer_close(&f);
}

/* POPULATE of a background vdev is an access: it switches, then maps. */
TEST_F(ctx, populate_is_an_access)
{
	char *p = map_shared(self->vdev[2], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	struct fault_counts before, after;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, fill_vdev(self->vdev[2], 2, 9, DEFAULT_RESERVED));
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	ASSERT_EQ(0, populate(self->vdev[2], p, DEFAULT_RESERVED));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[2]));
	before = fault_counts(self->vdev[2]);
	EXPECT_TRUE(has_tagged(p, DEFAULT_RESERVED, 2, 9, 0));
	after = fault_counts(self->vdev[2]);
	EXPECT_EQ(before.pages, after.pages);
	munmap(p, DEFAULT_RESERVED);
}

/*
 * The faults, of any kind, that reading [@p, @p + @len) costs on the vdev of
 * @fd: as the driver counts them (fdinfo) and as the kernel reports them
 * (perf, in the vdev's mappings: see struct fault_trace); -1 when the two
 * disagree or cannot be known.
 */
static long read_faults(int fd, const volatile char *p, size_t len)
{
	struct fault_counts before = fault_counts(fd), after;
	struct fault_trace trace;
	long traced;

	if (fault_trace_open(&trace, fd))
		return -1;
	touch_pages(p, len);
	traced = fault_trace_close(&trace);
	after = fault_counts(fd);
	if (before.pages < 0 || after.pages - before.pages + after.huge - before.huge != traced)
		return -1;
	return traced;
}

/* POPULATE's span: a PMD block, the driver's pmd_size. */
#define SPAN PMD_BLOCK

/*
 * POPULATE of a background vdev waits for the hold at its first span, then
 * maps every page of the range once: reading it all after costs no fault.
 * Two spans, or the largest reserved size where that is less.
 */
TEST_F(ctx, populate_waits_for_the_hold_then_maps_everything)
{
	const unsigned int hold_ms = 300;
	const size_t len = 2 * SPAN < DEFAULT_MAX_RESERVED ? 2 * SPAN : DEFAULT_MAX_RESERVED;
	double t0, waited;
	char *p;

	ASSERT_EQ(0, set_reserved(len));
	ASSERT_EQ(0, fill_vdev(self->vdev[2], 2, 21, len));
	p = map_shared(self->vdev[2], len, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, hold_ms));
	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, populate(self->vdev[2], p, len));
	waited = now_s() - t0;
	TH_LOG("POPULATE right after a SWITCH returned after %.3f s (hold %u ms)", waited, hold_ms);
	EXPECT_LE(hold_ms / 1000.0, waited);
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, state_of(self->vdev[2]));
	EXPECT_EQ(0, read_faults(self->vdev[2], p, len));
	EXPECT_TRUE(has_tagged(p, len, 2, 21, 0));
	munmap(p, len);
}

struct competitor {
	volatile char *p;
	volatile int ready;
	volatile int go;
	double delay_s;
};

/*
 * One access to vdev 2 once told to go, after a delay; it spins, as a
 * sleep of a millisecond may last a tick on a busy guest.
 */
static void *compete(void *arg)
{
	struct competitor *c = arg;
	double at;

	c->ready = 1;
	while (!c->go)
		;
	at = now_s() + c->delay_s;
	while (now_s() < at)
		;
	c->p[0] = 1;
	return NULL;
}

/* A range of 4 spans a page off alignment: 5 spans, the last one a page. */
#define NR_SPANS 5

/*
 * POPULATE of vdev 1 over several spans while another thread's access
 * switches to vdev 2 (no hold), started at times spread around the
 * POPULATE's start: when the switch lands between two spans, the POPULATE
 * waits there for its turn, switches back and goes on from the span where
 * it stopped to the end of the range. The spans before it were
 * zapped by the switch away; every span from there on is mapped. When it
 * waited at its first span, every span is mapped. Counts the attempts of
 * each kind, and fails when the POPULATE never waited.
 */
TEST_F(ctx, populate_resumes_where_it_stopped)
{
	const size_t len = 4 * SPAN;
	unsigned int attempt, mid_range = 0, at_start = 0, none = 0;
	struct competitor c = { 0 };
	char *bound[NR_SPANS + 1];
	double end, t0, took, lead;
	uint64_t gen;
	pthread_t th;
	char *p;
	int i;

	if (another_pass())
		SKIP(return, "run by the 64-bit build on RAM device memory");
	if (len > DEFAULT_MAX_RESERVED)
		SKIP(return, "4 spans of %lu bytes are more than max_reserved_size", SPAN);
	ASSERT_EQ(0, set_reserved(len));
	ASSERT_EQ(0, fill_vdev(self->vdev[1], 1, 31, len));
	/* A page off span alignment: page entries, slower to map than PMD ones. */
	p = mmap(NULL, len + 2 * SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	p = (char *)(((uintptr_t)p + SPAN - 1) / SPAN * SPAN) + PAGE;
	ASSERT_EQ(p, mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			  self->vdev[1], 0));
	c.p = (volatile char *)map_shared(self->vdev[2], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, (void *)c.p);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	/* How long a POPULATE of the range takes alone: the competitor's delays span it. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	t0 = now_s();
	ASSERT_EQ(0, populate(self->vdev[1], p, len));
	took = now_s() - t0;
	TH_LOG("a POPULATE of %zu MiB alone took %.4f s", len >> 20, took);
	end = now_s() + 20.0;
	/* The spans of POPULATE: from PMD boundary to PMD boundary. */
	for (i = 1; i < NR_SPANS; i++)
		bound[i] = (char *)((uintptr_t)p / SPAN * SPAN + i * SPAN);
	bound[0] = p;
	bound[NR_SPANS] = p + len;
	for (attempt = 0; now_s() < end && mid_range < 3 && mid_range + at_start < 8; attempt++) {
		long faults[NR_SPANS];
		int mapped_from = NR_SPANS;

		/* Nothing of vdev 1 or 2 mapped, vdev 1 the foreground. */
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
		gen = generation_of(self->vdev[1]);
		/*
		 * The competitor's access takes a while to reach its switch:
		 * it starts up to 5 ms before the POPULATE, or during it.
		 */
		lead = -0.005 + (0.005 + took) * ((attempt * 37) % 100) / 100.0;
		c.ready = 0;
		c.go = 0;
		c.delay_s = lead > 0 ? lead : 0;
		ASSERT_EQ(0, pthread_create(&th, NULL, compete, &c));
		while (!c.ready)
			;
		c.go = 1;
		for (t0 = now_s() - lead; now_s() < t0;)
			;
		ASSERT_EQ(0, populate(self->vdev[1], p, len));
		ASSERT_EQ(0, pthread_join(th, NULL));
		if (generation_of(self->vdev[1]) != gen + 2 ||
		    state_of(self->vdev[1]) != VDMUX_STATE_FOREGROUND) {
			/* The switch came after the POPULATE: no wait in it. */
			none++;
			continue;
		}
		/* It waited and switched back: what it mapped since reads with no fault. */
		/*
		 * Last span first: the fault-around of a read maps up to 15
		 * pages before it, of the span before when it is its first.
		 */
		for (i = NR_SPANS - 1; i >= 0; i--) {
			faults[i] = read_faults(self->vdev[1], bound[i], bound[i + 1] - bound[i]);
			ASSERT_LE(0, faults[i]);
		}
		for (i = NR_SPANS - 1; i >= 0 && !faults[i]; i--)
			mapped_from = i;
		/* The mapped spans are the end of the range, its last one at least. */
		EXPECT_GT(NR_SPANS, mapped_from)
			TH_LOG("attempt %u: the last span was not mapped", attempt);
		for (i = 0; i < mapped_from; i++)
			EXPECT_LT(0, faults[i]);
		if (mapped_from > 0)
			mid_range++;
		else
			at_start++;
		EXPECT_TRUE(has_tagged(p, len, 1, 31, 0));
		if (_metadata->exit_code == KSFT_FAIL)
			break;
	}
	TH_LOG("%u attempts: the POPULATE waited mid-range in %u, at its start in %u, "
	       "not at all in %u", attempt, mid_range, at_start, none);
	/*
	 * The window is a POPULATE that waited: at its first span, or
	 * mid-range (rarer: 1 to 3 in 20 s on a busy TCG guest), both
	 * checked as they came.
	 */
	EXPECT_LE(1, mid_range + at_start);
	munmap(p, len);
	munmap((void *)c.p, PAGE);
}

/* What each time-sharing process reports, in memory shared with the parent. */
struct sharer {
	long rounds;
	long bad;
	long majors;	/* completed faults that the kernel had retried */
	long huge;	/* PMD faults of its vdev while it shared */
	long grows;	/* stores past the reserved size */
	long last_seed;	/* of the last round it verified */
	long last_len;	/* the bytes that round filled */
	long max_len;
	long stop;	/* set by the parent: end before the time is up */
};

/*
 * Fills and verifies the whole mapping of vdev @v with its own tagged words,
 * round after round, for @seconds or until the parent sets @out->stop.
 */
static void time_share(int v, double seconds, struct sharer *out)
{
	int fd = open_vdev(v, O_RDWR);
	char *p;
	double end = now_s() + seconds;
	unsigned int round = 0;

	if (fd < 0)
		_exit(2);
	p = map_shared(fd, DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
	if (p == MAP_FAILED)
		_exit(2);
	while (now_s() < end && !__atomic_load_n(&out->stop, __ATOMIC_RELAXED)) {
		round++;
		fill_tagged(p, DEFAULT_RESERVED, v, round, 0);
		if (!has_tagged(p, DEFAULT_RESERVED, v, round, 0))
			out->bad++;
		out->rounds++;
	}
	out->majors = thread_major_faults();
	_exit(0);
}

/*
 * Fills and verifies [@off, @off + @len) of a mapping @p of vdev @v with its
 * own tagged words, seeds @seed0 + 1, + 2, ..., until @end.
 */
static void share_region(volatile char *p, size_t off, size_t len, int v, unsigned int seed0,
			 double end, struct sharer *out)
{
	unsigned int seed = seed0;

	while (now_s() < end) {
		seed++;
		fill_tagged(p + off, len, v, seed, off);
		if (!has_tagged(p + off, len, v, seed, off))
			out->bad++;
		out->last_seed = seed;
		out->last_len = len;
		out->rounds++;
	}
	out->majors = thread_major_faults();
}

typedef void (*share_fn)(int v, double seconds, struct sharer *out);

/*
 * @n processes time-share the device memory through vdevs 1..@n, each
 * running @share: none ever sees another's words, each makes progress, and
 * the device memory changes hands many times; with @want_huge, each had its
 * vdev's blocks mapped by PMD faults.
 */
static void time_sharing_with(struct __test_metadata *_metadata, int ctl, int n,
			      unsigned int hold_ms, double seconds, long min_rounds,
			      share_fn share, int want_huge)
{
	struct sharer *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid[DEFAULT_NR_VDEVS];
	long before = ctl_switches(ctl), switches, majors = 0;
	int i, status;

	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, set_ctxmgt(ctl, 1, hold_ms));
	for (i = 0; i < n; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			share(i + 1, seconds, &s[i]);
	}
	for (i = 0; i < n; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	switches = ctl_switches(ctl) - before;
	for (i = 0; i < n; i++) {
		TH_LOG("vdev %d: %ld rounds, %ld bad, %ld retried faults, %ld huge faults", i + 1,
		       s[i].rounds, s[i].bad, s[i].majors, s[i].huge);
		EXPECT_EQ(0, s[i].bad);
		EXPECT_LE(min_rounds, s[i].rounds);
		if (want_huge)
			EXPECT_LE(1, s[i].huge);
		majors += s[i].majors;
	}
	TH_LOG("%ld switches by accesses", switches);
	EXPECT_LE(10, switches);
	/*
	 * Every switch was made by a fault that the kernel retried, and that
	 * retried fault completed on the device memory before anyone could
	 * switch again (the grace): one completed retried fault per switch at
	 * least. A switch that another access undid before its fault was
	 * served has no completed fault of its own.
	 */
	EXPECT_LE(switches, majors);
	munmap(s, PAGE);
}

static void time_sharing(struct __test_metadata *_metadata, int ctl, int n, unsigned int hold_ms,
			 double seconds, long min_rounds)
{
	time_sharing_with(_metadata, ctl, n, hold_ms, seconds, min_rounds, time_share, 0);
}

#define BLOCK PMD_BLOCK
#define BIG (2 * BLOCK)

/*
 * time_share() through a BLOCK aligned mapping of the whole reserved size
 * (BIG): its blocks are mapped by PMD faults, and each switch zaps them.
 */
static void time_share_pmd(int v, double seconds, struct sharer *out)
{
	int fd = open_vdev(v, O_RDWR);
	struct fault_counts before, after;
	char *p;

	if (fd < 0)
		_exit(2);
	/* At a BLOCK aligned address, which a 32-bit mmap() does not choose. */
	p = mmap(NULL, BIG + BLOCK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	p = (char *)(((uintptr_t)p + BLOCK - 1) / BLOCK * BLOCK);
	if (mmap(p, BIG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != p)
		_exit(3);
	before = fault_counts(fd);
	share_region(p, 0, BIG, v, 0, now_s() + seconds, out);
	after = fault_counts(fd);
	out->huge = after.huge - before.huge;
	_exit(0);
}

/*
 * Two processes through PMD mappings of two blocks each, with a hold long
 * enough for a round to fill a block or more in a turn. Skipped where a
 * store's chunks hold no PMD block.
 */
TEST_F(ctx, two_processes_share_through_pmd_mappings)
{
	if (compat_build())
		SKIP(return, "run by the 64-bit builds");
	if (!chunks_hold_pmd())
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	/*
	 * vmf_insert_pfn_pmd() keeps the VMA's cacheable protection, which
	 * only x86 PAT turns into the BAR's write-combining: elsewhere vdmux
	 * maps a BAR with single pages (vdmux_io_huge_allowed()), and the
	 * other pass of a 64-bit build is the pci pass.
	 */
	if (!IO_PMD_MAPPINGS && another_pass())
		SKIP(return, "no PMD mappings of a BAR without x86 PAT");
	ASSERT_EQ(0, set_reserved(BIG));
	time_sharing_with(_metadata, self->ctl, 2, 50, 2.5, 3, time_share_pmd, 1);
}

/*
 * A process time-sharing vdev 1 forks: parent and child go on through the
 * same MAP_SHARED mapping (the child's copy of its page table entries
 * included), each on its own half, while another process time-shares
 * vdev 2. Each half ends with the last words of whoever filled it.
 */
TEST_F(ctx, a_time_sharer_forks)
{
	struct sharer *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const size_t half = DEFAULT_RESERVED / 2;
	const unsigned int child_seeds = 1000000;
	long before, switches;
	pid_t pid[2];
	int i, status;
	char *buf;

	if (another_pass())
		SKIP(return, "run by the 64-bit build on RAM device memory");
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	before = ctl_switches(self->ctl);
	pid[0] = fork();
	ASSERT_LE(0, pid[0]);
	if (pid[0] == 0) {
		int fd = open_vdev(1, O_RDWR);
		double end = now_s() + 3.0;
		char *p;
		pid_t child;

		if (fd < 0)
			_exit(2);
		p = map_shared(fd, DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);
		if (p == MAP_FAILED)
			_exit(2);
		/* Mapped on the device memory when it forks. */
		share_region(p, 0, DEFAULT_RESERVED, 1, 0, now_s() + 0.5, &s[2]);
		child = fork();
		if (child < 0)
			_exit(4);
		if (child == 0) {
			share_region(p, half, half, 1, child_seeds, end, &s[1]);
			_exit(0);
		}
		share_region(p, 0, half, 1, 0, end, &s[0]);
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			_exit(5);
		_exit(0);
	}
	pid[1] = fork();
	ASSERT_LE(0, pid[1]);
	if (pid[1] == 0)
		time_share(2, 5.0, &s[3]);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("process %d: status %#x", i, status);
	}
	switches = ctl_switches(self->ctl) - before;
	TH_LOG("parent %ld rounds (%ld retried faults), child %ld (%ld), vdev 2 %ld (%ld); "
	       "%ld switches by accesses", s[0].rounds, s[0].majors, s[1].rounds, s[1].majors,
	       s[3].rounds, s[3].majors, switches);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, s[i].bad) TH_LOG("sharer %d", i);
		EXPECT_LE(3, s[i].rounds) TH_LOG("sharer %d", i);
	}
	/* Parent and child each took the device memory back by their own accesses. */
	EXPECT_LE(1, s[0].majors);
	EXPECT_LE(1, s[1].majors);
	EXPECT_LE(10, switches);
	buf = malloc(DEFAULT_RESERVED);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(DEFAULT_RESERVED, pread(self->vdev[1], buf, DEFAULT_RESERVED, 0));
	EXPECT_TRUE(has_tagged(buf, half, 1, s[0].last_seed, 0));
	EXPECT_TRUE(has_tagged(buf + half, half, 1, s[1].last_seed, half));
	free(buf);
	munmap(s, PAGE);
}

/*
 * time_share() through an autogrow mapping of up to 4 times the reserved
 * size: each round fills what the reserved size is now; with @grow, every
 * other round first stores past it, growing it by a page.
 */
static void share_growing(int v, double seconds, struct sharer *out, int grow)
{
	const size_t max = 4 * DEFAULT_RESERVED;
	int fd = open_vdev(v, O_RDWR);
	double end = now_s() + seconds;
	unsigned int seed = 0;
	struct vdmux_status st;
	char *p;

	if (fd < 0 || set_autogrow(fd, 1))
		_exit(2);
	p = map_shared(fd, max, PROT_READ | PROT_WRITE, 0);
	if (p == MAP_FAILED)
		_exit(3);
	while (now_s() < end) {
		if (get_status(fd, &st))
			_exit(4);
		if (grow && seed % 2 == 0 && st.reserved_size < max) {
			p[st.reserved_size] = 1;
			out->grows++;
			if (get_status(fd, &st))
				_exit(4);
		}
		seed++;
		fill_tagged(p, st.reserved_size, v, seed, 0);
		if (!has_tagged(p, st.reserved_size, v, seed, 0))
			out->bad++;
		out->last_seed = seed;
		out->last_len = st.reserved_size;
		if ((long)st.reserved_size > out->max_len)
			out->max_len = st.reserved_size;
		out->rounds++;
	}
	out->majors = thread_major_faults();
	_exit(0);
}

static void share_and_grow(int v, double seconds, struct sharer *out)
{
	share_growing(v, seconds, out, v == 1);
}

/*
 * vdev 1's time-sharer grows the reserved size by storing past it while
 * vdev 2's time-shares: both see it grow and fill what it grew to, their
 * bytes kept through every hand-over and growth.
 */
TEST_F(ctx, a_time_sharer_grows_the_size)
{
	char buf[4 * DEFAULT_RESERVED];
	struct sharer *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long before = ctl_switches(self->ctl), switches;
	struct vdmux_status st;
	pid_t pid[2];
	int i, status;

	memset(buf, 0, sizeof(buf));

	if (another_pass())
		SKIP(return, "run by the 64-bit build on RAM device memory");
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, 0));
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			share_and_grow(i + 1, 5.0, &s[i]);
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("vdev %d: status %#x", i + 1, status);
	}
	switches = ctl_switches(self->ctl) - before;
	ASSERT_EQ(0, get_status(self->ctl, &st));
	for (i = 0; i < 2; i++)
		TH_LOG("vdev %d: %ld rounds, %ld bad, %ld growths, %ld retried faults, "
		       "up to %ld bytes", i + 1, s[i].rounds, s[i].bad, s[i].grows, s[i].majors,
		       s[i].max_len);
	TH_LOG("%ld switches by accesses, reserved size %llu", switches,
	       (unsigned long long)st.reserved_size);
	EXPECT_LE(4, s[0].grows);
	EXPECT_EQ(DEFAULT_RESERVED + s[0].grows * PAGE, st.reserved_size);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, s[i].bad);
		EXPECT_LE(3, s[i].rounds);
		/* Each saw, and filled, a size grown while it shared. */
		EXPECT_LT((long)DEFAULT_RESERVED, s[i].max_len);
		ASSERT_GE(sizeof(buf), (size_t)s[i].last_len);
		ASSERT_EQ(s[i].last_len, pread(self->vdev[i + 1], buf, s[i].last_len, 0));
		EXPECT_TRUE(has_tagged(buf, s[i].last_len, i + 1, s[i].last_seed, 0))
			TH_LOG("vdev %d", i + 1);
	}
	EXPECT_LE(10, switches);
	munmap(s, PAGE);
}

/* Polls for @pid's end for up to @seconds; its pid once it ended, else 0. */
static pid_t wait_within(pid_t pid, int *status, double seconds)
{
	double end = now_s() + seconds;
	pid_t got;

	do {
		got = waitpid(pid, status, WNOHANG);
		if (got)
			return got;
		usleep(10 * 1000);
	} while (now_s() < end);
	return 0;
}

/*
 * With vdevs 1 and 3 time-sharing with a long hold, a process waits for its
 * turn of vdev 2, which is ejected meanwhile: its access ends in SIGBUS long
 * before its turn, and the others go on. Once INSERT brought vdev 2 back,
 * an access to it takes its turn.
 */
TEST_F(ctx, eject_during_time_sharing)
{
	const unsigned int hold_ms = 1500;
	struct sharer *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long rounds_at_eject[2];
	int ready[2], i, fd, status;
	pid_t pid[2], waiter, x;
	double t0, gone;
	char c;

	if (another_pass())
		SKIP(return, "run by the 64-bit build on RAM device memory");
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, set_ctxmgt(self->ctl, 1, hold_ms));
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			time_share(2 * i + 1, 30.0, &s[i]);
	}
	/* Both take turns before the waiter comes. */
	t0 = now_s();
	while ((!s[0].rounds || !s[1].rounds) && now_s() < t0 + 20)
		usleep(10 * 1000);
	ASSERT_TRUE(s[0].rounds && s[1].rounds);
	ASSERT_EQ(0, pipe(ready));
	waiter = fork();
	ASSERT_LE(0, waiter);
	if (waiter == 0) {
		char *p = map_shared(self->vdev[2], DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

		if (p == MAP_FAILED || write(ready[1], "r", 1) != 1)
			_exit(2);
		p[0] = 1;
		s[2].rounds = 1;
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	usleep(300 * 1000);
	/* The window: it still waits for its turn. */
	ASSERT_EQ(0, waitpid(waiter, &status, WNOHANG));
	ASSERT_EQ(0, s[2].rounds);
	ASSERT_EQ(VDMUX_STATE_BACKGROUND, state_of(self->vdev[2]));
	for (i = 0; i < 2; i++)
		rounds_at_eject[i] = s[i].rounds;
	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	if (!wait_within(waiter, &status, 10.0)) {
		kill(waiter, SIGKILL);
		waitpid(waiter, &status, 0);
		EXPECT_TRUE(0) TH_LOG("the waiter still waits 10 s after the EJECT");
	} else {
		gone = now_s() - t0;
		TH_LOG("the waiter ended %.3f s after the EJECT (hold %u ms)", gone, hold_ms);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
			TH_LOG("status %#x", status);
		EXPECT_GT(hold_ms / 1000.0, gone);
	}
	EXPECT_EQ(VDMUX_STATE_REMOVED, state_of(self->vdev[2]));

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	x = fork();
	ASSERT_LE(0, x);
	if (x == 0) {
		int fd = open_vdev(2, O_RDWR);
		char *p = fd < 0 ? MAP_FAILED
				 : map_shared(fd, DEFAULT_RESERVED, PROT_READ | PROT_WRITE, 0);

		if (p == MAP_FAILED)
			_exit(2);
		fill_tagged(p, DEFAULT_RESERVED, 2, 77, 0);
		_exit(has_tagged(p, DEFAULT_RESERVED, 2, 77, 0) ? 0 : 3);
	}
	ASSERT_EQ(x, waitpid(x, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	fd = open_vdev(2, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(vdev_has_tagged(fd, 2, 77));
	close(fd);
	/* The others went on after the EJECT: a round each, then they stop. */
	t0 = now_s();
	while ((s[0].rounds <= rounds_at_eject[0] || s[1].rounds <= rounds_at_eject[1]) &&
	       now_s() < t0 + 10)
		usleep(10 * 1000);
	for (i = 0; i < 2; i++)
		__atomic_store_n(&s[i].stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		TH_LOG("vdev %d: %ld rounds, %ld at the EJECT, %ld bad", 2 * i + 1, s[i].rounds,
		       rounds_at_eject[i], s[i].bad);
		EXPECT_EQ(0, s[i].bad);
		EXPECT_LT(rounds_at_eject[i], s[i].rounds);
	}
	munmap(s, PAGE);
}

TEST_F(ctx, two_processes_ping_pong_with_no_hold)
{
	if (compat_build())
		SKIP(return, "run by the 64-bit builds");
	time_sharing(_metadata, self->ctl, 2, 0, 2.0, 5);
}

TEST_F(ctx, three_processes_take_turns)
{
	if (compat_build())
		SKIP(return, "run by the 64-bit builds");
	time_sharing(_metadata, self->ctl, 3, 0, 2.0, 5);
}

TEST_F(ctx, two_processes_share_with_a_hold)
{
	if (compat_build())
		SKIP(return, "run by the 64-bit builds");
	time_sharing(_metadata, self->ctl, 2, 20, 2.0, 3);
}

/* On a busy 2-core host under TCG, the slowest took about 5 s. */
VDMUX_HARNESS_MAIN(60)
