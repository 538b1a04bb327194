// SPDX-License-Identifier: GPL-2.0
/*
 * Security cases: what another node, a process without CAP_SYS_ADMIN, a
 * FOLL_FORCE write, a reused address, fork flags and page pins can reach.
 * The rule throughout: a mapping or a copy shows its own vdev's bytes or
 * fails; it never shows another vdev's, and never changes what it must not.
 */
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED
#define KERNEL_ADDR 0xffffffff81000000UL

FIXTURE(sec)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
	char a[MAX_DEFAULT_RESERVED], b[MAX_DEFAULT_RESERVED];	/* what vdev 0 and vdev 1 hold: SIZE bytes */
};

FIXTURE_SETUP(sec)
{
	int i;

	ASSERT_EQ(0, reset_device());
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
		self->fd[i] = open_vdev(i, O_RDWR);
		ASSERT_LE(0, self->fd[i]);
	}
	fill_pattern(self->a, SIZE, 0xa0);
	fill_pattern(self->b, SIZE, 0xb1);
	ASSERT_EQ(SIZE, pwrite(self->fd[0], self->a, SIZE, 0));
	ASSERT_EQ(SIZE, pwrite(self->fd[1], self->b, SIZE, 0));
}

FIXTURE_TEARDOWN(sec)
{
	int i;

	close(self->ctl);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		close(self->fd[i]);
	reset_device();
}

static int wait_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int read_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? c : -1;
}

/* Tells the child what changed; its answer is 'y' when all it saw was right. */
static int step(int go, int done, char what)
{
	if (write(go, &what, 1) != 1)
		return -1;
	return read_byte(done);
}

/*
 * A node made with mknod in /tmp reaches the same vdev: a process that
 * maps vdev 1 only through it sees vdev 1's bytes across switches, never
 * vdev 0's, and SIGBUS while it is ejected. An alias of the control node
 * controls the same device.
 */
TEST_F(sec, mknod_alias_follows_switch_and_eject)
{
	const char *vdev_alias = "/tmp/sec-vdmux1", *ctl_alias = "/tmp/sec-vdmux";
	int go[2], done[2], actl;
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, stat(vdev_path(1), &st));
	unlink(vdev_alias);
	ASSERT_EQ(0, mknod(vdev_alias, S_IFCHR | 0600, st.st_rdev));
	ASSERT_EQ(0, stat(CTL_PATH, &st));
	unlink(ctl_alias);
	ASSERT_EQ(0, mknod(ctl_alias, S_IFCHR | 0600, st.st_rdev));
	actl = open(ctl_alias, O_RDWR);
	ASSERT_LE(0, actl);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open(vdev_alias, O_RDONLY), step, ok = 1;
		char *p, c;

		close(go[1]);
		close(done[0]);

		p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		/* Each step: the parent changed something, check, report. */
		for (step = 0; (c = read_byte(go[0])) > 0; step++) {
			if (c == 'e')
				ok &= probe_read(p + step % 8 * PAGE, &c) == SIGBUS;
			else
				ok &= !memcmp(p, self->b, SIZE);
			if (write(done[1], ok ? "y" : "n", 1) != 1)
				_exit(3);
		}
		_exit(ok ? 0 : 1);
	}
	close(go[0]);
	close(done[1]);
	ASSERT_EQ('y', step(go[1], done[0], '0')); /* vdev 1 in the background */
	ASSERT_EQ(0, vdmux_ioc(actl, VDMUX_IOC_SWITCH, 1));	/* through the alias */
	ASSERT_EQ('y', step(go[1], done[0], 's')); /* now in device memory */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ('y', step(go[1], done[0], 's')); /* device memory holds vdev 0 again */
	ASSERT_EQ(0, vdmux_ioc(actl, VDMUX_IOC_EJECT, 1));
	ASSERT_EQ('y', step(go[1], done[0], 'e'));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ('y', step(go[1], done[0], 'i'));
	close(go[1]);
	EXPECT_EQ(0, wait_ok(pid));
	close(actl);
	unlink(vdev_alias);
	unlink(ctl_alias);
}

static int capset_sets(uint32_t effective, uint32_t permitted)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { effective, permitted, 0 }, { 0, 0, 0 } };

	return syscall(SYS_capset, &h, d);
}

/* The four state changes on @ctl, each EPERM; the status still readable. */
static int all_eperm(int ctl)
{
	struct vdmux_status st;
	uint64_t size = 2 * SIZE;
	int ok = 1;

	uint64_t zero = 0;

	ok &= vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_EJECT, 0) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size) == -EPERM;
	/*
	 * EPERM is checked first: calls that would fail otherwise (EINVAL for
	 * a bad index, a vdev not removed or a size of 0; EFAULT for a kernel
	 * pointer) fail with EPERM.
	 */
	ok &= vdmux_ioc(ctl, VDMUX_IOC_INSERT, 2) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 99) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_EJECT, 1UL << 40) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&zero) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, KERNEL_ADDR) == -EPERM;
	ok &= vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, 0) == -EPERM;
	ok &= get_status(ctl, &st) == 0 && st.foreground == 0 && st.reserved_size == SIZE;
	return ok;
}

/*
 * CAP_SYS_ADMIN is checked in the effective set at each call, on a control
 * file opened while privileged: uid 0 without it, a capability that is
 * permitted but not effective, and nobody after setuid all get EPERM.
 */
TEST_F(sec, control_needs_effective_cap_sys_admin)
{
	struct vdmux_status before, after;
	pid_t pid;

	ASSERT_EQ(0, get_status(self->ctl, &before));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t admin = 1U << CAP_SYS_ADMIN;
		uint32_t ids = 1U << CAP_SETUID | 1U << CAP_SETGID;	/* kept for the last step */
		int ok = 1;

		/* Still uid 0, CAP_SYS_ADMIN permitted but not effective. */
		if (capset_sets(ids, admin | ids))
			_exit(2);
		ok &= all_eperm(self->ctl);
		/* Raised again: allowed, and a no-op switch proves it. */
		if (capset_sets(admin | ids, admin | ids))
			_exit(3);
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0) == 0;
		/* Dropped for good, then every capability with uid 0 itself. */
		if (capset_sets(ids, ids))
			_exit(4);
		ok &= all_eperm(self->ctl);
		ok &= capset_sets(admin | ids, admin | ids) == -1 && errno == EPERM;
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(5);
		ok &= capset_sets(admin, admin) == -1 && errno == EPERM;
		ok &= all_eperm(self->ctl);
		/* The nodes themselves are closed to nobody. */
		ok &= open(CTL_PATH, O_RDONLY) == -1 && errno == EACCES;
		ok &= open(vdev_path(1), O_RDONLY) == -1 && errno == EACCES;
		_exit(ok ? 0 : 1);
	}
	EXPECT_EQ(0, wait_ok(pid));
	ASSERT_EQ(0, get_status(self->ctl, &after));
	EXPECT_EQ(before.generation, after.generation);
	EXPECT_EQ(0, after.foreground);
}

/* Every page of @p readable without a signal, and equal to @want. */
static int intact(const char *p, const char *want, size_t len)
{
	char c;
	size_t i;

	for (i = 0; i < len; i += PAGE)
		if (probe_read(p + i, &c))
			return 0;
	return !memcmp(p, want, len);
}

/* The errno of a failed pin of a vdmux page: see the comment of foll_force_never_reaches_a_mapping. */
static int pin_refused(void)
{
	return errno == EFAULT || errno == EEXIST;
}

/*
 * Nothing reaches a vdmux mapping's pages through get_user_pages: not
 * /proc/self/mem (FOLL_FORCE), not process_vm_readv/writev, read-only
 * mapping or writable, read or write. The mappings are VM_PFNMAP with
 * special entries (what vdmux adds): GUP refuses them, and /proc/PID/mem,
 * with no vm_ops->access to fall back to, is EIO. Which of EFAULT and
 * EEXIST a refused pin returns is the kernel's choice (check_vma_flags
 * refuses VM_PFNMAP with EFAULT; follow_pfn_pte, for a mapping GUP gets
 * further into, EEXIST), so both are accepted; that it fails is not.
 * And nothing changes: every byte is still vdev 1's.
 */
TEST_F(sec, foll_force_never_reaches_a_mapping)
{
	char got[SIZE];
	struct iovec local, remote;
	char junk[64], out[64];
	int mem, ro, i;
	char *maps[3];

	memset(got, 0, sizeof(got));

	memset(junk, 'X', sizeof(junk));
	mem = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, mem);
	ro = open_vdev(1, O_RDONLY);
	ASSERT_LE(0, ro);
	maps[0] = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, ro, 0);		/* no VM_MAYWRITE */
	maps[1] = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, self->fd[1], 0);	/* VM_MAYWRITE */
	maps[2] = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	for (i = 0; i < 3; i++) {
		ASSERT_NE(MAP_FAILED, maps[i]);
		/* Faulted in first: GUP finds present entries, not an empty range. */
		ASSERT_TRUE(intact(maps[i], self->b, SIZE));
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-1, pwrite(mem, junk, sizeof(junk), (off_t)(maps[i] + 100)))
			TH_LOG("mapping %d", i);
		EXPECT_EQ(EIO, errno) TH_LOG("mapping %d", i);
		EXPECT_EQ(-1, pread(mem, out, sizeof(out), (off_t)(maps[i] + 100)))
			TH_LOG("mapping %d", i);
		EXPECT_EQ(EIO, errno) TH_LOG("mapping %d", i);
		local = (struct iovec){ junk, sizeof(junk) };
		remote = (struct iovec){ maps[i] + 200, sizeof(junk) };
		EXPECT_EQ(-1, process_vm_writev(getpid(), &local, 1, &remote, 1, 0))
			TH_LOG("mapping %d", i);
		EXPECT_TRUE(pin_refused()) TH_LOG("mapping %d: errno %d", i, errno);
		local = (struct iovec){ out, sizeof(out) };
		EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0))
			TH_LOG("mapping %d", i);
		EXPECT_TRUE(pin_refused()) TH_LOG("mapping %d: errno %d", i, errno);
		EXPECT_TRUE(intact(maps[i], self->b, SIZE));
	}
	ASSERT_EQ(SIZE, pread(self->fd[1], got, SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->b, SIZE));
	/* The same calls on anonymous memory work: the refusals are vdmux's mappings'. */
	EXPECT_EQ(sizeof(junk), pwrite(mem, junk, sizeof(junk), (off_t)got));
	EXPECT_EQ(0, memcmp(got, junk, sizeof(junk)));
	for (i = 0; i < 3; i++)
		munmap(maps[i], SIZE);
	close(ro);
	close(mem);
}

/*
 * After munmap, the address is reused by an anonymous mapping, by a
 * mapping of another vdev, and a moved mapping leaves its old address to
 * one too: state changes of the first vdev reach none of them.
 */
TEST_F(sec, reused_address_never_touched)
{
	char anon_bytes[SIZE], c_bytes[SIZE];
	char *x, *y, *p, *moved, c;

	memset(anon_bytes, 0, sizeof(anon_bytes));
	memset(c_bytes, 0, sizeof(c_bytes));

	memset(anon_bytes, 'Q', SIZE);
	fill_pattern(c_bytes, SIZE, 0xc2);
	ASSERT_EQ(SIZE, pwrite(self->fd[2], c_bytes, SIZE, 0));

	/* x: vdev 1, then anonymous. y: vdev 1, then vdev 2. */
	x = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	y = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_NE(MAP_FAILED, y);
	ASSERT_TRUE(intact(x, self->b, SIZE));
	ASSERT_TRUE(intact(y, self->b, SIZE));
	ASSERT_EQ(0, munmap(x, SIZE));
	ASSERT_EQ(0, munmap(y, SIZE));
	ASSERT_EQ(x, mmap(x, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  -1, 0));
	memcpy(x, anon_bytes, SIZE);
	ASSERT_EQ(y, mmap(y, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, self->fd[2], 0));

	/* And a mapping of vdev 1 moved away, its old address made anonymous. */
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, self->fd[1], 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_TRUE(intact(p, self->b, SIZE));
	moved = mremap(p, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, p + 16 * SIZE);
	ASSERT_EQ(p + 16 * SIZE, moved);
	ASSERT_EQ(p, mmap(p, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  -1, 0));
	memcpy(p, anon_bytes, SIZE);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(intact(x, anon_bytes, SIZE));
	EXPECT_TRUE(intact(y, c_bytes, SIZE));
	EXPECT_TRUE(intact(p, anon_bytes, SIZE));
	EXPECT_TRUE(intact(moved, self->b, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_TRUE(intact(x, anon_bytes, SIZE));
	EXPECT_TRUE(intact(y, c_bytes, SIZE));
	EXPECT_TRUE(intact(p, anon_bytes, SIZE));
	EXPECT_EQ(SIGBUS, probe_read(moved + PAGE, &c));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	EXPECT_TRUE(intact(x, anon_bytes, SIZE));
	EXPECT_TRUE(intact(y, c_bytes, SIZE));
	EXPECT_TRUE(intact(moved, self->b, SIZE));
	munmap(x, SIZE);
	munmap(y, SIZE);
	munmap(p, SIZE);
	munmap(moved, SIZE);
}

/* In a child: 0 when touching @p is SIGSEGV, as for an address with no mapping. */
static int child_sees_no_mapping(const char *p)
{
	pid_t pid = fork();
	char c;

	if (pid == 0)
		_exit(probe_read(p, &c) == SIGSEGV && probe_read(p + SIZE - 1, &c) == SIGSEGV ?
		      0 : 1);
	return pid < 0 ? -1 : wait_ok(pid);
}

/*
 * MADV_DONTFORK: the child has no mapping there (SIGSEGV), not someone
 * else's bytes; MADV_DOFORK cannot undo it on a VM_MIXEDMAP mapping
 * (EINVAL, as for every VM_SPECIAL one). MADV_WIPEONFORK is for private
 * anonymous memory only: EINVAL on a shared mapping, which a child then
 * inherits unwiped, still vdev 1's and still following its switches.
 */
TEST_F(sec, dontfork_and_wipeonfork)
{
	int go[2], done[2];
	char *p, *q;
	pid_t pid;

	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, SIZE, MADV_DONTFORK));
	EXPECT_EQ(0, child_sees_no_mapping(p));
	EXPECT_TRUE(intact(p, self->b, SIZE));
	EXPECT_EQ(-1, madvise(p, SIZE, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(0, child_sees_no_mapping(p));
	EXPECT_TRUE(intact(p, self->b, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));

	q = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(-1, madvise(q, SIZE, MADV_WIPEONFORK));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ok = intact(q, self->b, SIZE);

		if (write(done[1], "r", 1) != 1 || read_byte(go[0]) != 's')
			_exit(2);
		/* Vdev 1 is the foreground now, and vdev 0's bytes moved out. */
		ok &= intact(q, self->b, SIZE);
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ('r', read_byte(done[0]));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(1, write(go[1], "s", 1));
	EXPECT_EQ(0, wait_ok(pid));
	munmap(p, SIZE);
	munmap(q, SIZE);
}

static volatile sig_atomic_t got_signal;

static void record_signal(int sig)
{
	got_signal = sig;
}

/*
 * The kernel writing to a mapping through copy_to_user: a read-only
 * mapping and a removed vdev's mapping are EFAULT, with no signal and no
 * byte changed.
 */
TEST_F(sec, kernel_copies_into_mappings_fault_cleanly)
{
	char *ro, *rw, c;
	char got[SIZE];

	memset(got, 0, sizeof(got));
	ro = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, self->fd[1], 0);
	rw = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[2], 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, rw);
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_GET_STATUS, (unsigned long)ro));
	EXPECT_EQ(-1, pread(self->fd[0], ro, 100, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_TRUE(intact(ro, self->b, SIZE));

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	/* The kernel's own fault on a removed vdev is EFAULT, not a signal. */
	signal(SIGBUS, record_signal);
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_GET_STATUS, (unsigned long)rw));
	EXPECT_EQ(-1, pread(self->fd[0], rw, 100, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, got_signal);
	EXPECT_EQ(SIGBUS, probe_read(rw, &c));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	ASSERT_EQ(SIZE, pread(self->fd[2], got, SIZE, 0));
	EXPECT_TRUE(all_zero(got, SIZE));
	munmap(ro, SIZE);
	munmap(rw, SIZE);
}

/*
 * A page pin (vmsplice into a pipe, as O_DIRECT or io_uring would do)
 * would outlive a SWITCH and hand out the bytes of the vdev switched into
 * the same page. vdmux's pages cannot be pinned: vmsplice of a mapping,
 * read-only or writable, in the foreground or the background, fails (EFAULT
 * or EEXIST, the kernel's choice: see foll_force_never_reaches_a_mapping),
 * the pipe stays empty, and after a SWITCH the mapping shows its own bytes.
 */
TEST_F(sec, page_pin_never_exposes_another_vdev)
{
	char got[PAGE];
	struct iovec iov;
	int pipefd[2], i;
	char *p[2];

	memset(got, 0, sizeof(got));

	ASSERT_EQ(0, pipe2(pipefd, O_NONBLOCK));
	p[0] = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, self->fd[0], 0);
	p[1] = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[1], 0);
	ASSERT_NE(MAP_FAILED, p[0]);
	ASSERT_NE(MAP_FAILED, p[1]);
	ASSERT_TRUE(intact(p[0], self->a, SIZE));
	ASSERT_TRUE(intact(p[1], self->b, SIZE));
	for (i = 0; i < 2; i++) {
		iov = (struct iovec){ p[i], PAGE };
		EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0)) TH_LOG("vdev %d", i);
		EXPECT_TRUE(pin_refused()) TH_LOG("vdev %d: errno %d", i, errno);
	}
	/* The device memory now holds vdev 1. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(-1, read(pipefd[0], got, PAGE));
	EXPECT_EQ(EAGAIN, errno);
	for (i = 0; i < 2; i++) {
		iov = (struct iovec){ p[i], PAGE };
		EXPECT_EQ(-1, vmsplice(pipefd[1], &iov, 1, 0)) TH_LOG("vdev %d", i);
		EXPECT_TRUE(pin_refused()) TH_LOG("vdev %d: errno %d", i, errno);
	}
	EXPECT_TRUE(intact(p[0], self->a, SIZE));
	EXPECT_TRUE(intact(p[1], self->b, SIZE));
	EXPECT_EQ(-1, read(pipefd[0], got, PAGE));
	EXPECT_EQ(EAGAIN, errno);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(p[0], SIZE);
	munmap(p[1], SIZE);
}

/* On a busy 2-core host under TCG, dontfork_and_wipeonfork took 0.6 s. */
VDMUX_HARNESS_MAIN(30)
