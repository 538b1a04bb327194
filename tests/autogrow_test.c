// SPDX-License-Identifier: GPL-2.0
/*
 * Autogrow mappings (IRIX MAP_AUTOGROW): VDMUX_IOC_SET_AUTOGROW on a vdev's
 * open file makes its later writable MAP_SHARED mappings able to reach past
 * the reserved size, up to max_reserved_size; a store to a page past the
 * reserved size grows it to the end of that page (device memory and every
 * backing store, every vdev's bytes kept, the new ones zero), a load there
 * is SIGBUS. Also SET_RESERVED_SIZE growing while mapped, and what the other
 * operations (SWITCH, EJECT, INSERT, fork, mremap, PMD mappings,
 * read/write/lseek, the events) make of a growth.
 */
#include <poll.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED
#define NR DEFAULT_NR_VDEVS
#define BLOCK PMD_BLOCK
#define SYSFS_SIZE "/sys/class/misc/vdmux/reserved_size"

/* The reserved size, from the control node; 0 when it cannot be read. */
static uint64_t reserved_now(void)
{
	struct vdmux_status st;

	return status_of(-1, &st) ? 0 : st.reserved_size;
}

static uint64_t ctl_generation(void)
{
	struct vdmux_status st;

	return status_of(-1, &st) ? ~0ULL : st.generation;
}


/*
 * 1 when every way of asking says the reserved size is @want: GET_STATUS and
 * GET_RESERVED_SIZE through every node, sysfs, and lseek(SEEK_END) on every
 * vdev; otherwise 0, and the one that disagrees is printed.
 */
static int size_everywhere(uint64_t want)
{
	char text[32], sysfs[32];
	struct vdmux_status st;
	uint64_t size;
	int i, fd, ok = 1;

	for (i = -1; i < NR; i++) {
		fd = i < 0 ? open(CTL_PATH, O_RDONLY | O_CLOEXEC) : open_vdev(i, O_RDONLY);
		if (fd < 0)
			return 0;
		size = 0;
		if (get_status(fd, &st) || st.reserved_size != want ||
		    ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size) || size != want) {
			ksft_print_msg("node %d: GET_STATUS %llu, GET_RESERVED_SIZE %llu, want %llu\n",
				       i, (unsigned long long)st.reserved_size,
				       (unsigned long long)size, (unsigned long long)want);
			ok = 0;
		}
		if (i >= 0 && lseek(fd, 0, SEEK_END) != (off_t)want) {
			ksft_print_msg("vdev %d: SEEK_END at %lld, want %llu\n", i,
				       (long long)lseek(fd, 0, SEEK_END), (unsigned long long)want);
			ok = 0;
		}
		close(fd);
	}
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)want);
	if (read_text(SYSFS_SIZE, sysfs, sizeof(sysfs)) || strcmp(sysfs, text)) {
		ksft_print_msg("sysfs reserved_size: %s", sysfs);
		ok = 0;
	}
	return ok;
}

/* The "vdmux-huge-blocks" value of @fd's fdinfo; -1 if absent. */
static long huge_blocks(int fd)
{
	char buf[1024];

	return read_fdinfo(fd, buf, sizeof(buf)) ? -1 : fdinfo_field(buf, "vdmux-huge-blocks:\t");
}

/*
 * A MAP_SHARED mapping of @len bytes of @fd from offset 0 at a BLOCK
 * aligned address, which a 32-bit process does not get from a plain mmap.
 */
static char *map_block_aligned(int fd, size_t len, int prot)
{
	char *r = mmap(NULL, len + BLOCK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *a;

	if (r == MAP_FAILED)
		return r;
	a = (char *)(((uintptr_t)r + BLOCK - 1) & ~(BLOCK - 1));
	if (a > r)
		munmap(r, a - r);
	munmap(a + len, r + len + BLOCK - (a + len));
	return mmap(a, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
}

/*
 * 1 when vdev @i holds its pattern @seed in [0, @keep), and in [@keep,
 * @len) zeroes but for the byte @mark at each offset of @marks (-1 ends
 * them): read with pread(2).
 */
static int vdev_holds(int i, unsigned int seed, size_t keep, size_t len, const long *marks,
		      char mark)
{
	char *buf = malloc(len);
	int fd = open_vdev(i, O_RDONLY), ok = 0;
	size_t k;

	if (!buf || fd < 0 || pread(fd, buf, len, 0) != (ssize_t)len)
		goto out;
	if (!has_tagged(buf, keep, i, seed, 0))
		goto out;
	for (; marks && *marks >= 0; marks++) {
		if (buf[*marks] != mark)
			goto out;
		buf[*marks] = 0;
	}
	for (k = keep; k < len; k++)
		if (buf[k])
			goto out;
	ok = 1;
out:
	if (!ok)
		ksft_print_msg("vdev %d does not hold what it should in [0, %zu)\n", i, len);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The reserved size through the open file @fd; 0 when it cannot be read. */
static uint64_t size_via(int fd)
{
	uint64_t size = 0;

	return ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size) ? 0 : size;
}

FIXTURE(ag)
{
	int ctl;
	int fd[NR];
	int reload;	/* the test loads the module with other parameters */
};

FIXTURE_SETUP(ag)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

/*
 * In the parent, once the test's files and mappings are gone: a test that
 * failed with the module loaded with other parameters leaves it loaded with
 * the defaults.
 */
FIXTURE_TEARDOWN_PARENT(ag)
{
	if (self->reload) {
		unload_module();
		load_module("");
	}
	reset_device();
}

TEST(range_layout_is_fixed)
{
	EXPECT_EQ(16, sizeof(struct vdmux_range));
	EXPECT_EQ(8, __builtin_offsetof(struct vdmux_range, len));
	EXPECT_EQ(_IO(VDMUX_IOC_MAGIC, 0x07), VDMUX_IOC_SET_AUTOGROW);
	EXPECT_EQ(_IOW(VDMUX_IOC_MAGIC, 0x08, struct vdmux_range), VDMUX_IOC_POPULATE);
}

/* ENOTTY on the control node, EBADF without write access, EINVAL for a value not 0 or 1. */
/* The "vdmux-autogrow" field of @fd's fdinfo: 0 or 1; -1 if absent. */
static long autogrow_of(int fd)
{
	char buf[1024];

	return read_fdinfo(fd, buf, sizeof(buf)) ? -1 : fdinfo_field(buf, "vdmux-autogrow:\t");
}

/*
 * Refusals, and what a call that succeeds sets: fdinfo's vdmux-autogrow
 * of that open file, and of no other.
 */
TEST_F(ag, set_autogrow_refusals)
{
	unsigned long bad[] = { 2, 0xffffffffUL, -1UL,
#if __SIZEOF_LONG__ > 4
				0x100000001UL,
#endif
	};
	int ro = open_vdev(1, O_RDONLY), wo = open_vdev(1, O_WRONLY);
	struct status_snapshot before, after;
	unsigned int i;

	ASSERT_LE(0, ro);
	ASSERT_LE(0, wo);
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(-ENOTTY, set_autogrow(self->ctl, 1));
	EXPECT_EQ(-ENOTTY, set_autogrow(self->ctl, 0));
	EXPECT_EQ(-EBADF, set_autogrow(ro, 1));
	EXPECT_EQ(-EBADF, set_autogrow(ro, 0));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, set_autogrow(self->fd[1], bad[i])) TH_LOG("value %#lx", bad[i]);
		EXPECT_EQ(-EINVAL, set_autogrow(wo, bad[i])) TH_LOG("value %#lx", bad[i]);
	}
	EXPECT_EQ(0, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, set_autogrow(self->fd[1], 1));
	EXPECT_EQ(1, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, set_autogrow(self->fd[1], 1));
	EXPECT_EQ(1, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, autogrow_of(wo));
	EXPECT_EQ(-EINVAL, set_autogrow(self->fd[1], 2));
	EXPECT_EQ(1, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, set_autogrow(self->fd[1], 0));
	EXPECT_EQ(0, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, set_autogrow(self->fd[1], 0));
	EXPECT_EQ(0, autogrow_of(self->fd[1]));
	/* Open for writing only: it cannot map, but the call is valid. */
	EXPECT_EQ(0, set_autogrow(wo, 1));
	EXPECT_EQ(1, autogrow_of(wo));
	EXPECT_EQ(0, autogrow_of(self->fd[1]));
	EXPECT_EQ(0, autogrow_of(ro));
	/* A removed vdev's file takes it as well: it is a property of the file. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(0, set_autogrow(self->fd[1], 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	/* Setting it changes no state, no size, no generation. */
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(before.ctl.reserved_size, after.ctl.reserved_size);
	EXPECT_EQ(before.vdev[0].generation, after.vdev[0].generation);
	EXPECT_EQ(before.vdev[2].generation, after.vdev[2].generation);
	EXPECT_EQ(before.ctl.generation + 2, after.ctl.generation);	/* the eject and insert */
	close(ro);
	close(wo);
}

/* Like write(2), it needs a file open for writing, not CAP_SYS_ADMIN; so does a growth. */
TEST_F(ag, set_autogrow_needs_no_privilege)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		volatile char *p;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		if (vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1) != -EPERM)
			_exit(3);
		if (set_autogrow(self->fd[2], 1))
			_exit(4);
		p = map_shared(self->fd[2], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
		if (p == MAP_FAILED)
			_exit(5);
		if (probe_write(p + SIZE, 'u'))
			_exit(6);
		_exit(size_via(self->fd[2]) == SIZE + PAGE ? 0 : 7);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(SIZE + PAGE, reserved_now());
}

/*
 * A store past the reserved size grows it to the end of the stored page, by
 * one change of the control node's generation; the vdevs' generations do
 * not move. A store inside the size grows nothing.
 */
TEST_F(ag, store_grows_to_the_end_of_its_page)
{
	struct status_snapshot before, after;
	volatile char *p;
	int i;

	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_shared(self->fd[1], 4 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(SIZE, reserved_now());

	ASSERT_EQ(0, snap_status(&before));
	ASSERT_EQ(0, probe_write(p + SIZE + 100, 'x'));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(SIZE + PAGE, after.ctl.reserved_size);
	EXPECT_EQ(before.ctl.generation + 1, after.ctl.generation);
	for (i = 0; i < NR; i++) {
		EXPECT_EQ(before.vdev[i].generation, after.vdev[i].generation);
		EXPECT_EQ(before.vdev[i].state, after.vdev[i].state);
		EXPECT_EQ(SIZE + PAGE, after.vdev[i].reserved_size);
	}
	EXPECT_EQ('x', p[SIZE + 100]);
	EXPECT_TRUE(all_zero(p + SIZE, 100));
	EXPECT_TRUE(all_zero(p + SIZE + 101, PAGE - 101));

	/* Inside the size: nothing grows. */
	before = after;
	p[SIZE + PAGE - 1] = 'y';
	p[5] = 'z';
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));

	/* Three pages further: the size reaches that page's end, the pages between are zero. */
	ASSERT_EQ(0, probe_write(p + SIZE + 3 * PAGE + 8, 'w'));
	EXPECT_EQ(SIZE + 4 * PAGE, reserved_now());
	EXPECT_EQ(before.ctl.generation + 1, ctl_generation());
	EXPECT_TRUE(all_zero(p + SIZE + PAGE, 2 * PAGE));
	EXPECT_EQ('w', p[SIZE + 3 * PAGE + 8]);

	/* The last byte of the mapping grows it to the mapping's end. */
	ASSERT_EQ(0, probe_write(p + 4 * SIZE - 1, 'e'));
	EXPECT_EQ(4 * SIZE, reserved_now());
	EXPECT_TRUE(size_everywhere(4 * SIZE));
	EXPECT_EQ('e', p[4 * SIZE - 1]);
	EXPECT_EQ('x', p[SIZE + 100]);
	EXPECT_EQ('y', p[SIZE + PAGE - 1]);
	EXPECT_EQ('z', p[5]);
	EXPECT_EQ(0, munmap((void *)p, 4 * SIZE));
}

/* A load past the reserved size is SIGBUS, and changes nothing. */
TEST_F(ag, load_past_the_end_is_sigbus)
{
	struct status_snapshot before, after;
	volatile char *p;
	char c;

	ASSERT_EQ(0, set_autogrow(self->fd[0], 1));
	p = map_shared(self->fd[0], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE, &c));
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE + PAGE + 17, &c));
	EXPECT_EQ(SIGBUS, probe_read(p + 2 * SIZE - 1, &c));
	/* Inside the size loads work, also on the same mapping after a SIGBUS. */
	EXPECT_EQ(0, probe_read(p + SIZE - 1, &c));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));

	/* After a growth, the new page loads, the next still does not. */
	ASSERT_EQ(0, probe_write(p + SIZE + 1, 1));
	EXPECT_EQ(0, probe_read(p + SIZE, &c));
	EXPECT_EQ(0, c);
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE + PAGE, &c));
	EXPECT_EQ(SIZE + PAGE, reserved_now());
	EXPECT_EQ(0, munmap((void *)p, 2 * SIZE));
}

/*
 * An autogrow mapping may reach up to max_reserved_size (the module
 * parameter), not one page further: ENOMEM there, as past the size for any
 * other mapping.
 */
TEST_F(ag, autogrow_mapping_limit_is_max_reserved_size)
{
	const size_t max = 256 * 1024;
	char *p;
	int fd;

	ASSERT_EQ(0, set_autogrow(self->fd[0], 1));
	p = map_shared(self->fd[0], DEFAULT_MAX_RESERVED, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, DEFAULT_MAX_RESERVED));
	p = map_shared(self->fd[0], PAGE, PROT_READ | PROT_WRITE, DEFAULT_MAX_RESERVED - PAGE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, PAGE));
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], DEFAULT_MAX_RESERVED + PAGE,
					 PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], PAGE, PROT_READ | PROT_WRITE,
					 DEFAULT_MAX_RESERVED));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(self->fd[0], 2 * PAGE, PROT_READ | PROT_WRITE,
					 DEFAULT_MAX_RESERVED - PAGE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(SIZE, reserved_now());

	/* The limit is the parameter's. */
	self->reload = 1;
	close_nodes(self->ctl, self->fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("max_reserved_size=262144"));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
	fd = self->fd[3];
	ASSERT_EQ(0, set_autogrow(fd, 1));
	EXPECT_EQ(MAP_FAILED, map_shared(fd, max + PAGE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);
	p = map_shared(fd, max, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, probe_write(p + max - 1, 'm'));
	EXPECT_EQ(max, reserved_now());
	EXPECT_EQ('m', p[max - 1]);
	EXPECT_EQ(0, munmap(p, max));
	close_nodes(self->ctl, self->fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

/*
 * Only a writable MAP_SHARED mapping through a file with autogrow set may
 * reach past the size: a read-only one, one through another open file of
 * the same node, or through a file whose autogrow was cleared, is ENOMEM
 * there as before.
 */
TEST_F(ag, other_mappings_keep_the_old_rule)
{
	int fd = self->fd[1], other = open_vdev(1, O_RDWR), ro = open_vdev(1, O_RDONLY), dup_fd;
	char *p;

	ASSERT_LE(0, other);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, set_autogrow(fd, 1));
	EXPECT_EQ(MAP_FAILED, map_shared(fd, 2 * SIZE, PROT_READ, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(fd, PAGE, PROT_NONE, SIZE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Another open file of the same node has it not. */
	EXPECT_EQ(MAP_FAILED, map_shared(other, 2 * SIZE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(ro, 2 * SIZE, PROT_READ, 0));
	EXPECT_EQ(ENOMEM, errno);
	/* A duplicate descriptor is the same open file. */
	dup_fd = dup(fd);
	ASSERT_LE(0, dup_fd);
	p = map_shared(dup_fd, 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, 2 * SIZE));
	/* PROT_WRITE alone is writable. */
	p = map_shared(fd, PAGE, PROT_WRITE, SIZE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, PAGE));
	/* Cleared: the old rule again. */
	ASSERT_EQ(0, set_autogrow(fd, 0));
	EXPECT_EQ(MAP_FAILED, map_shared(dup_fd, 2 * SIZE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(fd, PAGE, PROT_READ | PROT_WRITE, SIZE));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(SIZE, reserved_now());
	close(dup_fd);
	close(other);
	close(ro);
}

/*
 * SET_AUTOGROW applies to the mappings made after it: one made with
 * autogrow still grows after it is cleared, one made before it was set is
 * what it was (inside the size, and mremap cannot make it larger).
 */
TEST_F(ag, existing_mappings_keep_what_they_had)
{
	int fd = self->fd[2], fd2 = open_vdev(2, O_RDWR);
	volatile char *a, *b;
	char *q;

	ASSERT_LE(0, fd2);
	b = map_shared(fd2, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_EQ(0, set_autogrow(fd, 1));
	a = map_shared(fd, 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_EQ(0, set_autogrow(fd, 0));
	/* a still grows. */
	ASSERT_EQ(0, probe_write(a + SIZE + 2, 'a'));
	EXPECT_EQ(SIZE + PAGE, reserved_now());
	/* But new mappings through fd no longer reach past the size. */
	EXPECT_EQ(MAP_FAILED, map_shared(fd, 3 * SIZE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);

	/* b, made before fd2 had autogrow, stays what it was. */
	ASSERT_EQ(0, set_autogrow(fd2, 1));
	b[1] = 'b';
	EXPECT_EQ('b', a[1]);
	q = mremap((void *)b, SIZE, 2 * SIZE, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	/* ... while fd2's new mappings may reach past the size. */
	q = map_shared(fd2, 3 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ('a', q[SIZE + 2]);
	EXPECT_EQ(0, munmap(q, 3 * SIZE));
	EXPECT_EQ(0, munmap((void *)a, 2 * SIZE));
	EXPECT_EQ(0, munmap((void *)b, SIZE));
	close(fd2);
}

/* 1 when a poll of @fd for POLLPRI reports it within @ms. */
static int pri_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLPRI);
}

/*
 * The new size shows in GET_STATUS and GET_RESERVED_SIZE of every node, in
 * sysfs (whose pollers are woken), in the control node's generation (poll
 * reports EPOLLPRI there, and its fdinfo shows it), in lseek(SEEK_END),
 * and read(2) and write(2) reach the new bytes.
 */
TEST_F(ag, growth_is_visible_everywhere)
{
	struct vdmux_status st;
	char buf[1024], got[64], big[2 * PAGE];
	volatile char *p;
	int attr, i;

	attr = open(SYSFS_SIZE, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, attr);
	ASSERT_LT(0, read(attr, buf, sizeof(buf)));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	for (i = 0; i < NR; i++)
		ASSERT_EQ(0, get_status(self->fd[i], &st));
	EXPECT_FALSE(pri_within(self->ctl, 0));
	EXPECT_FALSE(pri_within(attr, 0));

	ASSERT_EQ(0, set_autogrow(self->fd[3], 1));
	p = map_shared(self->fd[3], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	memcpy((void *)(p + SIZE + 10), "grown", 5);

	EXPECT_TRUE(size_everywhere(SIZE + PAGE));
	EXPECT_TRUE(pri_within(self->ctl, 0));
	EXPECT_TRUE(pri_within(attr, 5000));
	/* A growth is no state change of any vdev. */
	for (i = 0; i < NR; i++)
		EXPECT_FALSE(pri_within(self->fd[i], 0)) TH_LOG("vdev %d", i);
	ASSERT_EQ(0, get_status(self->ctl, &st));
	ASSERT_EQ(0, read_fdinfo(self->ctl, buf, sizeof(buf)));
	EXPECT_EQ((long)st.generation, fdinfo_field(buf, "vdmux-generation:\t"));
	EXPECT_LT(0, pread(attr, got, sizeof(got) - 1, 0));

	/* read(2), write(2) and the file position know the new end. */
	EXPECT_EQ((off_t)(SIZE + PAGE), lseek(self->fd[3], 0, SEEK_END));
	EXPECT_EQ(0, read(self->fd[3], big, sizeof(big)));
	EXPECT_EQ(PAGE, pread(self->fd[3], big, sizeof(big), SIZE));
	EXPECT_EQ(0, memcmp(big + 10, "grown", 5));
	EXPECT_EQ(0, pread(self->fd[3], big, sizeof(big), SIZE + PAGE));
	EXPECT_EQ(-1, pwrite(self->fd[3], "x", 1, SIZE + PAGE));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(2, pwrite(self->fd[3], "xyz", 3, SIZE + PAGE - 2));
	EXPECT_EQ('x', p[SIZE + PAGE - 2]);
	/* Other vdevs read the new page too (zero). */
	EXPECT_EQ(PAGE, pread(self->fd[0], big, sizeof(big), SIZE));
	EXPECT_TRUE(all_zero(big, PAGE));
	/* write(2) does not grow, even through the autogrow file. */
	EXPECT_EQ(SIZE + PAGE, reserved_now());
	EXPECT_EQ(0, munmap((void *)p, 2 * SIZE));
	close(attr);
}

/*
 * Every vdev keeps its bytes through a growth, whatever holds them: the
 * foreground's device memory, a background's backing store, a removed
 * vdev's saved bytes, a vdev that never had a store; the new bytes are zero
 * in each, and the other vdevs' mappings keep working meanwhile.
 */
TEST_F(ag, growth_keeps_every_vdevs_bytes)
{
	const long mark1[] = { SIZE + PAGE + 8, -1 };
	const long mark2[] = { SIZE + PAGE + 8, SIZE + 3 * PAGE, -1 };
	volatile char *p0, *p1, *g;
	char c;
	int i;

	/* A fresh load: vdev 3 has no backing store. */
	close_nodes(self->ctl, self->fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, fill_vdev(self->fd[i], i, 0x60, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	p0 = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(self->fd[1], SIZE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	EXPECT_TRUE(has_tagged(p0, SIZE, 0, 0x60, 0));
	EXPECT_TRUE(has_tagged(p1, SIZE, 1, 0x60, 0));

	/* Vdev 1, in the background, grows the device by two pages. */
	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	g = map_shared(self->fd[1], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, g);
	ASSERT_EQ(0, probe_write(g + SIZE + PAGE + 8, 'G'));
	ASSERT_EQ(SIZE + 2 * PAGE, reserved_now());

	/* The mappings made before see the same bytes, and writes through them land. */
	EXPECT_TRUE(has_tagged(p0, SIZE, 0, 0x60, 0));
	EXPECT_TRUE(has_tagged(p1, SIZE, 1, 0x60, 0));
	EXPECT_TRUE(has_tagged(g, SIZE, 1, 0x60, 0));
	EXPECT_TRUE(vdev_holds(0, 0x60, SIZE, SIZE + 2 * PAGE, NULL, 0));
	EXPECT_TRUE(vdev_holds(1, 0x60, SIZE, SIZE + 2 * PAGE, mark1, 'G'));
	EXPECT_TRUE(vdev_holds(3, 0, 0, SIZE + 2 * PAGE, NULL, 0));
	/* The removed one: still ENODEV, then its bytes at the new size. */
	EXPECT_EQ(-1, pread(self->fd[2], &c, 1, 0));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	EXPECT_TRUE(vdev_holds(2, 0x60, SIZE, SIZE + 2 * PAGE, NULL, 0));

	/* In the foreground, vdev 1 grows the device memory itself. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ('G', g[SIZE + PAGE + 8]);
	ASSERT_EQ(0, probe_write(g + SIZE + 3 * PAGE, 'G'));
	ASSERT_EQ(SIZE + 4 * PAGE, reserved_now());
	EXPECT_TRUE(vdev_holds(1, 0x60, SIZE, SIZE + 4 * PAGE, mark2, 'G'));
	for (i = 0; i < NR; i += 2)
		EXPECT_TRUE(vdev_holds(i, 0x60, SIZE, SIZE + 4 * PAGE, NULL, 0));
	EXPECT_TRUE(vdev_holds(3, 0, 0, SIZE + 4 * PAGE, NULL, 0));
	EXPECT_TRUE(has_tagged(p0, SIZE, 0, 0x60, 0));
	p0[0] = 'W';
	ASSERT_EQ(1, pread(self->fd[0], &c, 1, 0));
	EXPECT_EQ('W', c);
	EXPECT_EQ(0, munmap((void *)p0, SIZE));
	EXPECT_EQ(0, munmap((void *)p1, SIZE));
	EXPECT_EQ(0, munmap((void *)g, 2 * SIZE));
}

/*
 * After a growth SWITCH, EJECT and INSERT move the whole new size: the
 * grown bytes follow their vdev, a removed vdev's autogrow mapping is
 * SIGBUS for a store past the size too, and grows nothing.
 */
TEST_F(ag, state_changes_after_a_growth)
{
	struct status_snapshot before, after;
	volatile char *p;
	char c;

	ASSERT_EQ(0, set_autogrow(self->fd[0], 1));
	p = map_shared(self->fd[0], 4 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, probe_write(p + SIZE + PAGE + 8, 'g'));	/* in the device memory */
	ASSERT_EQ(SIZE + 2 * PAGE, reserved_now());
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ('g', p[SIZE + PAGE + 8]);			/* from vdev 0's backing store */
	ASSERT_EQ(0, probe_write(p + 2 * SIZE, 'h'));		/* grown from the background */
	ASSERT_EQ(2 * SIZE + PAGE, reserved_now());
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ('g', p[SIZE + PAGE + 8]);
	EXPECT_EQ('h', p[2 * SIZE]);

	/* Removed: every access is SIGBUS, past the size too, and nothing grows. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE + PAGE + 8, &c));
	EXPECT_EQ(SIGBUS, probe_write(p + 3 * SIZE, 'r'));
	EXPECT_EQ(SIGBUS, probe_read(p + 3 * SIZE, &c));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 0));
	EXPECT_EQ('g', p[SIZE + PAGE + 8]);
	EXPECT_EQ('h', p[2 * SIZE]);
	/* Inserted (in the background), it grows again. */
	ASSERT_EQ(0, probe_write(p + 3 * SIZE, 'i'));
	EXPECT_EQ(3 * SIZE + PAGE, reserved_now());
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ('i', p[3 * SIZE]);
	EXPECT_TRUE(size_everywhere(3 * SIZE + PAGE));
	EXPECT_EQ(0, munmap((void *)p, 4 * SIZE));
}

/*
 * SET_RESERVED_SIZE may grow while vdevs are mapped: the mappings keep
 * their bytes and go on working, the new bytes are zero, and a larger
 * mapping can be made at once. A size inside an autogrow mapping makes its
 * pages up to there loadable.
 */
TEST_F(ag, set_reserved_size_grows_while_mapped)
{
	volatile char *p0, *p1, *g, *q;
	struct status_snapshot before, after;
	uint64_t size;
	int ret;
	char c;

	ASSERT_EQ(0, fill_vdev(self->fd[0], 0, 0x61, SIZE));
	ASSERT_EQ(0, fill_vdev(self->fd[1], 1, 0x61, SIZE));
	p0 = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(self->fd[1], SIZE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	ASSERT_EQ(0, set_autogrow(self->fd[2], 1));
	g = map_shared(self->fd[2], 4 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, g);
	touch_pages(p0, SIZE);
	touch_pages(p1, SIZE);

	ASSERT_EQ(0, snap_status(&before));
	ASSERT_EQ(0, set_reserved(2 * SIZE));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(before.ctl.generation + 1, after.ctl.generation);
	EXPECT_TRUE(size_everywhere(2 * SIZE));
	EXPECT_TRUE(has_tagged(p0, SIZE, 0, 0x61, 0));
	EXPECT_TRUE(has_tagged(p1, SIZE, 1, 0x61, 0));
	p0[SIZE - 1] = 'p';
	EXPECT_TRUE(vdev_holds(1, 0x61, SIZE, 2 * SIZE, NULL, 0));
	EXPECT_TRUE(vdev_holds(3, 0, 0, 2 * SIZE, NULL, 0));
	/* The autogrow mapping: loadable up to the new size, SIGBUS past it. */
	EXPECT_EQ(0, probe_read(g + 2 * SIZE - 1, &c));
	EXPECT_EQ(0, c);
	EXPECT_EQ(SIGBUS, probe_read(g + 2 * SIZE, &c));
	/* A new plain mapping of the new size. */
	q = map_shared(self->fd[0], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ('p', q[SIZE - 1]);
	EXPECT_TRUE(all_zero(q + SIZE, SIZE));
	EXPECT_EQ(0, munmap((void *)q, 2 * SIZE));

	/* The same size while mapped: done, and nothing changes. */
	ASSERT_EQ(0, snap_status(&before));
	size = 2 * SIZE;
	ret = vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size);
	EXPECT_EQ(0, ret);
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	/* Rounded up to a page, as ever; past an autogrow store's growth too. */
	ASSERT_EQ(0, set_reserved(3 * SIZE - 100));
	EXPECT_TRUE(size_everywhere(3 * SIZE));
	ASSERT_EQ(0, probe_write(g + 3 * SIZE + PAGE, 'g'));
	EXPECT_EQ(3 * SIZE + 2 * PAGE, reserved_now());
	EXPECT_EQ(0, set_reserved(DEFAULT_MAX_RESERVED));
	EXPECT_EQ(-EINVAL, set_reserved(DEFAULT_MAX_RESERVED + PAGE));
	EXPECT_TRUE(size_everywhere(DEFAULT_MAX_RESERVED));
	EXPECT_EQ('g', g[3 * SIZE + PAGE]);
	EXPECT_TRUE(has_tagged(p1, SIZE, 1, 0x61, 0));
	EXPECT_EQ(0, munmap((void *)p0, SIZE));
	EXPECT_EQ(0, munmap((void *)p1, SIZE));
	EXPECT_EQ(0, munmap((void *)g, 4 * SIZE));
}

/*
 * Shrinking while anything is mapped stays EBUSY, also below a size an
 * autogrow store reached, and keeps every byte; once nothing is mapped it
 * works and keeps the bytes up to the new size.
 */
TEST_F(ag, shrink_while_mapped_is_ebusy)
{
	struct status_snapshot before, after;
	volatile char *p, *g;

	ASSERT_EQ(0, fill_vdev(self->fd[3], 3, 0x62, SIZE));
	p = map_shared(self->fd[3], PAGE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(-EBUSY, set_reserved(SIZE - PAGE));
	EXPECT_EQ(-EBUSY, set_reserved(PAGE));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_TRUE(vdev_holds(3, 0x62, SIZE, SIZE, NULL, 0));

	ASSERT_EQ(0, set_autogrow(self->fd[0], 1));
	g = map_shared(self->fd[0], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, g);
	ASSERT_EQ(0, probe_write(g + SIZE + PAGE, 's'));
	EXPECT_EQ(0, munmap((void *)p, PAGE));
	/* Only the autogrow mapping is left: still EBUSY. */
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(-EBUSY, set_reserved(SIZE));
	EXPECT_EQ(-EBUSY, set_reserved(SIZE + PAGE));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ('s', g[SIZE + PAGE]);
	EXPECT_EQ(0, munmap((void *)g, 2 * SIZE));

	ASSERT_EQ(0, set_reserved(SIZE + PAGE));
	EXPECT_TRUE(size_everywhere(SIZE + PAGE));
	EXPECT_TRUE(vdev_holds(3, 0x62, SIZE, SIZE + PAGE, NULL, 0));
	ASSERT_EQ(0, set_reserved(SIZE / 2));
	EXPECT_TRUE(vdev_holds(3, 0x62, SIZE / 2, SIZE / 2, NULL, 0));
}

/*
 * mremap never grows a mapping, an autogrow one included (EFAULT, as for
 * any); a moved or shrunk autogrow mapping stays one, and mprotect only
 * changes what the CPU allows.
 */
TEST_F(ag, mremap_and_mprotect_of_an_autogrow_mapping)
{
	volatile char *p, *q;
	char *target, c;

	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_shared(self->fd[1], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(MAP_FAILED, mremap((void *)p, 2 * SIZE, 3 * SIZE, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap((void *)p, 2 * SIZE, 3 * SIZE, 0));
	EXPECT_EQ(SIZE, reserved_now());

	target = mmap(NULL, 2 * SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	q = mremap((void *)p, 2 * SIZE, 2 * SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ((void *)target, (void *)q);
	ASSERT_EQ(0, probe_write(q + SIZE, 'm'));
	EXPECT_EQ(SIZE + PAGE, reserved_now());

	/* Shrunk: it still grows up to its new end. */
	ASSERT_EQ((void *)q, mremap((void *)q, 2 * SIZE, SIZE + 2 * PAGE, 0));
	ASSERT_EQ(0, probe_write(q + SIZE + 2 * PAGE - 1, 'n'));
	EXPECT_EQ(SIZE + 2 * PAGE, reserved_now());

	/* Read-only now: a store is SIGSEGV, a load past the size SIGBUS, nothing grows. */
	EXPECT_EQ(0, munmap((void *)q, SIZE + 2 * PAGE));
	p = map_shared(self->fd[1], 2 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mprotect((void *)p, 2 * SIZE, PROT_READ));
	EXPECT_EQ(SIGSEGV, probe_write(p + SIZE + 3 * PAGE, 1));
	EXPECT_EQ(SIGBUS, probe_read(p + SIZE + 3 * PAGE, &c));
	EXPECT_EQ(SIZE + 2 * PAGE, reserved_now());
	ASSERT_EQ(0, mprotect((void *)p, 2 * SIZE, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, probe_write(p + SIZE + 3 * PAGE, 'o'));
	EXPECT_EQ(SIZE + 4 * PAGE, reserved_now());
	EXPECT_EQ('m', p[SIZE]);
	EXPECT_EQ('n', p[SIZE + 2 * PAGE - 1]);
	EXPECT_EQ(0, munmap((void *)p, 2 * SIZE));
}

/*
 * A forked child's copy of an autogrow mapping is one: its store grows the
 * device for both, and the parent sees the child's bytes; the child's new
 * mappings through the inherited (shared) open file are autogrow too.
 */
TEST_F(ag, fork_of_an_autogrow_mapping)
{
	volatile char *p;
	int status;
	pid_t pid;

	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_shared(self->fd[1], 4 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 'p';
	ASSERT_EQ(0, probe_write(p + SIZE, 'P'));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		volatile char *q;

		/* Exit codes: 1 bytes, 2 no growth, 3 a new mapping refused. */
		if (p[0] != 'p' || p[SIZE] != 'P')
			_exit(1);
		if (probe_write(p + SIZE + 2 * PAGE + 3, 'c') || reserved_now() != SIZE + 3 * PAGE)
			_exit(2);
		q = map_shared(self->fd[1], 3 * SIZE, PROT_READ | PROT_WRITE, 0);
		if (q == MAP_FAILED)
			_exit(3);
		if (probe_write(q + 2 * SIZE + 1, 'C') || reserved_now() != 2 * SIZE + PAGE)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(2 * SIZE + PAGE, reserved_now());
	EXPECT_EQ('c', p[SIZE + 2 * PAGE + 3]);
	EXPECT_TRUE(all_zero(p + SIZE + PAGE, PAGE));
	/* The parent's copy still grows, and reads the child's bytes. */
	EXPECT_EQ('C', p[2 * SIZE + 1]);
	ASSERT_EQ(0, probe_write(p + 3 * SIZE, 'p'));
	EXPECT_EQ(3 * SIZE + PAGE, reserved_now());
	EXPECT_EQ(0, munmap((void *)p, 4 * SIZE));
}

/*
 * Growths racing SWITCHes and one another: one process per vdev, each
 * storing its pattern into its own pages (every NR-th page past the size,
 * in order) through an autogrow mapping, while the foreground moves round
 * the vdevs. Every process must see the size at least at the end of each
 * page it stored, never going back; the controller sees it grow
 * monotonically; at the end the size is that of the last page and every
 * vdev holds exactly its bytes: its own pages, zero elsewhere.
 */
#define RACE_LIMIT (512 * 1024UL)

/* Shared with the switching process (not a thread: a 32-bit build's pthreads are not to be trusted here). */
struct switcher {
	int ctl;
	int stop;
	long switches;
	long backwards;		/* size or generation seen going back */
	int error;
	uint64_t last_size;
};

static void switch_round(struct switcher *s)
{
	struct vdmux_status st;
	uint64_t gen = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (vdmux_ioc(s->ctl, VDMUX_IOC_SWITCH, s->switches % NR)) {
			s->error = errno;
			break;
		}
		s->switches++;
		if (get_status(s->ctl, &st)) {
			s->error = errno;
			break;
		}
		if (st.reserved_size < s->last_size || st.generation < gen)
			s->backwards++;
		s->last_size = st.reserved_size;
		gen = st.generation;
	}
}

/* One grower: exit status 0, or what went wrong. */
static int grower(int v, int go)
{
	int fd = open_vdev(v, O_RDWR), ctl = open(CTL_PATH, O_RDONLY | O_CLOEXEC);
	volatile char *p;
	uint64_t size, last = 0;
	size_t pg;
	char c;

	if (fd < 0 || ctl < 0 || set_autogrow(fd, 1))
		return 10;
	p = map_shared(fd, RACE_LIMIT, PROT_READ | PROT_WRITE, 0);
	if (p == MAP_FAILED)
		return 11;
	/* Every grower starts together: at EOF of the pipe the parent closes. */
	if (read(go, &c, 1) != 0)
		return 12;
	for (pg = SIZE / PAGE; pg < RACE_LIMIT / PAGE; pg++) {
		if (pg % NR != (size_t)v)
			continue;
		fill_tagged(p + pg * PAGE, PAGE, v, 0x63, pg * PAGE);
		if (!has_tagged(p + pg * PAGE, PAGE, v, 0x63, pg * PAGE))
			return 13;
		if (ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &size))
			return 14;
		if (size < (pg + 1) * PAGE)
			return 15;
		if (size < last)
			return 16;
		last = size;
	}
	for (pg = SIZE / PAGE; pg < RACE_LIMIT / PAGE; pg++)
		if (pg % NR == (size_t)v && !has_tagged(p + pg * PAGE, PAGE, v, 0x63, pg * PAGE))
			return 17;
	if (!has_tagged(p, SIZE, v, 0x64, 0))
		return 18;
	return 0;
}

TEST_F(ag, growths_race_switches_and_each_other)
{
	struct switcher *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	static char buf[RACE_LIMIT];
	pid_t pids[NR], sw;
	int go[2], v, status, bad = 0, wrong = 0;
	long before, during;
	double give_up;
	size_t pg;

	ASSERT_NE(MAP_FAILED, s);
	*s = (struct switcher){ .ctl = self->ctl, .last_size = SIZE };
	for (v = 0; v < NR; v++)
		ASSERT_EQ(0, fill_vdev(self->fd[v], v, 0x64, SIZE));
	/* The call must work before anything runs in parallel. */
	ASSERT_EQ(0, set_autogrow(self->fd[0], 1));
	ASSERT_EQ(0, pipe(go));
	for (v = 0; v < NR; v++) {
		pids[v] = fork();
		ASSERT_LE(0, pids[v]);
		if (pids[v] == 0) {
			close(go[1]);
			_exit(grower(v, go[0]));
		}
	}
	close(go[0]);
	sw = fork();
	ASSERT_LE(0, sw);
	if (sw == 0) {
		close(go[1]);
		switch_round(s);
		_exit(0);
	}
	/*
	 * The growers start once the switcher is switching: on a busy host
	 * they could otherwise all be done before it first ran.
	 */
	give_up = now_s() + 30;
	while (!__atomic_load_n(&s->switches, __ATOMIC_ACQUIRE) && !s->error && now_s() < give_up)
		usleep(1000);
	before = __atomic_load_n(&s->switches, __ATOMIC_ACQUIRE);
	close(go[1]);
	for (v = 0; v < NR; v++) {
		ASSERT_EQ(pids[v], waitpid(pids[v], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			TH_LOG("grower of vdev %d: status %#x", v, status);
			bad++;
		}
	}
	during = __atomic_load_n(&s->switches, __ATOMIC_ACQUIRE) - before;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(sw, waitpid(sw, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ksft_print_msg("%lu growths by %d processes during %ld switches\n",
		       (RACE_LIMIT - SIZE) / PAGE, NR, during);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, s->error);
	EXPECT_EQ(0, s->backwards);
	EXPECT_LT(0, during) TH_LOG("no SWITCH completed while the stores grew: nothing raced");
	EXPECT_TRUE(size_everywhere(RACE_LIMIT));
	for (v = 0; v < NR; v++) {
		ASSERT_EQ(RACE_LIMIT, pread(self->fd[v], buf, RACE_LIMIT, 0));
		EXPECT_TRUE(has_tagged(buf, SIZE, v, 0x64, 0)) TH_LOG("vdev %d", v);
		for (pg = SIZE / PAGE; pg < RACE_LIMIT / PAGE; pg++) {
			int ok = pg % NR == (size_t)v ?
				 has_tagged(buf + pg * PAGE, PAGE, v, 0x63, pg * PAGE) :
				 all_zero(buf + pg * PAGE, PAGE);

			if (!ok && wrong++ < 8)
				TH_LOG("vdev %d page %zu holds what it should not", v, pg);
		}
	}
	EXPECT_EQ(0, wrong);
	munmap(s, sizeof(*s));
}

/*
 * Two vdevs' stores racing into one new page, the first of a chunk that no
 * store has: the foreground's lands in the device memory, the background
 * vdev's in its backing store. Whichever grows second finds the buffer
 * grown already, and must still allocate the chunk where its own bytes are
 * before it maps the page: neither store may raise SIGBUS, and each vdev
 * holds its own byte. Each round starts again from one chunk (the driver's
 * chunk_size), which frees the chunks past it; the stores come from two
 * processes released together, and the first growth's allocation of a
 * chunk, under the lock the
 * second one waits for, holds the window open. Some rounds must have had
 * the two stores overlap in time (each child notes when its store began
 * and ended), or nothing raced.
 */
#define RACE_ROUNDS 64

/*
 * Stores @v at @p once @go reads EOF: exit status 0, 1 on SIGBUS. The
 * store's start and end times go to @when[0] and @when[1], in memory shared
 * with the test, which so sees whether the two stores overlapped.
 */
static int store_at_go(volatile char *p, char v, int go, volatile double *when)
{
	char c;
	int sig;

	if (read(go, &c, 1) != 0)
		return 2;
	probe_prefault();
	when[0] = now_s();
	sig = probe_write(p, v);
	when[1] = now_s();
	return sig ? 1 : 0;
}

TEST_F(ag, racing_stores_into_one_new_page)
{
	int round, v, go[2], status, failed = 0, wrong = 0, overlapped = 0;
	const size_t chunk = ctl_attr_number("chunk_size");
	volatile double (*when)[2];
	volatile char *p[2];
	pid_t pid[2];
	char got;

	/* Two processes' stores race the same in a 32-bit build: the 64-bit one runs it. */
	if (sizeof(long) != 8)
		SKIP(return, "run by the 64-bit build");
	when = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, when);
	for (v = 0; v < 2; v++)
		ASSERT_EQ(0, set_autogrow(self->fd[v], 1));
	for (round = 0; round < RACE_ROUNDS; round++) {
		ASSERT_EQ(0, set_reserved(chunk));
		for (v = 0; v < 2; v++) {
			p[v] = map_shared(self->fd[v], chunk + PAGE, PROT_READ | PROT_WRITE, 0);
			ASSERT_NE(MAP_FAILED, p[v]);
		}
		ASSERT_EQ(0, pipe(go));
		for (v = 0; v < 2; v++) {
			pid[v] = fork();
			ASSERT_LE(0, pid[v]);
			if (pid[v] == 0) {
				close(go[1]);
				_exit(store_at_go(p[v] + chunk, 'a' + v, go[0], when[v]));
			}
		}
		close(go[0]);
		close(go[1]);
		for (v = 0; v < 2; v++) {
			ASSERT_EQ(pid[v], waitpid(pid[v], &status, 0));
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				if (failed++ < 8)
					TH_LOG("round %d, vdev %d: status %#x", round, v, status);
			}
			ASSERT_EQ(1, pread(self->fd[v], &got, 1, chunk));
			if (got != 'a' + v && wrong++ < 8)
				TH_LOG("round %d, vdev %d holds %#x", round, v, got);
			EXPECT_EQ(0, munmap((void *)p[v], chunk + PAGE));
		}
		ASSERT_EQ(chunk + PAGE, reserved_now());
		/* Each store began before the other ended: they raced. */
		overlapped += when[0][0] < when[1][1] && when[1][0] < when[0][1];
	}
	ksft_print_msg("racing_stores_into_one_new_page: the two stores overlapped in %d of %d "
		       "rounds\n", overlapped, RACE_ROUNDS);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, wrong);
	EXPECT_LT(0, overlapped) TH_LOG("the two stores never overlapped: nothing raced");
	munmap((void *)when, PAGE);
}

/*
 * From one PMD block, a growth that completes the second block: the
 * buffers are then whole blocks (vdmux-huge-blocks counts them), a new
 * mapping of that block maps it with one PMD entry on its first fault, and
 * the autogrow mapping maps its first block so again once a SWITCH took its
 * entries. Skipped where a store's chunks hold no PMD block.
 */
TEST_F(ag, block_completed_by_a_growth_maps_with_pmd)
{
	int fd = self->fd[0], plain = open_vdev(0, O_RDWR);
	volatile char *p, *q;

	ASSERT_LE(0, plain);
	if (!chunks_hold_pmd()) {
		close(plain);
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	}
	ASSERT_EQ(0, set_reserved(BLOCK));
	ASSERT_EQ(0, fill_vdev(fd, 0, 0x65, BLOCK));
	ASSERT_EQ(1, huge_blocks(fd));
	ASSERT_EQ(0, set_autogrow(fd, 1));
	p = map_block_aligned(fd, 2 * BLOCK, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, (uintptr_t)p % BLOCK);
	/* Block 0 is whole: one PMD fault. */
	EXPECT_FAULTS(fd, 0, 1, EXPECT_TRUE(has_tagged(p, BLOCK, 0, 0x65, 0)));

	ASSERT_EQ(0, probe_write(p + BLOCK, 'a'));
	ASSERT_EQ(BLOCK + PAGE, reserved_now());
	ASSERT_EQ(0, probe_write(p + 2 * BLOCK - 1, 'z'));
	ASSERT_EQ(2 * BLOCK, reserved_now());
	EXPECT_EQ(2, huge_blocks(fd));

	q = map_block_aligned(plain, 2 * BLOCK, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, (uintptr_t)q % BLOCK);
	EXPECT_FAULTS(fd, 0, 1, EXPECT_EQ('a', q[BLOCK]));
	EXPECT_FAULTS(fd, 0, 0, touch_pages(q + BLOCK, BLOCK));
	EXPECT_EQ('z', q[2 * BLOCK - 1]);
	EXPECT_TRUE(all_zero(q + BLOCK + 1, BLOCK - 2));
	EXPECT_TRUE(has_tagged(q, BLOCK, 0, 0x65, 0));

	/*
	 * The autogrow mapping, its entries taken by a SWITCH, maps block 0
	 * with a PMD again. (Not block 1: the page faults that grew it left
	 * a page table in that slot, which only munmap removes.)
	 */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_FAULTS(fd, 0, 1, EXPECT_TRUE(has_tagged(p, BLOCK, 0, 0x65, 0)));
	EXPECT_EQ('z', p[2 * BLOCK - 1]);
	EXPECT_EQ('a', p[BLOCK]);
	EXPECT_EQ(0, munmap((void *)p, 2 * BLOCK));
	EXPECT_EQ(0, munmap((void *)q, 2 * BLOCK));
	close(plain);
}

/*
 * A growth costs what it touches: with max_reserved_size 1 GiB, one store at
 * the last byte grows the buffer to 1 GiB (five buffers of 1 GiB, the device
 * memory and four backing stores, would not fit in the guest) and allocates
 * one chunk of the store it lands in; every vdev keeps its bytes and
 * reads zeros up to the new end. (A growth whose chunk cannot be allocated
 * is SIGBUS and changes nothing: faultinject_test.)
 */
TEST_F(ag, growth_allocates_only_what_it_touches)
{
	const size_t max = 1UL << 30;
	long avail_before, avail_after;
	char tail[PAGE];
	volatile char *p;
	int i, fd;

	self->reload = 1;
	close_nodes(self->ctl, self->fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("max_reserved_size=1073741824"));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
	for (i = 0; i < NR; i++)
		ASSERT_EQ(0, fill_vdev(self->fd[i], i, 0x66, SIZE));
	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_shared(self->fd[1], max, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	avail_before = meminfo_kb("MemAvailable");
	ASSERT_EQ(0, probe_write(p + max - 1, 1));
	avail_after = meminfo_kb("MemAvailable");
	EXPECT_EQ(max, reserved_now());
	EXPECT_GT(16L << 10, avail_before - avail_after)
		TH_LOG("MemAvailable %ld kB before, %ld kB after", avail_before, avail_after);
	EXPECT_EQ(1, p[max - 1]);
	for (i = 0; i < NR; i++) {
		EXPECT_TRUE(vdev_holds(i, 0x66, SIZE, SIZE + PAGE, NULL, 0));
		fd = open_vdev(i, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(PAGE, pread(fd, tail, PAGE, max / 2));
		EXPECT_TRUE(all_zero(tail, PAGE));
		close(fd);
	}
	EXPECT_TRUE(has_tagged(p, SIZE, 1, 0x66, 0));
	EXPECT_EQ(0, munmap((void *)p, max));
	close_nodes(self->ctl, self->fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

/* On a busy 2-core host under TCG, racing_stores_into_one_new_page took 16.3 s. */
VDMUX_HARNESS_MAIN(90)
