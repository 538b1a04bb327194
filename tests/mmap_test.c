// SPDX-License-Identifier: GPL-2.0
/*
 * mmap, faults, read/write/lseek on the virtual devices, and what a SWITCH,
 * an EJECT and an INSERT do to the mappings.
 */
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED

FIXTURE(vd)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(vd)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

FIXTURE_TEARDOWN(vd)
{
	close_nodes(self->ctl, self->fd);
	reset_device();
}

TEST_F(vd, map_size_classes)
{
	char *p;

	p = map_shared(self->fd[0], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, PAGE));

	p = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, SIZE));

	/* A length that is not a page multiple is rounded up first. */
	p = map_shared(self->fd[0], SIZE - 100, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, SIZE - 100));

	p = map_shared(self->fd[0], PAGE, PROT_READ, SIZE - PAGE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, PAGE));

	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], SIZE + PAGE, PROT_READ, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], SIZE + 1, PROT_READ, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], PAGE, PROT_READ, SIZE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], 2 * PAGE, PROT_READ, SIZE - PAGE));
	EXPECT_EQ(ENOMEM, errno);
}

TEST_F(vd, map_private_is_einval)
{
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, self->fd[0], 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd[1], 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vd, exec_is_refused)
{
	char *p;

	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], PAGE, PROT_READ | PROT_EXEC, 0));
	EXPECT_EQ(EACCES, errno);
	p = map_shared(self->fd[0], PAGE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, PAGE, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, munmap(p, PAGE));
}

TEST_F(vd, read_only_fd_never_writable)
{
	int ro = open_vdev(0, O_RDONLY);
	char *p, c;

	ASSERT_LE(0, ro);
	EXPECT_EQ(MAP_FAILED, map_shared(ro, PAGE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(EACCES, errno);
	p = map_shared(ro, PAGE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, probe_read(p, &c));
	EXPECT_EQ(-1, mprotect(p, PAGE, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(SIGSEGV, probe_write(p, 1));
	EXPECT_EQ(0, munmap(p, PAGE));
	close(ro);
}

TEST_F(vd, mremap_cannot_grow)
{
	char *p, *q, *target;

	p = map_shared(self->fd[0], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	/* Moving without growing is fine, and the moved mapping faults. */
	p[1] = 'm';
	target = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	q = mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ(target, q);
	EXPECT_EQ('m', q[1]);
	EXPECT_EQ(0, munmap(q, PAGE));
}

TEST_F(vd, mapping_and_read_write_share_bytes)
{
	char buf[SIZE], got[SIZE];
	char *p;

	memset(buf, 0, sizeof(buf));
	memset(got, 0, sizeof(got));

	p = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, SIZE, 21);
	ASSERT_EQ(SIZE, pread(self->fd[1], got, SIZE, 0));
	EXPECT_EQ(0, memcmp(p, got, SIZE));
	EXPECT_TRUE(has_pattern(got, SIZE, 21));

	fill_pattern(buf, SIZE, 22);
	ASSERT_EQ(SIZE, pwrite(self->fd[1], buf, SIZE, 0));
	EXPECT_TRUE(has_pattern(p, SIZE, 22));
	EXPECT_EQ(0, munmap(p, SIZE));

	/* vdev 0 (foreground) was never touched. */
	ASSERT_EQ(SIZE, pread(self->fd[0], got, SIZE, 0));
	EXPECT_TRUE(all_zero(got, SIZE));
}

TEST_F(vd, several_maps_per_fd_outlive_close)
{
	char *a, *b;
	int fd = open_vdev(2, O_RDWR);

	ASSERT_LE(0, fd);
	a = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	b = map_shared(fd, PAGE, PROT_READ | PROT_WRITE, 2 * PAGE);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	close(fd);
	a[2 * PAGE + 5] = 'x';
	EXPECT_EQ('x', b[5]);
	b[6] = 'y';
	EXPECT_EQ('y', a[2 * PAGE + 6]);
	EXPECT_EQ(0, munmap(a, SIZE));
	EXPECT_EQ(0, munmap(b, PAGE));
}

TEST_F(vd, read_write_lseek)
{
	char buf[100], got[100];

	EXPECT_EQ((off_t)SIZE, lseek(self->fd[3], 0, SEEK_END));
	EXPECT_EQ(0, read(self->fd[3], got, sizeof(got)));
	EXPECT_EQ(-1, write(self->fd[3], buf, 1));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ((off_t)SIZE - 10, lseek(self->fd[3], -10, SEEK_END));
	memset(buf, 'q', sizeof(buf));
	EXPECT_EQ(10, write(self->fd[3], buf, sizeof(buf)));
	EXPECT_EQ((off_t)SIZE, lseek(self->fd[3], 0, SEEK_CUR));
	EXPECT_EQ((off_t)SIZE - 10, lseek(self->fd[3], SIZE - 10, SEEK_SET));
	EXPECT_EQ(10, read(self->fd[3], got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, buf, 10));
	/* Seeking past the end is allowed, reading there is EOF. */
	EXPECT_EQ((off_t)SIZE + PAGE, lseek(self->fd[3], SIZE + PAGE, SEEK_SET));
	EXPECT_EQ(0, read(self->fd[3], got, sizeof(got)));
	EXPECT_EQ(-1, lseek(self->fd[3], -1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pread(self->fd[3], got, 1, -1));
	EXPECT_EQ(EINVAL, errno);
	/*
	 * A negative position on write: EINVAL, and no byte written. The VFS
	 * refuses it before vdmux sees it (a file position cannot be made
	 * negative otherwise); range.rs's KUnit tests cover vdmux's own check.
	 */
	memset(buf, 'n', sizeof(buf));
	EXPECT_EQ(-1, pwrite(self->fd[3], buf, 1, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pwrite(self->fd[3], buf, sizeof(buf), -(off_t)PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(10, pread(self->fd[3], got, sizeof(got), SIZE - 10));
	EXPECT_EQ(NULL, memchr(got, 'n', 10));
	/*
	 * A bad user buffer is EFAULT, and nothing is written. write(2) and
	 * read(2) rather than pwrite64/pread64, whose offset is two arguments
	 * for a 32-bit caller.
	 */
	ASSERT_EQ(0, lseek(self->fd[3], 0, SEEK_SET));
	EXPECT_EQ(-1, syscall(SYS_write, self->fd[3], 8UL, 10UL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, syscall(SYS_read, self->fd[3], 8UL, 10UL));
	EXPECT_EQ(EFAULT, errno);
}

/* read() into a buffer that is itself a vdmux mapping must not deadlock. */
TEST_F(vd, read_into_own_mapping)
{
	char *p;

	p = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, PAGE, 5);
	ASSERT_EQ(PAGE, pread(self->fd[1], p + PAGE, PAGE, 0));
	EXPECT_TRUE(has_pattern(p + PAGE, PAGE, 5));
	ASSERT_EQ(PAGE, pwrite(self->fd[1], p, PAGE, 2 * PAGE));
	EXPECT_TRUE(has_pattern(p + 2 * PAGE, PAGE, 5));
	EXPECT_EQ(0, munmap(p, SIZE));
}

/*
 * The same with a destination the reader has never touched: the copy stops
 * at the first unmapped page, the driver faults it in with its lock
 * released (the fault takes that lock), and goes on.
 */
TEST_F(vd, read_into_untouched_own_mapping)
{
	struct fault_counts before, after;
	char want[SIZE / 2];
	char *p;

	memset(want, 0, sizeof(want));

	fill_pattern(want, sizeof(want), 6);
	ASSERT_EQ(sizeof(want), pwrite(self->fd[1], want, sizeof(want), 0));
	p = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	before = fault_counts(self->fd[1]);
	ASSERT_EQ(sizeof(want), pread(self->fd[1], p + SIZE / 2, sizeof(want), 0));
	after = fault_counts(self->fd[1]);
	EXPECT_LT(before.pages, after.pages);
	EXPECT_TRUE(has_pattern(p + SIZE / 2, sizeof(want), 6));
	EXPECT_TRUE(has_pattern(p, sizeof(want), 6));
	EXPECT_EQ(0, munmap(p, SIZE));
	/* And write() from one. */
	p = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(sizeof(want), pwrite(self->fd[2], p, sizeof(want), 0));
	ASSERT_EQ(sizeof(want), pread(self->fd[2], want, sizeof(want), 0));
	EXPECT_TRUE(has_pattern(want, sizeof(want), 6));
	EXPECT_EQ(0, munmap(p, SIZE));
}

/*
 * A shared mapping of the first @len bytes (at most a PMD block) of @fd at
 * an address aligned to the PMD size: all its pages share one page middle
 * directory entry.
 */
static char *map_in_one_pmd(int fd, size_t len)
{
	const size_t pmd = PMD_BLOCK;
	char *r = mmap(NULL, 2 * pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *at;

	if (r == MAP_FAILED)
		return r;
	at = (char *)(((uintptr_t)r + pmd - 1) & ~(pmd - 1));
	return mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
}

/*
 * vm_ops has ->map_pages, so the kernel calls ->fault under the per-VMA
 * lock instead of retrying it under mmap_lock, and a read fault whose page
 * table exists is served by ->map_pages in atomic context: of 16 blocks of
 * fault_around_pages (16) pages, the first read fault (no page table yet)
 * goes to ->fault, the 15 others to ->map_pages; write faults always go to
 * ->fault. All of them under the VMA lock in this single-threaded process.
 */
TEST_F(vd, faults_run_under_the_vma_lock)
{
	const size_t len = 256 * PAGE;
	uint64_t size = len, def = SIZE;
	struct fault_counts before, after;
	struct fault_trace trace;
	volatile char *p;
	size_t i;
	char c;

	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size));
	p = map_in_one_pmd(self->fd[0], len);
	ASSERT_NE(MAP_FAILED, p);
	before = fault_counts(self->fd[0]);
	ASSERT_EQ(0, fault_trace_open(&trace, self->fd[0]));
	for (i = 0; i < len; i += PAGE)
		c = p[i];
	(void)c;
	EXPECT_EQ(16, fault_trace_close(&trace));
	after = fault_counts(self->fd[0]);
	EXPECT_EQ(16, after.pages - before.pages);
	EXPECT_EQ(15, after.map_pages - before.map_pages);
	EXPECT_EQ(16, after.vma_lock - before.vma_lock);
	EXPECT_EQ(0, munmap((void *)p, len));

	p = map_in_one_pmd(self->fd[0], len);
	ASSERT_NE(MAP_FAILED, p);
	before = fault_counts(self->fd[0]);
	ASSERT_EQ(0, fault_trace_open(&trace, self->fd[0]));
	for (i = 0; i < len; i += PAGE)
		p[i] = 1;
	EXPECT_EQ(16, fault_trace_close(&trace));
	after = fault_counts(self->fd[0]);
	EXPECT_EQ(16, after.pages - before.pages);
	EXPECT_EQ(0, after.map_pages - before.map_pages);
	EXPECT_EQ(16, after.vma_lock - before.vma_lock);
	EXPECT_EQ(0, munmap((void *)p, len));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &def));
}

TEST_F(vd, switch_keeps_each_vdevs_bytes)
{
	char *p0, *p1;
	char got[SIZE];

	memset(got, 0, sizeof(got));
	p0 = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	fill_pattern(p0, SIZE, 100);
	fill_pattern(p1, SIZE, 101);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(has_pattern(p0, SIZE, 100));
	EXPECT_TRUE(has_pattern(p1, SIZE, 101));
	/* Writes after the switch land on the right vdev too. */
	fill_pattern(p0, PAGE, 102);
	fill_pattern_at(p1 + PAGE, PAGE, 103, PAGE);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_pattern(p0, PAGE, 102));
	EXPECT_TRUE(has_pattern_at(p1 + PAGE, PAGE, 103, PAGE));
	ASSERT_EQ(SIZE, pread(self->fd[1], got, SIZE, 0));
	EXPECT_TRUE(has_pattern(got, PAGE, 101));
	EXPECT_TRUE(has_pattern_at(got + PAGE, PAGE, 103, PAGE));
	ASSERT_EQ(SIZE, pread(self->fd[0], got, SIZE, 0));
	EXPECT_TRUE(has_pattern(got, PAGE, 102));
	EXPECT_EQ(0, memcmp(got + PAGE, p0 + PAGE, SIZE - PAGE));

	/* A third vdev, never written, reads zeroes through every path. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 3));
	ASSERT_EQ(SIZE, pread(self->fd[3], got, SIZE, 0));
	EXPECT_TRUE(all_zero(got, SIZE));
	EXPECT_TRUE(has_pattern(p0, PAGE, 102));
	EXPECT_EQ(0, munmap(p0, SIZE));
	EXPECT_EQ(0, munmap(p1, SIZE));
}

TEST_F(vd, eject_sigbus_then_insert_restores)
{
	char *p, c;
	char got[SIZE];

	memset(got, 0, sizeof(got));
	p = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, SIZE, 7); /* every page faulted in */

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE - 1, &c));
	EXPECT_EQ(SIGBUS, probe_write(p + PAGE, 1));
	EXPECT_EQ(-1, pread(self->fd[1], got, 1, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, pwrite(self->fd[1], got, 1, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[1], PAGE, PROT_READ, 0));
	EXPECT_EQ(ENODEV, errno);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_TRUE(has_pattern(p, SIZE, 7));
	ASSERT_EQ(SIZE, pread(self->fd[1], got, SIZE, 0));
	EXPECT_TRUE(has_pattern(got, SIZE, 7));
	EXPECT_EQ(0, munmap(p, SIZE));
}

TEST_F(vd, eject_foreground_saves_it)
{
	char *p, c;

	p = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, SIZE, 8);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	EXPECT_EQ(SIGBUS, probe_read(p + 3 * PAGE, &c));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 0));
	EXPECT_TRUE(has_pattern(p, SIZE, 8)); /* from its backing store */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_pattern(p, SIZE, 8)); /* from the device memory */
	EXPECT_EQ(0, munmap(p, SIZE));
}

TEST_F(vd, fork_shares_mapping_and_sees_switch)
{
	int to_child[2], to_parent[2], status;
	char *p, c;
	pid_t pid;

	p = map_shared(self->fd[0], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	strcpy(p, "parent");
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ok;

		/* Wait for the switch, then write through the shared mapping. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		ok = !strcmp(p, "parent");
		strcpy(p, "child");
		if (write(to_parent[1], &c, 1) != 1)
			_exit(2);
		/* Wait for the eject: now every access is SIGBUS. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		ok &= probe_read(p, &c) == SIGBUS;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(1, write(to_child[1], "s", 1));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	EXPECT_STREQ("child", p);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	ASSERT_EQ(1, write(to_child[1], "e", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, munmap(p, PAGE));
}

/* A second node made with mknod reaches the same vdev and is invalidated. */
TEST_F(vd, mknod_alias_is_invalidated_too)
{
	const char *alias = "/tmp/vdmux1-alias";
	struct stat st;
	char *a, *b, c;
	int fd;

	ASSERT_EQ(0, stat(vdev_path(1), &st));
	unlink(alias);
	ASSERT_EQ(0, mknod(alias, S_IFCHR | 0600, st.st_rdev));
	fd = open(alias, O_RDWR);
	ASSERT_LE(0, fd);
	a = map_shared(fd, PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = map_shared(self->fd[1], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, b);
	strcpy(a, "through the alias");
	EXPECT_STREQ("through the alias", b);

	/* Switch: vdev 1's pages move to the device memory under both. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	strcpy(b, "after switch");
	EXPECT_STREQ("after switch", a);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_STREQ("after switch", a);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(SIGBUS, probe_read(a, &c));
	EXPECT_EQ(SIGBUS, probe_read(b, &c));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_STREQ("after switch", a);
	EXPECT_EQ(0, munmap(a, PAGE));
	EXPECT_EQ(0, munmap(b, PAGE));
	close(fd);
	unlink(alias);
}

TEST_F(vd, unload_refused_while_mapped)
{
	char *p;
	int fd = open_vdev(2, O_RDWR);
	int i;

	ASSERT_LE(0, fd);
	p = map_shared(fd, PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	close(self->ctl);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		close(self->fd[i]);
	/* Only the mapping is left, and it keeps the module. */
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	p[0] = 1;
	EXPECT_EQ(0, munmap(p, PAGE));
	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	/* The teardown closes these again. */
	self->ctl = open(CTL_PATH, O_RDWR);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		self->fd[i] = open_vdev(i, O_RDWR);
}

/* Growing is allowed while mapped, shrinking is not. */
TEST_F(vd, resize_while_mapped_grows_only)
{
	uint64_t size = 2 * SIZE, small = SIZE;
	char *p, *q;

	/* Mapped, the buffer may grow (autogrow_test), not shrink. */
	p = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[SIZE - 1] = 8;
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size));
	EXPECT_EQ(8, p[SIZE - 1]);
	q = map_shared(self->fd[0], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(8, q[SIZE - 1]);
	EXPECT_TRUE(all_zero(q + SIZE, SIZE));
	q[2 * SIZE - 1] = 9;
	EXPECT_EQ(-EBUSY, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &small) ? -errno : 0);
	EXPECT_EQ(0, munmap(q, 2 * SIZE));
	EXPECT_EQ(-EBUSY, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &small) ? -errno : 0);
	EXPECT_EQ(0, munmap(p, SIZE));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, &small));
}

/* One fault maps the aligned block of fault_around_pages (16) around it. */
TEST_F(vd, fault_around_maps_the_block)
{
	char *p;

	p = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FAULTS(self->fd[0], 1, 0, EXPECT_EQ(0, p[PAGE + 1]));
	/* The buffer is 8 pages, so the block is clipped to it. */
	EXPECT_FAULTS(self->fd[0], 0, 0, touch_pages(p, SIZE));
	EXPECT_EQ(0, munmap(p, SIZE));

	/* Clipped to the VMA: two pages in the middle of the buffer. */
	p = map_shared(self->fd[0], 2 * PAGE, PROT_READ | PROT_WRITE, 3 * PAGE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FAULTS(self->fd[0], 1, 0, p[PAGE] = 1);
	EXPECT_FAULTS(self->fd[0], 0, 0, p[0] = 1);
	EXPECT_EQ(0, munmap(p, 2 * PAGE));

	/* A SWITCH takes the whole block back: the next access faults again. */
	p = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FAULTS(self->fd[0], 1, 0, touch_pages(p, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_FAULTS(self->fd[0], 1, 0, touch_pages(p, SIZE));
	EXPECT_EQ(0, munmap(p, SIZE));
}

TEST_F(vd, fault_around_keeps_read_only)
{
	int ro = open_vdev(1, O_RDONLY);
	char *p, c;

	ASSERT_LE(0, ro);
	p = map_shared(ro, SIZE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FAULTS(ro, 1, 0, EXPECT_EQ(0, probe_read(p, &c)));
	EXPECT_FAULTS(ro, 0, 0, touch_pages(p, SIZE));
	EXPECT_EQ(SIGSEGV, probe_write(p + 2 * PAGE, 1));
	EXPECT_EQ(0, munmap(p, SIZE));
	close(ro);
}

TEST(fault_around_can_be_off)
{
	char *p;
	int fd;

	ASSERT_EQ(0, ensure_module());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("fault_around_pages=1"));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	p = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FAULTS(fd, 1, 0, EXPECT_EQ(0, p[3 * PAGE]));
	EXPECT_FAULTS(fd, 1, 0, p[5 * PAGE] = 1);
	EXPECT_FAULTS(fd, 0, 0, p[3 * PAGE + 7] = 1);
	EXPECT_FAULTS(fd, 6, 0, touch_pages(p, SIZE));
	EXPECT_EQ(0, munmap(p, SIZE));
	close(fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

/*
 * fault_around_pages at its largest, 512: one fault maps the aligned block
 * of 512 pages around it, clipped to the VMA and to the buffer. In a VMA
 * not aligned like its offsets (which can hold no PMD entry) the block
 * spans two page tables where it is a PMD block (4 KiB pages); in one
 * that is, and that does not cover a whole PMD block (so no huge fault maps
 * it), it stays under the faulting one. Counted by the driver and by the
 * kernel.
 */
TEST(fault_around_maps_512_pages)
{
	const size_t block = 512 * PAGE, len = 2 * block;
	uint64_t size = len;
	char *r, *aligned, *p;
	int ctl, fd;

	ASSERT_EQ(0, ensure_module());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("fault_around_pages=512"));
	ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	r = mmap(NULL, 3 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	aligned = (char *)(((uintptr_t)r + block - 1) & ~(block - 1));

	/* One page off the alignment: the block [0, 512) may span two page tables. */
	p = mmap(aligned + PAGE, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ(aligned + PAGE, p);
	EXPECT_FAULTS(fd, 1, 0, p[3 * PAGE] = 1);
	EXPECT_FAULTS(fd, 0, 0, touch_pages(p, block));
	EXPECT_FAULTS(fd, 1, 0, EXPECT_EQ(0, p[block + 7 * PAGE]));
	EXPECT_FAULTS(fd, 0, 0, touch_pages(p + block, block));
	EXPECT_EQ(0, munmap(p, len));

	/* Aligned, half a block: its 256 pages, under one page table, in one fault. */
	p = mmap(aligned, block / 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ(aligned, p);
	EXPECT_FAULTS(fd, 1, 0, p[block / 2 - 1] = 2);
	EXPECT_FAULTS(fd, 0, 0, touch_pages(p, block / 2));
	EXPECT_EQ(0, munmap(p, block / 2));

	/* Clipped to the VMA: the last 16 pages of the buffer. */
	p = mmap(aligned, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 len - 16 * PAGE);
	ASSERT_EQ(aligned, p);
	EXPECT_FAULTS(fd, 1, 0, p[15 * PAGE] = 3);
	EXPECT_FAULTS(fd, 0, 0, touch_pages(p, 16 * PAGE));
	EXPECT_EQ(0, munmap(p, 16 * PAGE));

	munmap(r, 3 * len);
	close(fd);
	close(ctl);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

/* On a busy 2-core host under TCG, fault_around_can_be_off took 2.4 s. */
VDMUX_HARNESS_MAIN(30)
