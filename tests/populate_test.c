// SPDX-License-Identifier: GPL-2.0
/*
 * VDMUX_IOC_POPULATE: maps a range of the caller's mappings of a virtual
 * device at once, as the faults of a first touch would, so that touching it
 * afterwards takes no fault (fdinfo's vdmux-page-faults, vdmux-huge-faults
 * and vdmux-vma-lock-faults do not move). Its errors (EINVAL, EFAULT,
 * ENXIO, ENODEV, ENOTTY on the control node), that it keeps each mapping's
 * protection, that it reaches the caller's mappings of the vdev whatever
 * node made them and across VMAs, and that what it maps is revoked by the
 * next state change like a fault's entries: the bytes then come from the
 * right store.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED
#define NR DEFAULT_NR_VDEVS
#define BLOCK PMD_BLOCK

/*
 * Expects @action to take no fault of any kind on the vdev of @fd: none
 * that the driver served, the counters existing (vdmux-vma-lock-faults
 * among them), and none of this thread in the vdev's mappings as the
 * kernel reports them (see struct fault_trace), not even one that the
 * kernel served without the driver.
 */
#define EXPECT_NO_FAULTS(fd, action)                                    \
	do {                                                            \
		struct fault_counts before_ = fault_counts(fd), after_; \
		struct fault_trace trace_;                              \
		long traced_;                                           \
		int traced_open_ = fault_trace_open(&trace_, fd);       \
		action;                                                 \
		traced_ = fault_trace_close(&trace_);                   \
		after_ = fault_counts(fd);                              \
		EXPECT_LE(0, before_.pages);                            \
		EXPECT_LE(0, before_.huge);                             \
		EXPECT_LE(0, before_.vma_lock);                         \
		EXPECT_EQ(0, traced_open_);                             \
		EXPECT_EQ(before_.pages, after_.pages);                 \
		EXPECT_EQ(before_.huge, after_.huge);                   \
		EXPECT_EQ(before_.vma_lock, after_.vma_lock);           \
		EXPECT_EQ(0, traced_);                                  \
	} while (0)

/* A region of @len bytes with nothing of ours in it: anonymous, PROT_NONE. */
static char *reserve(size_t len)
{
	return mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Maps @len bytes of @fd at @off exactly at @at: @at, or NULL. */
static char *map_at(char *at, int fd, size_t len, int prot, off_t off)
{
	char *p = mmap(at, len, prot, MAP_SHARED | MAP_FIXED, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/* Writes every page of [@p, @p + @len): the byte at offset 1 of each. */
static void store_pages(volatile char *p, size_t len, char v)
{
	size_t off;

	for (off = 0; off < len; off += PAGE)
		p[off + 1] = v;
}

FIXTURE(pop)
{
	int ctl;
	int fd[NR];
};

FIXTURE_SETUP(pop)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

FIXTURE_TEARDOWN(pop)
{
	close_nodes(self->ctl, self->fd);
	reset_device();
}

/*
 * After POPULATE, loads and stores anywhere in the range take no fault, and
 * see the vdev's bytes; without it, the same first touch does fault (which
 * is what makes the counts mean something).
 */
TEST_F(pop, populated_range_takes_no_fault)
{
	int fd = self->fd[1];
	volatile char *p, *q;

	ASSERT_EQ(0, fill_vdev(fd, 1, 0x70, SIZE));
	q = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_FAULTS(fd, 1, 0, EXPECT_TRUE(has_tagged(q, SIZE, 1, 0x70, 0)));
	EXPECT_EQ(0, munmap((void *)q, SIZE));

	p = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(fd, p, SIZE));
	EXPECT_NO_FAULTS(fd, EXPECT_TRUE(has_tagged(p, SIZE, 1, 0x70, 0)));
	EXPECT_NO_FAULTS(fd, store_pages(p, SIZE, 'w'));
	EXPECT_NO_FAULTS(fd, fill_tagged(p, SIZE, 1, 0x71, 0));
	/* A populate of what is mapped already is fine, and costs nothing later. */
	ASSERT_EQ(0, populate(fd, p + PAGE, 2 * PAGE));
	EXPECT_NO_FAULTS(fd, touch_pages(p, SIZE));
	EXPECT_EQ(0, munmap((void *)p, SIZE));

	/* Part of a mapping: that part takes no fault. */
	p = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(fd, p + 3 * PAGE, 2 * PAGE));
	EXPECT_NO_FAULTS(fd, EXPECT_TRUE(has_tagged(p + 3 * PAGE, 2 * PAGE, 1, 0x71, 3 * PAGE)));
	EXPECT_EQ(0, munmap((void *)p, SIZE));
}

/*
 * Whole PMD blocks: populated, they take no fault either, of any size.
 * Skipped where a store's chunks hold no PMD block.
 */
TEST_F(pop, populated_blocks_take_no_fault)
{
	int fd = self->fd[0];
	volatile char *p;
	char *region;

	if (!chunks_hold_pmd())
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	ASSERT_EQ(0, set_reserved(2 * BLOCK));
	ASSERT_EQ(0, fill_vdev(fd, 0, 0x72, 2 * BLOCK));
	/* At an aligned address, which a 32-bit process does not get from a plain mmap. */
	region = reserve(3 * BLOCK);
	ASSERT_NE(MAP_FAILED, region);
	p = map_at((char *)(((uintptr_t)region + BLOCK - 1) & ~(BLOCK - 1)), fd, 2 * BLOCK,
		   PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, populate(fd, p, 2 * BLOCK));
	EXPECT_NO_FAULTS(fd, EXPECT_TRUE(has_tagged(p, 2 * BLOCK, 0, 0x72, 0)));
	EXPECT_NO_FAULTS(fd, store_pages(p, 2 * BLOCK, 's'));
	EXPECT_EQ(0, munmap(region, 3 * BLOCK));
}

/*
 * The errors: EINVAL for an unaligned or empty range, EFAULT for a bad
 * argument or a range not wholly covered by the caller's mappings of this
 * vdev, ENXIO past the reserved size, ENODEV while removed, ENOTTY on the
 * control node. None of them changes anything.
 */
TEST_F(pop, errors)
{
	struct status_snapshot before, after;
	struct vdmux_range r;
	int fd = self->fd[1], ret;
	char *region, *p, *anon;

	region = reserve(16 * PAGE);
	ASSERT_NE(MAP_FAILED, region);
	p = map_at(region, fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, snap_status(&before));

	EXPECT_EQ(-EINVAL, populate(fd, p + 1, PAGE));
	EXPECT_EQ(-EINVAL, populate(fd, p + PAGE - 8, PAGE));
	EXPECT_EQ(-EINVAL, populate(fd, p, PAGE + 1));
	EXPECT_EQ(-EINVAL, populate(fd, p, PAGE - 1));
	EXPECT_EQ(-EINVAL, populate(fd, p, 0));
	EXPECT_EQ(-EINVAL, populate(fd, p + 100, 0));
	/* A range that wraps round, though page aligned: EINVAL, as for mmap. */
	ret = populate(fd, p, -(uint64_t)PAGE);
	EXPECT_EQ(-EINVAL, ret);

	EXPECT_EQ(-EFAULT, vdmux_ioc(fd, VDMUX_IOC_POPULATE, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(fd, VDMUX_IOC_POPULATE, 8));
	EXPECT_EQ(-EFAULT, vdmux_ioc(fd, VDMUX_IOC_POPULATE, (unsigned long)-(long)PAGE));
	/* Past the mapping's end: our anonymous PROT_NONE memory. */
	EXPECT_EQ(-EFAULT, populate(fd, p, SIZE + PAGE));
	EXPECT_EQ(-EFAULT, populate(fd, p + SIZE, PAGE));
	/* Anonymous memory, and nothing mapped at all. */
	anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	EXPECT_EQ(-EFAULT, populate(fd, anon, PAGE));
	ASSERT_EQ(0, munmap(anon, PAGE));
	EXPECT_EQ(-EFAULT, populate(fd, anon, PAGE));
	/* A hole in the middle. */
	ASSERT_EQ(0, munmap(p + 2 * PAGE, PAGE));
	EXPECT_EQ(-EFAULT, populate(fd, p, 4 * PAGE));
	EXPECT_EQ(0, populate(fd, p, 2 * PAGE));
	EXPECT_EQ(0, populate(fd, p + 3 * PAGE, SIZE - 3 * PAGE));
	/* A mapping of this vdev through another vdev's node. */
	EXPECT_EQ(-EFAULT, populate(self->fd[2], p, PAGE));
	EXPECT_EQ(-EFAULT, populate(self->fd[0], p + 3 * PAGE, PAGE));

	/* The control node has no such command. */
	r = (struct vdmux_range){ (uintptr_t)p, PAGE };
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->ctl, VDMUX_IOC_POPULATE, (unsigned long)&r));

	/* Removed: ENODEV; inserted again, it works. */
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(-ENODEV, populate(fd, p, PAGE));
	EXPECT_EQ(-ENODEV, populate(fd, p + 3 * PAGE, SIZE - 3 * PAGE));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_EQ(0, populate(fd, p, PAGE));
	EXPECT_EQ(0, munmap(region, 16 * PAGE));
}

/*
 * Past the reserved size (only an autogrow mapping reaches there): ENXIO,
 * and no growth; a store grows the size, and the range up to it can then be
 * populated. SET_RESERVED_SIZE moves the limit too.
 */
TEST_F(pop, past_the_reserved_size_is_enxio)
{
	struct status_snapshot before, after;
	int fd = self->fd[2];
	volatile char *g;

	ASSERT_EQ(0, set_autogrow(fd, 1));
	g = map_shared(fd, 4 * SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, g);
	ASSERT_EQ(0, snap_status(&before));
	EXPECT_EQ(-ENXIO, populate(fd, g, 4 * SIZE));
	EXPECT_EQ(-ENXIO, populate(fd, g + SIZE - PAGE, 2 * PAGE));
	EXPECT_EQ(-ENXIO, populate(fd, g + 3 * SIZE, PAGE));
	ASSERT_EQ(0, snap_status(&after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ(0, populate(fd, g, SIZE));
	EXPECT_NO_FAULTS(fd, touch_pages(g, SIZE));

	g[SIZE + PAGE] = 'g';	/* grows to SIZE + 2 pages */
	ASSERT_EQ(0, status_of(-1, &after.ctl));
	ASSERT_EQ(SIZE + 2 * PAGE, after.ctl.reserved_size);
	EXPECT_EQ(0, populate(fd, g + SIZE, 2 * PAGE));
	EXPECT_EQ(-ENXIO, populate(fd, g + SIZE, 3 * PAGE));
	EXPECT_NO_FAULTS(fd, EXPECT_EQ('g', g[SIZE + PAGE]));
	ASSERT_EQ(0, set_reserved(3 * SIZE));
	EXPECT_EQ(0, populate(fd, g, 3 * SIZE));
	EXPECT_EQ(-ENXIO, populate(fd, g, 3 * SIZE + PAGE));
	EXPECT_EQ(0, munmap((void *)g, 4 * SIZE));
}

/*
 * POPULATE keeps each mapping's protection: a read-only mapping (of a file
 * not open for writing, or mprotect-ed) stays read-only, a PROT_NONE one
 * inaccessible. A read-only file may populate its own mappings.
 */
TEST_F(pop, populate_keeps_protections)
{
	int ro = open_vdev(1, O_RDONLY), ret;
	volatile char *p, *q;
	char c;

	ASSERT_LE(0, ro);
	ASSERT_EQ(0, fill_vdev(self->fd[1], 1, 0x73, SIZE));
	p = map_shared(ro, SIZE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(ro, p, SIZE));
	EXPECT_NO_FAULTS(ro, EXPECT_TRUE(has_tagged(p, SIZE, 1, 0x73, 0)));
	EXPECT_EQ(SIGSEGV, probe_write(p + PAGE, 1));
	EXPECT_EQ(SIGSEGV, probe_write(p + SIZE - 1, 1));

	q = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, mprotect((void *)q, SIZE / 2, PROT_READ));
	ASSERT_EQ(0, populate(self->fd[1], q, SIZE));
	EXPECT_EQ(SIGSEGV, probe_write(q, 1));
	EXPECT_EQ(SIGSEGV, probe_write(q + SIZE / 2 - 1, 1));
	EXPECT_NO_FAULTS(self->fd[1], store_pages(q + SIZE / 2, SIZE / 2, 'w'));
	EXPECT_TRUE(has_tagged(q, SIZE / 2, 1, 0x73, 0));
	EXPECT_EQ(0, munmap((void *)q, SIZE));

	/*
	 * PROT_NONE: nothing to map, as with MAP_POPULATE (and no entry may
	 * be made there but by mprotect, which checks them for L1TF). The
	 * pages stay inaccessible; made readable, the first read faults.
	 */
	q = map_shared(self->fd[1], SIZE, PROT_NONE, 0);
	ASSERT_NE(MAP_FAILED, q);
	ret = populate(self->fd[1], q, SIZE);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(SIGSEGV, probe_read(q, &c));
	EXPECT_EQ(SIGSEGV, probe_write(q + PAGE, 1));
	ASSERT_EQ(0, mprotect((void *)q, SIZE, PROT_READ));
	EXPECT_FAULTS(self->fd[1], 1, 0, EXPECT_TRUE(has_tagged(q, PAGE, 1, 0x73, 0)));
	EXPECT_EQ(0, munmap((void *)q, SIZE));
	EXPECT_EQ(0, munmap((void *)p, SIZE));
	close(ro);
}

/*
 * The caller's mappings of the vdev, whatever node or open file made them:
 * a second open file, a read-only one, a mknod alias.
 */
TEST_F(pop, through_any_node_of_the_vdev)
{
	const char *alias = "/tmp/populate-vdmux3";
	int ro = open_vdev(3, O_RDONLY), fd_alias;
	volatile char *p, *q;
	struct stat st;

	ASSERT_LE(0, ro);
	ASSERT_EQ(0, stat(vdev_path(3), &st));
	unlink(alias);
	ASSERT_EQ(0, mknod(alias, S_IFCHR | 0600, st.st_rdev));
	fd_alias = open(alias, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd_alias);
	ASSERT_EQ(0, fill_vdev(self->fd[3], 3, 0x74, SIZE));

	p = map_shared(self->fd[3], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(ro, p, SIZE));
	EXPECT_NO_FAULTS(self->fd[3], EXPECT_TRUE(has_tagged(p, SIZE, 3, 0x74, 0)));
	EXPECT_NO_FAULTS(self->fd[3], store_pages(p, SIZE, 'a'));

	q = map_shared(fd_alias, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, populate(self->fd[3], q, SIZE));
	EXPECT_NO_FAULTS(fd_alias, EXPECT_EQ('a', q[PAGE + 1]));
	EXPECT_EQ(0, munmap((void *)q, SIZE));
	EXPECT_EQ(0, munmap((void *)p, SIZE));
	p = map_shared(ro, SIZE, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(fd_alias, p, SIZE));
	EXPECT_NO_FAULTS(ro, touch_pages(p, SIZE));
	EXPECT_EQ(0, munmap((void *)p, SIZE));
	close(fd_alias);
	close(ro);
	unlink(alias);
}

/*
 * One range across several VMAs of the same vdev: two mappings side by
 * side at unrelated offsets, through different nodes, and a mapping split
 * by mprotect. Across a VMA of another vdev it is EFAULT.
 */
TEST_F(pop, across_vmas_of_the_vdev)
{
	int fd = self->fd[1], fd2 = open_vdev(1, O_RDWR);
	char *region, *a, *b, *c;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, fill_vdev(fd, 1, 0x75, SIZE));
	region = reserve(16 * PAGE);
	ASSERT_NE(MAP_FAILED, region);
	/* [0, 2 pages) of the vdev, then its [4, 7 pages), then [1, 3 pages) through fd2. */
	a = map_at(region, fd, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
	b = map_at(region + 2 * PAGE, fd, 3 * PAGE, PROT_READ | PROT_WRITE, 4 * PAGE);
	c = map_at(region + 5 * PAGE, fd2, 2 * PAGE, PROT_READ, PAGE);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, populate(fd, region, 7 * PAGE));
	EXPECT_NO_FAULTS(fd, {
		EXPECT_TRUE(has_tagged(a, 2 * PAGE, 1, 0x75, 0));
		EXPECT_TRUE(has_tagged(b, 3 * PAGE, 1, 0x75, 4 * PAGE));
		EXPECT_TRUE(has_tagged(c, 2 * PAGE, 1, 0x75, PAGE));
		store_pages(region, 5 * PAGE, 'x');
	});
	EXPECT_EQ('x', c[1]);	/* [1, 3) of the vdev: a's second page */

	/* Split by mprotect: two VMAs of one mapping. */
	ASSERT_EQ(0, munmap(region, 16 * PAGE));
	region = reserve(16 * PAGE);
	ASSERT_NE(MAP_FAILED, region);
	a = map_at(region, fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, mprotect(a + 2 * PAGE, 3 * PAGE, PROT_READ));
	ASSERT_EQ(0, populate(fd, a, SIZE));
	EXPECT_NO_FAULTS(fd, touch_pages(a, SIZE));
	EXPECT_NO_FAULTS(fd, store_pages(a, 2 * PAGE, 'y'));
	EXPECT_EQ(SIGSEGV, probe_write(a + 3 * PAGE, 1));

	/* A VMA of another vdev right after it. */
	b = map_at(region + SIZE, self->fd[2], PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(-EFAULT, populate(fd, a, SIZE + PAGE));
	EXPECT_EQ(-EFAULT, populate(self->fd[2], a + SIZE - PAGE, 2 * PAGE));
	EXPECT_EQ(0, populate(self->fd[2], b, PAGE));
	EXPECT_EQ(0, munmap(region, 16 * PAGE));
	close(fd2);
}

/*
 * What POPULATE mapped is revoked by the next SWITCH, as a fault's entries
 * are: afterwards each mapping reads its own vdev's bytes from where they
 * are now (the foreground's from the device memory, the old foreground's
 * from its backing store), with a fault again; EJECT makes them SIGBUS.
 */
TEST_F(pop, switch_revokes_what_populate_mapped)
{
	volatile char *p0, *p1;
	char c;

	ASSERT_EQ(0, fill_vdev(self->fd[0], 0, 0x76, SIZE));
	ASSERT_EQ(0, fill_vdev(self->fd[1], 1, 0x76, SIZE));
	p0 = map_shared(self->fd[0], SIZE, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(self->fd[1], SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	ASSERT_EQ(0, populate(self->fd[0], p0, SIZE));
	ASSERT_EQ(0, populate(self->fd[1], p1, SIZE));

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	/* One fault each (the fault-around block covers the 8 pages): the entries went. */
	EXPECT_FAULTS(self->fd[0], 1, 0, EXPECT_TRUE(has_tagged(p0, SIZE, 0, 0x76, 0)));
	EXPECT_FAULTS(self->fd[1], 1, 0, EXPECT_TRUE(has_tagged(p1, SIZE, 1, 0x76, 0)));
	/* Stores land in each vdev's own bytes. */
	p0[0] = 'a';
	p1[0] = 'b';
	ASSERT_EQ(1, pread(self->fd[0], &c, 1, 0));
	EXPECT_EQ('a', c);
	ASSERT_EQ(1, pread(self->fd[1], &c, 1, 0));
	EXPECT_EQ('b', c);

	/* Populated again, then switched back. */
	ASSERT_EQ(0, populate(self->fd[0], p0, SIZE));
	ASSERT_EQ(0, populate(self->fd[1], p1, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ('a', p0[0]);
	EXPECT_EQ('b', p1[0]);
	EXPECT_TRUE(has_tagged(p0 + 8, SIZE - 8, 0, 0x76, 8));
	EXPECT_TRUE(has_tagged(p1 + 8, SIZE - 8, 1, 0x76, 8));

	/* A switch to a third vdev revokes vdev 0's too; vdev 1 was not involved. */
	ASSERT_EQ(0, populate(self->fd[0], p0, SIZE));
	ASSERT_EQ(0, populate(self->fd[1], p1, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	EXPECT_FAULTS(self->fd[0], 1, 0, EXPECT_EQ('a', p0[0]));
	EXPECT_NO_FAULTS(self->fd[1], EXPECT_EQ('b', p1[0]));

	/* Populated, then ejected: SIGBUS. */
	ASSERT_EQ(0, populate(self->fd[1], p1, SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(SIGBUS, probe_read(p1, &c));
	EXPECT_EQ(SIGBUS, probe_write(p1 + SIZE - 1, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_EQ('b', p1[0]);
	EXPECT_EQ(0, munmap((void *)p0, SIZE));
	EXPECT_EQ(0, munmap((void *)p1, SIZE));
}

/*
 * POPULATE maps the caller's own address space: after fork the child's
 * copy is unmapped (fork copies no entry) until the child faults or
 * populates it itself, and a child's populate does not map the parent's.
 */
TEST_F(pop, populate_is_the_callers)
{
	int fd = self->fd[1], status;
	volatile char *p;
	pid_t pid;

	p = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, populate(fd, p, SIZE));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct fault_counts c0, c1;
		struct fault_trace trace;

		/*
		 * Exit codes: 1 the populate failed, 2 it did not map (as the
		 * driver or the kernel counts faults), 3 the parent's did.
		 */
		if (populate(fd, p, SIZE))
			_exit(1);
		c0 = fault_counts(fd);
		if (fault_trace_open(&trace, fd))
			_exit(2);
		store_pages(p, SIZE, 'c');
		if (fault_trace_close(&trace))
			_exit(2);
		c1 = fault_counts(fd);
		if (c0.pages < 0 || c1.pages != c0.pages || c1.huge != c0.huge ||
		    c1.vma_lock != c0.vma_lock)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's entries went at fork, and the child's populate was its own. */
	EXPECT_FAULTS(fd, 1, 0, EXPECT_EQ('c', p[PAGE + 1]));
	EXPECT_EQ(0, munmap((void *)p, SIZE));
}

/* On a busy 2-core host under TCG, populate_keeps_protections took 1.2 s. */
VDMUX_HARNESS_MAIN(30)
