// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures: SET_RESERVED_SIZE, the first fault on a background
 * vdev whose backing store is not allocated yet, a SWITCH or EJECT that
 * must allocate the old foreground's backing store, and a store through an
 * autogrow mapping that must grow the buffers. Each must fail cleanly
 * (ENOMEM, or SIGBUS for the fault and the store) and change nothing: size,
 * states, generations and every vdev's bytes.
 *
 * Two ways to fail: failslab and fail_page_alloc with task-filter=Y and
 * /proc/self/make-it-fail (every allocation of this task fails while armed),
 * and /proc/thread-self/fail-nth (only the Nth one), swept over N until
 * the operation succeeds, so that every allocation site of it fails once.
 */
#include <limits.h>
#include <sched.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED
/* The slot one page table maps: a PMD block, the driver's pmd_size. */
#define SLOT PMD_BLOCK
/*
 * A chunk of a store with the default max_reserved_size (chunk_size), read
 * once: the child of the state-change race uses it in its window.
 */
#define CHUNK default_chunk()

static size_t default_chunk(void)
{
	static size_t chunk;

	if (!chunk)
		chunk = store_chunk();
	return chunk;
}
#define NR DEFAULT_NR_VDEVS
#define DEBUGFS "/sys/kernel/debug"
#define MAX_SITES 400
/*
 * Sweeps of fail-nth a test runs at most to reach the sites it must (see the
 * growth's). A POPULATE sweep missed its page table's allocation in each of
 * three sweeps of one run (and in one of two in another): eight make that a
 * rarity, and each sweep is still judged whole.
 */
#define SWEEPS 8

static const char *const fault_dirs[] = { DEBUGFS "/failslab", DEBUGFS "/fail_page_alloc" };

/*
 * The attributes we set, in this order, and their values while the test
 * runs. task-filter comes first and probability last: the other way round,
 * every allocation of every task would fail for a moment. They are
 * restored in the reverse order.
 */
static const struct {
	const char *name;
	const char *value;
	int page_alloc_only;
} attrs[] = {
	{ "task-filter", "Y" },
	{ "verbose", "0" },
	{ "interval", "1" },
	{ "space", "0" },
	{ "times", "100" },	/* enough for any one operation; bounds a retry loop */
	{ "ignore-gfp-wait", "N" },
	{ "ignore-gfp-highmem", "N", 1 },
	{ "min-order", "0", 1 },
	{ "probability", "100" },
};
#define NR_ATTRS (sizeof(attrs) / sizeof(attrs[0]))

static int make_it_fail_fd = -1;

/* Marks the kernel log, so that what a test makes the kernel print can be told apart. */
static void kmsg_mark(const char *what)
{
	char buf[160];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC), len;

	if (fd < 0)
		return;
	len = snprintf(buf, sizeof(buf), "vdmux faultinject_test: %s\n", what);
	if (write(fd, buf, len) != len)
		perror("/dev/kmsg");
	close(fd);
}

static sigjmp_buf fault_env;

/*
 * While failures are armed, a page fault on our own memory would fail too
 * (and be retried, or worse, count as one of the operation's allocations):
 * the stack we are about to use and the jump buffer are faulted in first.
 */
static void prefault(void)
{
	volatile char stack[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(stack); i += PAGE)
		stack[i] = 0;
	memset(fault_env, 0, sizeof(fault_env));
}

/* Arms or disarms failure injection for this task, through a file opened beforehand. */
static int make_it_fail(int on)
{
	prefault();
	return pwrite(make_it_fail_fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -errno;
}

/*
 * The addresses of vdmux's code, from the [vdmux] text symbols of
 * /proc/kallsyms, to the page after the last one; 0 when found.
 */
static int module_text(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], type, mod[64];
	unsigned long addr;

	*start = ULONG_MAX;
	*end = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %*s [%63[^]]]", &addr, &type, mod) == 3 &&
		    !strcmp(mod, "vdmux") && (type == 't' || type == 'T') && addr) {
			if (addr < *start)
				*start = addr;
			if (addr > *end)
				*end = addr;
		}
	fclose(f);
	*end += PAGE;
	return *start < *end ? 0 : -1;
}

static const char *const require_attrs[] = { "require-start", "require-end" };

/* The attributes' values before the test, to put back after it. */
struct saved_attrs {
	char value[2][NR_ATTRS][32];
	int configured;
	char require[2][2][32];	/* require-start and -end of each fault_dirs[] */
	int restricted;
};

FIXTURE(fi)
{
	int ctl;
	int fd[NR];
	struct saved_attrs saved;
	char bytes[NR][MAX_DEFAULT_RESERVED];	/* what each vdev holds: SIZE bytes */
};

static void configure(struct __test_metadata *_metadata, struct saved_attrs *self)
{
	char path[256];
	unsigned int d, a;

	for (d = 0; d < 2; d++)
		for (a = 0; a < NR_ATTRS; a++) {
			if (attrs[a].page_alloc_only && d == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], attrs[a].name);
			ASSERT_EQ(0, read_first_line(path, self->value[d][a], sizeof(self->value[d][a])))
				TH_LOG("%s", path);
		}
	self->configured = 1;
	for (d = 0; d < 2; d++)
		for (a = 0; a < NR_ATTRS; a++) {
			if (attrs[a].page_alloc_only && d == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], attrs[a].name);
			ASSERT_EQ(0, write_text(path, attrs[a].value)) TH_LOG("%s", path);
		}
}

static void restore(struct saved_attrs *self)
{
	char path[256];
	unsigned int d, a;

	make_it_fail(0);
	for (d = 0; self->restricted && d < 2; d++)
		for (a = 0; a < 2; a++) {
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], require_attrs[a]);
			write_text(path, self->require[d][a]);
		}
	if (!self->configured)
		return;
	for (d = 0; d < 2; d++)
		for (a = NR_ATTRS; a-- > 0;) {
			if (attrs[a].page_alloc_only && d == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], attrs[a].name);
			write_text(path, self->value[d][a]);
		}
}

/*
 * Only allocations with vdmux's code on their stack count and fail
 * (FAULT_INJECTION_STACKTRACE_FILTER): the driver's own and what it asks
 * of the kernel, not the syscall's or the fault's around it. 0, or -1
 * when the kernel cannot filter so.
 */
static int restrict_to_vdmux(struct __test_metadata *_metadata, struct saved_attrs *self)
{
	unsigned long start, end;
	char path[256], text[32];

	if (access(DEBUGFS "/failslab/require-start", W_OK))
		return -1;
	if (module_text(&start, &end))
		return -1;
	TH_LOG("failures kept to vdmux's text, %#lx-%#lx", start, end);
	for (int d = 0; d < 2; d++)
		for (int a = 0; a < 2; a++) {
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], require_attrs[a]);
			if (read_first_line(path, self->require[d][a], sizeof(self->require[d][a])))
				return -1;
		}
	self->restricted = 1;
	for (int d = 0; d < 2; d++)
		for (int a = 0; a < 2; a++) {
			snprintf(path, sizeof(path), "%s/%s", fault_dirs[d], require_attrs[a]);
			snprintf(text, sizeof(text), "%#lx", a ? end : start);
			if (write_text(path, text))
				return -1;
		}
	return 0;
}

FIXTURE_SETUP(fi)
{
	int i;

	if (access(fault_dirs[0], F_OK) || access(fault_dirs[1], F_OK) ||
	    access("/proc/self/make-it-fail", F_OK))
		SKIP(return, "kernel without failslab, fail_page_alloc or make-it-fail");
	kmsg_mark(_metadata->name);
	/* A fresh load: no vdev has a backing store yet. */
	ASSERT_EQ(0, restore_module_defaults());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
	for (i = 0; i < NR; i++) {
		self->fd[i] = open_vdev(i, O_RDWR);
		ASSERT_LE(0, self->fd[i]);
	}
	/* Only vdev 0, the foreground, has bytes: no backing store is allocated. */
	memset(self->bytes, 0, sizeof(self->bytes));
	fill_pattern(self->bytes[0], SIZE, 0x50);
	ASSERT_EQ(SIZE, pwrite(self->fd[0], self->bytes[0], SIZE, 0));
	make_it_fail_fd = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, make_it_fail_fd);
	configure(_metadata, &self->saved);
}

FIXTURE_TEARDOWN(fi)
{
	int i;

	restore(&self->saved);
	if (make_it_fail_fd >= 0)
		close(make_it_fail_fd);
	if (self->ctl > 0)
		close(self->ctl);
	for (i = 0; i < NR; i++)
		if (self->fd[i] > 0)
			close(self->fd[i]);
	reset_device();
}

/* Everything as it was: size, foreground, states and generations, bytes. */
struct snapshot {
	struct vdmux_status ctl, vdev[NR];
};

static int snap(FIXTURE_DATA(fi) *self, struct snapshot *s)
{
	int i;

	if (get_status(self->ctl, &s->ctl))
		return -1;
	for (i = 0; i < NR; i++)
		if (get_status(self->fd[i], &s->vdev[i]))
			return -1;
	return 0;
}

static int unchanged(FIXTURE_DATA(fi) *self, const struct snapshot *before)
{
	char got[SIZE];
	struct snapshot now;
	int i;

	memset(got, 0, sizeof(got));

	if (snap(self, &now) || memcmp(&now, before, sizeof(now)))
		return 0;
	for (i = 0; i < NR; i++)
		if (now.vdev[i].state != VDMUX_STATE_REMOVED &&
		    (pread(self->fd[i], got, SIZE, 0) != SIZE || memcmp(got, self->bytes[i], SIZE)))
			return 0;
	return 1;
}

/* The "vdmux-huge-blocks" value of @fd's fdinfo; -1 if absent. */
static long huge_blocks(int fd)
{
	char buf[1024];

	return read_fdinfo(fd, buf, sizeof(buf)) ? -1 : fdinfo_field(buf, "vdmux-huge-blocks:\t");
}

/*
 * The areas of vdmux's chunks in the kernel's own list of its vmalloc
 * areas, /proc/vmallocinfo, which names the code that made each one: of
 * @size bytes (a guard page more in the list), @small those that vmalloc
 * made of single pages, @block those of an order-9 block that vdmux mapped
 * with vmap. 0, or -1 when the list cannot be read.
 */
struct chunk_areas {
	int small, block;
};

static int chunk_areas(size_t size, struct chunk_areas *c)
{
	FILE *f = fopen("/proc/vmallocinfo", "re");
	char line[512], pages[32];
	unsigned long len;

	c->small = c->block = 0;
	if (!f)
		return -1;
	snprintf(pages, sizeof(pages), " pages=%zu ", size / PAGE);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %lu", &len) != 1 || len != size + PAGE ||
		    !strstr(line, " [vdmux]"))
			continue;
		if (strstr(line, pages) && strstr(line, " vmalloc"))
			c->small++;
		else if (strstr(line, " vmap") && !strstr(line, " vmalloc"))
			c->block++;
	}
	fclose(f);
	return 0;
}

/* The operations under test; each returns 0 or -errno (-SIGBUS for the fault). */

static int do_resize(FIXTURE_DATA(fi) *self, uint64_t size)
{
	return vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size);
}

static void on_sigbus(int sig)
{
	siglongjmp(fault_env, sig);
}

/*
 * A read of @p that may fault SIGBUS. Nothing in here may allocate but
 * the fault itself: no sigaction, no printf.
 */
static int touch(volatile const char *p, char *out)
{
	int sig = sigsetjmp(fault_env, 1);

	if (sig)
		return -sig;
	*out = *p;
	return 0;
}

/*
 * A mapping of vdev @v whose page tables already exist: it sits in a SLOT
 * whose first page is anonymous memory already touched, so that a fault on
 * it allocates nothing before the driver's fault handler.
 */
#define PREPARED_REGION (2 * SLOT)
static char *map_prepared(int fd, void **region)
{
	char *r = mmap(NULL, PREPARED_REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned, *p;

	if (r == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)r + SLOT - 1) & ~(SLOT - 1));
	aligned[0] = 1;
	p = mmap(aligned + SLOT / 2, SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	*region = r;
	return p == MAP_FAILED ? NULL : p;
}

/*
 * A store of @v at @p that may fault SIGBUS: the store through an autogrow
 * mapping past the reserved size. As touch(), nothing in here allocates but
 * the fault itself.
 */
static int poke(volatile char *p, char v)
{
	int sig = sigsetjmp(fault_env, 1);

	if (sig)
		return -sig;
	*p = v;
	return 0;
}

/*
 * An autogrow mapping of @len bytes (at most one and a quarter SLOT) of
 * vdev @fd (autogrow set on it) whose page tables exist, as map_prepared()
 * makes them; NULL if refused.
 */
#define AUTOGROW_REGION (3 * SLOT)
static char *map_prepared_autogrow(int fd, size_t len, void **region)
{
	char *r = mmap(NULL, AUTOGROW_REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned, *p;

	if (r == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)r + SLOT - 1) & ~(SLOT - 1));
	/* Page tables for both slots the mapping lies in. */
	aligned[0] = 1;
	aligned[SLOT + 3 * SLOT / 4] = 1;
	p = mmap(aligned + SLOT / 2, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	*region = r;
	return p == MAP_FAILED ? NULL : p;
}

/* 1 when the reserved size is @size and every vdev holds its bytes up to SIZE and zeroes after. */
static int grown_to(FIXTURE_DATA(fi) *self, size_t size)
{
	char got[SIZE + 4 * PAGE];
	size_t check = size < sizeof(got) ? size : sizeof(got);
	struct vdmux_status st;
	int i;

	memset(got, 0, sizeof(got));

	if (get_status(self->ctl, &st) || st.reserved_size != size)
		return 0;
	for (i = 0; i < NR; i++)
		if (pread(self->fd[i], got, check, 0) != (ssize_t)check ||
		    memcmp(got, self->bytes[i], SIZE) || !all_zero(got + SIZE, check - SIZE) ||
		    pread(self->fd[i], got, PAGE, size - PAGE) != PAGE || !all_zero(got, PAGE))
			return 0;
	return 1;
}

/*
 * Where the growth tests store: the first byte of the second chunk, which
 * the growth must allocate (chunks are allocated by the first access to
 * each; the fixture's writes allocated the first).
 */
#define GROW_AT CHUNK
#define GROW_MAP (GROW_AT + 4 * PAGE)

/*
 * A store through an autogrow mapping past the reserved size, with every
 * allocation of this task failing: the growth cannot be allocated, the
 * store is SIGBUS, and nothing changed (size, generations, states, bytes).
 * Without failures the same store grows the device by its page.
 */
TEST_F(fi, growth_sigbus_when_allocation_fails)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct snapshot before;
	void *region;
	char *p;
	int i, ret;

	for (i = 1; i < 3; i++) {
		fill_pattern(self->bytes[i], SIZE, 0x58 + i);
		ASSERT_EQ(SIZE, pwrite(self->fd[i], self->bytes[i], SIZE, 0));
	}
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, set_autogrow(self->fd[1], 1));
	p = map_prepared_autogrow(self->fd[1], GROW_MAP, &region);
	ASSERT_NE(NULL, p);
	/* The pages inside the size are mapped already: only the growth is left to fault. */
	ASSERT_EQ(0, memcmp(p, self->bytes[1], SIZE));
	ASSERT_EQ(0, snap(self, &before));
	ASSERT_EQ(0, make_it_fail(1));
	ret = poke(p + GROW_AT + 8, 'g');
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(-SIGBUS, ret);
	EXPECT_TRUE(unchanged(self, &before));
	EXPECT_EQ(0, memcmp(p, self->bytes[1], SIZE));

	ASSERT_EQ(0, poke(p + GROW_AT + 8, 'g'));
	EXPECT_EQ('g', p[GROW_AT + 8]);
	p[GROW_AT + 8] = 0;
	EXPECT_TRUE(grown_to(self, GROW_AT + PAGE));
	munmap(region, AUTOGROW_REGION);
	ASSERT_EQ(0, do_resize(self, SIZE));
}

/*
 * Growing allocates nothing (a store's missing chunks read as zeros), so
 * with every allocation of this task failing SET_RESERVED_SIZE still grows,
 * and every vdev keeps its bytes, with zeros after them.
 */
TEST_F(fi, growing_allocates_nothing)
{
	char got[2 * SIZE];
	int i, ret;

	memset(got, 0, sizeof(got));

	/* Give every vdev bytes (and so a backing store) to keep. */
	for (i = 1; i < NR; i++) {
		fill_pattern(self->bytes[i], SIZE, 0x50 + i);
		ASSERT_EQ(SIZE, pwrite(self->fd[i], self->bytes[i], SIZE, 0));
	}
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 3)); /* a removed one too */
	ASSERT_EQ(0, make_it_fail(1));
	ret = do_resize(self, 2 * SIZE);
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(0, ret);

	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 3));
	for (i = 0; i < NR; i++) {
		ASSERT_EQ(2 * SIZE, pread(self->fd[i], got, 2 * SIZE, 0));
		EXPECT_EQ(0, memcmp(got, self->bytes[i], SIZE));
		EXPECT_TRUE(all_zero(got + SIZE, SIZE));
	}
	ASSERT_EQ(0, do_resize(self, SIZE));
}

/*
 * The first fault on vdev 1, whose backing store does not exist: with the
 * allocation failing, the access is SIGBUS, and the vdev is unchanged; the
 * next access, without failures, maps its (zero) bytes.
 */
TEST_F(fi, first_fault_sigbus_when_backing_store_fails)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct snapshot before;
	void *region;
	char *p, c = 1;
	int ret;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	p = map_prepared(self->fd[1], &region);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, snap(self, &before));
	ASSERT_EQ(0, make_it_fail(1));
	ret = touch(p + PAGE, &c);
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(-SIGBUS, ret);
	EXPECT_TRUE(unchanged(self, &before));

	ASSERT_EQ(0, touch(p + PAGE, &c));
	EXPECT_EQ(0, c);
	EXPECT_TRUE(all_zero(p, SIZE));
	munmap(region, PREPARED_REGION);
}

/*
 * write(2) to vdev 1, whose backing store does not exist: with the
 * allocation failing, ENOMEM, and nothing changed; without failures the
 * same write works.
 */
TEST_F(fi, write_enomem_when_backing_store_fails)
{
	struct snapshot before;
	char buf[SIZE], got[SIZE];
	ssize_t ret;
	int err;

	memset(buf, 0, sizeof(buf));
	memset(got, 0, sizeof(got));

	fill_tagged(buf, SIZE, 1, 0x51, 0);
	ASSERT_EQ(0, snap(self, &before));
	ASSERT_EQ(0, make_it_fail(1));
	ret = pwrite(self->fd[1], buf, SIZE, 0);
	err = errno;
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(ENOMEM, err);
	EXPECT_TRUE(unchanged(self, &before));

	ASSERT_EQ(SIZE, pwrite(self->fd[1], buf, SIZE, 0));
	ASSERT_EQ(SIZE, pread(self->fd[1], got, SIZE, 0));
	EXPECT_EQ(0, memcmp(got, buf, SIZE));
}

/*
 * write(2) of a chunk from the middle of vdev 0's first chunk, which exists,
 * into its second, which cannot be allocated: the first half lands and the
 * write returns its length, a short write; nothing lands past it. The rest
 * written again without failures lands too.
 */
TEST_F(fi, write_is_short_when_a_later_chunk_fails)
{
	const size_t chunk = CHUNK;
	char *buf = malloc(chunk), *got = malloc(chunk);
	ssize_t ret;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, do_resize(self, 2 * chunk));
	fill_tagged(buf, chunk, 0, 0x52, chunk / 2);
	ASSERT_EQ(0, make_it_fail(1));
	ret = pwrite(self->fd[0], buf, chunk, chunk / 2);
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(chunk / 2, ret);
	ASSERT_EQ(chunk, pread(self->fd[0], got, chunk, chunk / 2));
	EXPECT_TRUE(has_tagged(got, chunk / 2, 0, 0x52, chunk / 2));
	EXPECT_TRUE(all_zero(got + chunk / 2, chunk / 2));
	ASSERT_EQ(SIZE, pread(self->fd[0], got, SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->bytes[0], SIZE));

	ASSERT_EQ(chunk / 2, pwrite(self->fd[0], buf + chunk / 2, chunk / 2, chunk));
	ASSERT_EQ(chunk, pread(self->fd[0], got, chunk, chunk / 2));
	EXPECT_TRUE(has_tagged(got, chunk, 0, 0x52, chunk / 2));
	ASSERT_EQ(0, do_resize(self, SIZE));
	free(buf);
	free(got);
}

/*
 * SWITCH from vdev 0 must allocate vdev 0's backing store first, and EJECT
 * of the foreground too: with that failing, ENOMEM and nothing changed, not
 * even a mapping of vdev 0, which keeps showing its bytes.
 */
TEST_F(fi, switch_and_eject_enomem_change_nothing)
{
	struct snapshot before;
	char *p;
	int ret;

	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, memcmp(p, self->bytes[0], SIZE));
	ASSERT_EQ(0, snap(self, &before));

	ASSERT_EQ(0, make_it_fail(1));
	ret = vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1);
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(-ENOMEM, ret);
	EXPECT_TRUE(unchanged(self, &before));
	EXPECT_EQ(0, memcmp(p, self->bytes[0], SIZE));

	ASSERT_EQ(0, make_it_fail(1));
	ret = vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0);
	ASSERT_EQ(0, make_it_fail(0));
	EXPECT_EQ(-ENOMEM, ret);
	EXPECT_TRUE(unchanged(self, &before));
	EXPECT_EQ(0, memcmp(p, self->bytes[0], SIZE));

	/* Without failures both work, and the bytes follow. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(0, memcmp(p, self->bytes[0], SIZE));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ(0, memcmp(p, self->bytes[0], SIZE));
	munmap(p, SIZE);
}

/*
 * Another task's allocations fail while this one changes state. A child
 * process writes a page into a chunk that the vdev's store must allocate
 * for it, while the main task (whose allocations do not fail) SWITCHes to
 * that vdev or EJECTs it. In half of the rounds every allocation of the
 * child fails (make-it-fail on the child alone). A SWITCH or EJECT must
 * never fail: memory is not short for the task doing it. The child's write
 * is ENOMEM only when its own allocations fail, and then changes nothing;
 * otherwise it lands (or is ENODEV once its vdev is removed). Every vdev
 * then holds exactly its own bytes: none of another vdev's, none lost.
 *
 * The window is each state change's copy between its allocations and its
 * commit. Before each round the foreground's store gets chunks 1 and 2 (so
 * that the save of the SWITCH or EJECT copies three chunks) but not chunk 3,
 * where the child writes: a store that gained chunk 3 after the state
 * change allocated its copy's chunks could not be copied whole. The child
 * starts its write at a random point within the state change's last
 * duration, once the main task has entered it; each kind of round must
 * have overlapped at least once, or nothing was tested.
 */
#define ST_SIZE (4 * ST_CHUNK)	/* four chunks */
#define ST_CHUNK CHUNK
#define ST_AT (3 * ST_CHUNK + 8 * PAGE)
#define ST_LEN PAGE
#define ST_ROUNDS 24

enum st_kind { ST_SWITCH, ST_SWITCH_FAILING, ST_EJECT, ST_EJECT_FAILING, ST_KINDS };

static const char *const st_kind_name[ST_KINDS] = {
	"SWITCH", "SWITCH, child failing", "EJECT", "EJECT, child failing",
};

/* Shared between the main task and the child. */
struct st_shared {
	volatile uint64_t changing;	/* odd while the main task is in its ioctl */
	volatile int round;		/* the round the child is to run (0: none yet) */
	volatile int done;		/* the last round the child finished */
	volatile int quit;
	/* The round's job. */
	int vdev, armed;
	unsigned int seed;
	double max_delay;
	/* The child's answer. */
	ssize_t ret;
	int err, overlapped, child_bad;
};

static void st_child(struct st_shared *sh)
{
	char buf[ST_LEN];
	char path[64];
	struct rng r;
	int seen = 0, fd[NR], i;

	memset(buf, 0, sizeof(buf));

	rng_seed(&r, getpid());
	for (i = 0; i < NR; i++) {
		fd[i] = open_vdev(i, O_RDWR);
		if (fd[i] < 0)
			_exit(2);
	}
	/* The file of this process, not of the parent's. */
	close(make_it_fail_fd);
	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", getpid());
	make_it_fail_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (make_it_fail_fd < 0)
		_exit(3);
	for (;;) {
		uint64_t c0, c1;
		double until;

		while (sh->round == seen && !sh->quit)
			sched_yield();
		if (sh->quit)
			break;
		seen = sh->round;
		fill_tagged(buf, ST_LEN, sh->vdev, sh->seed, ST_AT);
		/* Once the main task is in its ioctl (or past it), at a random moment of it. */
		while (sh->changing == 0 || (sh->changing & 1) == 0) {
			if (sh->changing >= 2 * (uint64_t)seen)
				break;
			sched_yield();
		}
		until = now_s() + sh->max_delay * rng_below(&r, 1000) / 1000;
		while (now_s() < until)
			;
		c0 = sh->changing;
		if (sh->armed && make_it_fail(1))
			sh->child_bad++;
		sh->ret = pwrite(fd[sh->vdev], buf, ST_LEN, ST_AT);
		sh->err = errno;
		if (sh->armed && make_it_fail(0))
			sh->child_bad++;
		c1 = sh->changing;
		sh->overlapped = (c0 & 1) || c1 != c0;
		__atomic_store_n(&sh->done, seen, __ATOMIC_SEQ_CST);
	}
	_exit(0);
}

/*
 * Says where vdev @v's bytes first differ from @want, and what is there:
 * zeros (a write lost), or another vdev's pattern of a round up to @round.
 */
static void st_report(struct __test_metadata *_metadata, int v, int round, const char *got,
		      const char *want)
{
	uint64_t word;
	size_t off;
	int w, r;

	for (off = 0; off < ST_SIZE && got[off] == want[off]; off++)
		;
	if (off == ST_SIZE)
		return;
	off &= ~7UL;
	word = *(const uint64_t *)(got + off);
	for (w = 0; w < NR; w++)
		for (r = 1; r <= round; r++)
			if (word == pattern_word(w, r, off)) {
				TH_LOG("vdev %d at offset %zu: vdev %d's bytes of round %d", v, off,
				       w, r);
				return;
			}
	TH_LOG("vdev %d at offset %zu: %s", v, off, word ? "other bytes" : "zeros (lost)");
}

TEST_F(fi, another_tasks_failing_allocations_during_state_changes)
{
	char *got = malloc(ST_SIZE);
	char *want[NR];
	struct st_shared *sh;
	int overlaps[ST_KINDS] = { 0 }, rounds[ST_KINDS] = { 0 };
	int fg = 0, round, i, status, bad_ops = 0, bad_child = 0, bad_bytes = 0;
	double last = 0.05;
	pid_t pid;

	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, write_text(DEBUGFS "/failslab/times", "-1"));
	ASSERT_EQ(0, write_text(DEBUGFS "/fail_page_alloc/times", "-1"));
	for (i = 0; i < NR; i++) {
		want[i] = calloc(1, ST_SIZE);
		ASSERT_NE(NULL, want[i]);
		memcpy(want[i], self->bytes[i], SIZE);
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		st_child(sh);

	for (round = 1; round <= ST_ROUNDS; round++) {
		enum st_kind kind = (round - 1) % ST_KINDS;
		int eject = kind == ST_EJECT || kind == ST_EJECT_FAILING;
		int to = (fg + 1) % NR, ret, c;
		double t0;
		size_t at;

		/* Every chunk past the first freed; the foreground gets chunks 1 and 2. */
		ASSERT_EQ(0, do_resize(self, ST_CHUNK));
		ASSERT_EQ(0, do_resize(self, ST_SIZE));
		for (i = 0; i < NR; i++)
			memset(want[i] + ST_CHUNK, 0, ST_SIZE - ST_CHUNK);
		for (c = 1; c <= 2; c++) {
			at = c * ST_CHUNK;
			fill_tagged(want[fg] + at, ST_CHUNK, fg, round, at);
			ASSERT_EQ(ST_CHUNK, pwrite(self->fd[fg], want[fg] + at, ST_CHUNK, at));
		}

		sh->vdev = eject ? fg : to;
		sh->armed = kind == ST_SWITCH_FAILING || kind == ST_EJECT_FAILING;
		sh->seed = round;
		sh->max_delay = last;
		__atomic_store_n(&sh->round, round, __ATOMIC_SEQ_CST);
		t0 = now_s();
		__atomic_add_fetch(&sh->changing, 1, __ATOMIC_SEQ_CST);
		ret = vdmux_ioc(self->ctl, eject ? VDMUX_IOC_EJECT : VDMUX_IOC_SWITCH,
				eject ? fg : to);
		__atomic_add_fetch(&sh->changing, 1, __ATOMIC_SEQ_CST);
		last = now_s() - t0;
		for (t0 = now_s() + 30; __atomic_load_n(&sh->done, __ATOMIC_SEQ_CST) != round;) {
			ASSERT_LT(now_s(), t0) TH_LOG("round %d: the child did not answer", round);
			usleep(100);
		}

		/* Memory was never short for this task. */
		if (ret) {
			bad_ops++;
			TH_LOG("round %d (%s): %d", round, st_kind_name[kind], ret);
		}
		/* ENOMEM only when the child's allocations failed; ENODEV only once removed. */
		if (sh->ret == ST_LEN) {
			fill_tagged(want[sh->vdev] + ST_AT, ST_LEN, sh->vdev, round, ST_AT);
		} else if (!(sh->ret == -1 && ((sh->err == ENOMEM && sh->armed) ||
					       (sh->err == ENODEV && eject)))) {
			bad_child++;
			TH_LOG("round %d (%s): the child's write returned %zd, errno %d", round,
			       st_kind_name[kind], sh->ret, sh->err);
		}
		rounds[kind]++;
		overlaps[kind] += sh->overlapped;

		if (eject && !ret) {
			ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, fg));
			ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, fg));
		} else if (!ret) {
			fg = to;
		}
		for (i = 0; i < NR; i++) {
			ASSERT_EQ(ST_SIZE, pread(self->fd[i], got, ST_SIZE, 0));
			if (memcmp(got, want[i], ST_SIZE)) {
				bad_bytes++;
				TH_LOG("round %d (%s):", round, st_kind_name[kind]);
				st_report(_metadata, i, round, got, want[i]);
				/* Go on from what is there. */
				memcpy(want[i], got, ST_SIZE);
			}
		}
	}
	sh->quit = 1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, sh->child_bad);
	for (i = 0; i < ST_KINDS; i++) {
		ksft_print_msg("%s: %d rounds, the child's write overlapped %d\n",
			       st_kind_name[i], rounds[i], overlaps[i]);
		EXPECT_LT(0, overlaps[i]) TH_LOG("%s: the window was never hit", st_kind_name[i]);
	}
	EXPECT_EQ(0, bad_ops);
	EXPECT_EQ(0, bad_child);
	EXPECT_EQ(0, bad_bytes);
	ASSERT_EQ(0, do_resize(self, SIZE));
	for (i = 0; i < NR; i++)
		free(want[i]);
	free(got);
	munmap(sh, sizeof(*sh));
}

/*
 * fail-nth fails only the Nth allocation of this thread. Sweeping N from 1
 * until the operation no longer reaches an Nth allocation fails each of its
 * allocation sites once, and every failure must be clean. Some failures
 * the kernel recovers from (kmemleak's metadata falls back to its pool,
 * vmalloc's bulk page allocation to single pages): then the operation
 * succeeds, and the sweep goes on from an equivalent fresh state.
 */
#define SWEEP_VDEVS 64

static int fail_nth_fd = -1;

static int arm_nth(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (n)
		prefault();
	return pwrite(fail_nth_fd, buf, len, 0) == len ? 0 : -1;
}

/* 0 when the Nth allocation was reached (and failed), 1 when not. */
static int nth_left(void)
{
	char buf[16] = "";

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	arm_nth(0);
	return atoi(buf) != 0;
}

struct sweep {
	int sites;	/* allocations failed */
	int recovered;	/* of which the operation survived */
	int bad;	/* failures that were not clean */
	int done;	/* the sweep reached past the last site */
};

/* The states of all SWEEP_VDEVS, plus the bytes of the two that have some. */
struct big_snapshot {
	struct vdmux_status st[SWEEP_VDEVS + 1];
};

static int big_snap(int *fd, int ctl, struct big_snapshot *s)
{
	int i;

	if (get_status(ctl, &s->st[SWEEP_VDEVS]))
		return -1;
	for (i = 0; i < SWEEP_VDEVS; i++)
		if (get_status(fd[i], &s->st[i]))
			return -1;
	return 0;
}

static int big_unchanged(int *fd, int ctl, const struct big_snapshot *before,
			 const char *bytes0)
{
	char got[2 * SIZE];
	struct big_snapshot now;
	size_t len = before->st[SWEEP_VDEVS].reserved_size;

	memset(got, 0, sizeof(got));

	if (big_snap(fd, ctl, &now) || memcmp(&now, before, sizeof(now)))
		return 0;
	/* Vdev 0 holds bytes0, every other vdev zeroes. */
	for (int i = 0; i < SWEEP_VDEVS; i++) {
		if (pread(fd[i], got, len, 0) != (ssize_t)len)
			return 0;
		if (i == 0 ? memcmp(got, bytes0, SIZE) || !all_zero(got + SIZE, len - SIZE)
			   : !all_zero(got, len))
			return 0;
	}
	return 1;
}

/* 64 vdevs: each fresh one has no backing store to start from. */
FIXTURE(sweep)
{
	int ctl;
	int fd[SWEEP_VDEVS];
	struct saved_attrs saved;
};

FIXTURE_SETUP(sweep)
{
	int i;

	if (access(fault_dirs[0], F_OK) || access(fault_dirs[1], F_OK))
		SKIP(return, "kernel without failslab or fail_page_alloc");
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fail_nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth");
	kmsg_mark(_metadata->name);
	ASSERT_EQ(0, restore_module_defaults());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("nr_vdevs=64 max_reserved_size=32768"));
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
	for (i = 0; i < SWEEP_VDEVS; i++) {
		self->fd[i] = open_vdev(i, O_RDWR);
		ASSERT_LE(0, self->fd[i]);
	}
	/* fail-nth looks at the ignore-* attributes, not at task-filter or probability. */
	configure(_metadata, &self->saved);
	/* See restrict_to_vdmux(); the kcsan kernel cannot filter by stack. */
	if (!access(DEBUGFS "/failslab/require-start", F_OK))
		ASSERT_EQ(0, restrict_to_vdmux(_metadata, &self->saved));
}

/* In the parent, once every file and mapping of the test is gone. */
FIXTURE_TEARDOWN_PARENT(sweep)
{
	restore(&self->saved);
	restore_module_defaults();
}

TEST_F(sweep, every_allocation_of_fault_switch_and_eject_fails_cleanly)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct sweep fault = { 0 }, sw = { 0 }, ej = { 0 };
	char bytes0[SIZE];
	struct big_snapshot before;
	int *fd = self->fd, ctl = self->ctl, n, ret, left, next = 1;
	char *p, c;
	void *region;

	memset(bytes0, 0, sizeof(bytes0));

	fill_pattern(bytes0, SIZE, 0x70);
	ASSERT_EQ(SIZE, pwrite(fd[0], bytes0, SIZE, 0));
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	/* The first fault on a vdev without a backing store: SIGBUS. */
	p = map_prepared(fd[next], &region);
	ASSERT_NE(NULL, p);
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, big_snap(fd, ctl, &before));
		ASSERT_EQ(0, arm_nth(n));
		ret = touch(p, &c);
		left = nth_left();
		if (left) {
			fault.bad += ret != 0;
			fault.done = 1;
			break;
		}
		fault.sites++;
		if (!ret) {
			/* Survived: on to the next fresh vdev, at the next site. */
			fault.recovered++;
			fault.bad += !all_zero(p, SIZE);
			munmap(region, PREPARED_REGION);
			ASSERT_GT(SWEEP_VDEVS, ++next);
			p = map_prepared(fd[next], &region);
			ASSERT_NE(NULL, p);
			continue;
		}
		fault.bad += ret != -SIGBUS || !big_unchanged(fd, ctl, &before, bytes0);
	}
	munmap(region, PREPARED_REGION);

	/*
	 * SWITCH from a foreground without a backing store. After a switch that
	 * survived, the new foreground has none either: switch on from it.
	 */
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_GT(SWEEP_VDEVS, ++next);
		ASSERT_EQ(0, big_snap(fd, ctl, &before));
		ASSERT_EQ(0, arm_nth(n));
		ret = vdmux_ioc(ctl, VDMUX_IOC_SWITCH, next);
		left = nth_left();
		if (left) {
			sw.bad += ret != 0;
			sw.done = 1;
			break;
		}
		sw.sites++;
		if (!ret) {
			sw.recovered++;
			continue;
		}
		next--;
		sw.bad += ret != -ENOMEM || !big_unchanged(fd, ctl, &before, bytes0);
	}

	/*
	 * EJECT of a foreground without a backing store (the last switch's
	 * new foreground): it must allocate one to save the bytes into. After
	 * an eject that survived, insert it back and switch to a fresh vdev,
	 * again a foreground without one.
	 */
	for (n = 1; n < MAX_SITES; n++) {
		struct vdmux_status st;

		ASSERT_EQ(0, get_status(ctl, &st));
		ASSERT_EQ(next, st.foreground);
		ASSERT_EQ(0, big_snap(fd, ctl, &before));
		ASSERT_EQ(0, arm_nth(n));
		ret = vdmux_ioc(ctl, VDMUX_IOC_EJECT, next);
		left = nth_left();
		if (left) {
			ej.bad += ret != 0;
			ej.done = 1;
			break;
		}
		ej.sites++;
		if (!ret) {
			ej.recovered++;
			ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_INSERT, next));
			ASSERT_GT(SWEEP_VDEVS, ++next);
			ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, next));
			continue;
		}
		ej.bad += ret != -ENOMEM || !big_unchanged(fd, ctl, &before, bytes0);
	}

	ksft_print_msg("allocations failed in turn: first fault %d (%d survived), SWITCH %d (%d), "
		       "EJECT %d (%d)\n", fault.sites, fault.recovered, sw.sites, sw.recovered,
		       ej.sites, ej.recovered);
	EXPECT_EQ(0, fault.bad);
	EXPECT_EQ(0, sw.bad);
	EXPECT_EQ(0, ej.bad);
	EXPECT_TRUE(fault.done);
	EXPECT_TRUE(sw.done);
	EXPECT_TRUE(ej.done);
	EXPECT_LT(fault.recovered, fault.sites);
	EXPECT_LT(sw.recovered, sw.sites);
	EXPECT_LT(ej.recovered, ej.sites);
}

/*
 * A mapping of @fd (SIZE bytes at offset 0) alone in its SLOT, whose page
 * table does not exist yet while the table above it does: the next slot of
 * the same two holds a touched anonymous page. The first page table a fault
 * or a POPULATE allocates for it is vdmux's.
 */
#define BARE_REGION (4 * SLOT)
static char *map_without_page_table(int fd, void **region)
{
	char *r = mmap(NULL, BARE_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned, *p;

	if (r == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)r + 2 * SLOT - 1) & ~(2 * SLOT - 1));
	aligned[SLOT] = 1;
	p = mmap(aligned, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	*region = r;
	return p == MAP_FAILED ? NULL : p;
}

/*
 * A fault of vdmux's whose page table cannot be allocated returns
 * VM_FAULT_OOM (Documentation/design.md). The kernel retries a user
 * access after such a fault, logging that the OOM leaked out (which fails
 * the run); a copy by the kernel into the mapping stops there instead, and
 * its system call fails with EFAULT. Here read(2) from a pipe into a
 * mapping of vdev 0, whose chunk exists: fail-nth, kept to vdmux's stack,
 * fails its first allocation, which is that page table. The pipe keeps its
 * bytes, nothing of the vdevs changed, and the fault was no fault served;
 * the same read without the failure lands the bytes.
 */
TEST_F(sweep, page_table_failure_in_a_kernel_copy_is_efault)
{
	char bytes0[SIZE], msg[PAGE], got[PAGE];
	struct big_snapshot before;
	struct fault_counts c0, c1;
	struct fault_trace trace;
	int *fd = self->fd, pipefd[2], err, left;
	long traced;
	void *region;
	ssize_t ret;
	char *p;

	memset(bytes0, 0, sizeof(bytes0));
	memset(msg, 0, sizeof(msg));
	memset(got, 0, sizeof(got));

	if (!self->saved.restricted)
		SKIP(return, "kernel without FAULT_INJECTION_STACKTRACE_FILTER");
	fill_pattern(bytes0, SIZE, 0x70);
	ASSERT_EQ(SIZE, pwrite(fd[0], bytes0, SIZE, 0));
	p = map_without_page_table(fd[0], &region);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC | O_NONBLOCK));
	fill_tagged(msg, PAGE, 0, 0x77, PAGE);
	ASSERT_EQ(PAGE, write(pipefd[1], msg, PAGE));
	ASSERT_EQ(0, big_snap(fd, self->ctl, &before));
	c0 = fault_counts(fd[0]);
	ASSERT_EQ(0, fault_trace_open(&trace, fd[0]));
	ASSERT_EQ(0, arm_nth(1));
	ret = read(pipefd[0], p + PAGE, PAGE);
	err = errno;
	left = nth_left();
	traced = fault_trace_close(&trace);
	c1 = fault_counts(fd[0]);
	EXPECT_EQ(0, left) TH_LOG("no allocation of vdmux's was reached");
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, err);
	EXPECT_TRUE(big_unchanged(fd, self->ctl, &before, bytes0));
	EXPECT_EQ(0, traced);
	EXPECT_EQ(c0.pages, c1.pages);
	EXPECT_EQ(c0.huge, c1.huge);

	/* Without the failure: one fault, which maps the page, and the bytes land. */
	EXPECT_FAULTS(fd[0], 1, 0, EXPECT_EQ(PAGE, read(pipefd[0], p + PAGE, PAGE)));
	EXPECT_EQ(0, memcmp(p + PAGE, msg, PAGE));
	ASSERT_EQ(PAGE, pread(fd[0], got, PAGE, PAGE));
	EXPECT_EQ(0, memcmp(got, msg, PAGE));
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(region, BARE_REGION);
}

/*
 * Every allocation of a POPULATE of a fresh vdev fails in turn, kept to
 * vdmux's stack (fail-nth): the chunk of its store, then the page table of
 * its mapping, which lies in a slot without one. Each failure is
 * ENOMEM and changes nothing that a process sees: states, generations,
 * bytes, and the mapping still reads zeros. One that survives (vmalloc
 * falls back from its bulk allocation) mapped the range, and the sweep
 * goes on with a fresh vdev. A failure after the chunk was allocated (the
 * kernel's list of vmalloc areas holds it) is the page table's, and there
 * must be one. Up to SWEEPS sweeps, each on fresh vdevs, as for a growth.
 */
TEST_F(sweep, every_allocation_of_populate_fails_cleanly)
{
	char bytes0[SIZE], got[SIZE];
	struct chunk_areas a0, a1;
	struct big_snapshot before;
	int *fd = self->fd, ctl = self->ctl, n, ret, left, round, next = 1;
	int reached = 0, table_failures = 0;
	void *region;
	char *p;

	memset(bytes0, 0, sizeof(bytes0));
	memset(got, 0, sizeof(got));

	if (!self->saved.restricted)
		SKIP(return, "kernel without FAULT_INJECTION_STACKTRACE_FILTER");
	fill_pattern(bytes0, SIZE, 0x70);
	ASSERT_EQ(SIZE, pwrite(fd[0], bytes0, SIZE, 0));
	for (round = 1; round <= SWEEPS && !(reached && table_failures); round++) {
		struct sweep pop = { 0 };
		int tables = 0;

		p = map_without_page_table(fd[next], &region);
		ASSERT_NE(NULL, p);
		for (n = 1; n < MAX_SITES; n++) {
			ASSERT_EQ(0, big_snap(fd, ctl, &before));
			ASSERT_EQ(0, chunk_areas(SIZE, &a0));
			ASSERT_EQ(0, arm_nth(n));
			ret = populate(fd[next], p, SIZE);
			left = nth_left();
			if (left) {
				pop.bad += ret != 0;
				pop.done = 1;
				break;
			}
			pop.sites++;
			if (!ret) {
				/* Survived: on to the next fresh vdev, at the next site. */
				pop.recovered++;
				EXPECT_FAULTS(fd[next], 0, 0, pop.bad += !all_zero(p, SIZE));
				munmap(region, BARE_REGION);
				ASSERT_GT(SWEEP_VDEVS, ++next);
				p = map_without_page_table(fd[next], &region);
				ASSERT_NE(NULL, p);
				continue;
			}
			ASSERT_EQ(0, chunk_areas(SIZE, &a1));
			/* The chunk is a block or single pages, as free memory has it. */
			if (a1.small + a1.block == a0.small + a0.block + 1)
				tables++;
			pop.bad += ret != -ENOMEM || !big_unchanged(fd, ctl, &before, bytes0);
			if (ret != -ENOMEM)
				TH_LOG("allocation %d: POPULATE returned %d", n, ret);
		}
		/* The mapping reads the vdev's zeros, and the page fault maps them. */
		ASSERT_EQ(SIZE, pread(fd[next], got, SIZE, 0));
		EXPECT_TRUE(all_zero(got, SIZE));
		EXPECT_TRUE(all_zero(p, SIZE));
		munmap(region, BARE_REGION);
		ksft_print_msg("sweep %d: allocations failed in turn: POPULATE %d (%d survived), "
			       "%d of them its page table's\n", round, pop.sites, pop.recovered, tables);
		EXPECT_EQ(0, pop.bad);
		EXPECT_TRUE(pop.done);
		reached += pop.recovered < pop.sites;
		table_failures += tables;
		/* The next sweep populates a fresh vdev. */
		ASSERT_GT(SWEEP_VDEVS, ++next);
	}
	/* Else the sweeps failed only absorbed allocations, or never the table. */
	EXPECT_NE(0, reached);
	EXPECT_LE(1, table_failures);
}

/*
 * Every allocation of SET_RESERVED_SIZE, with every vdev holding bytes:
 * growing has none to fail, whatever the vdevs hold.
 */
TEST_F(fi, every_allocation_of_resize_fails_cleanly)
{
	struct sweep resize = { 0 };
	struct snapshot before;
	char got[2 * SIZE];
	int n, ret, left, i;

	memset(got, 0, sizeof(got));

	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fail_nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth");
	for (i = 1; i < NR; i++) {
		fill_pattern(self->bytes[i], SIZE, 0x60 + i);
		ASSERT_EQ(SIZE, pwrite(self->fd[i], self->bytes[i], SIZE, 0));
	}
	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, snap(self, &before));
		ASSERT_EQ(0, arm_nth(n));
		ret = do_resize(self, 2 * SIZE);
		left = nth_left();
		if (left) {
			resize.bad += ret != 0;
			resize.done = 1;
			break;
		}
		resize.sites++;
		if (!ret) {
			/* Survived: check, shrink back, go on at the next site. */
			resize.recovered++;
			for (i = 0; i < NR; i++)
				resize.bad += pread(self->fd[i], got, 2 * SIZE, 0) != 2 * SIZE ||
					      memcmp(got, self->bytes[i], SIZE) ||
					      !all_zero(got + SIZE, SIZE);
			ASSERT_EQ(0, do_resize(self, SIZE));
			continue;
		}
		resize.bad += ret != -ENOMEM || !unchanged(self, &before);
	}
	ksft_print_msg("allocations failed in turn: SET_RESERVED_SIZE %d (%d survived)\n",
		       resize.sites, resize.recovered);
	EXPECT_EQ(0, resize.bad);
	EXPECT_TRUE(resize.done);
	/* Only notifications allocate, and their failure fails nothing. */
	EXPECT_EQ(resize.sites, resize.recovered);
	ASSERT_EQ(0, do_resize(self, SIZE));
	close(fail_nth_fd);
}

/*
 * Every allocation of a growth fails in turn (fail-nth), kept to those with
 * vdmux's code on their stack: each store whose growth fails is SIGBUS and
 * changes nothing; one that survives the failure (an order-9 block's
 * failure falls back to single pages) grew the device by its page, which
 * a resize takes back before the next.
 *
 * Which call is the nth is not fixed: the kernel's own allocations under
 * vdmux's calls (a slab's new page, kmemleak's record of an object) come
 * and go with the state of its caches, so one sweep may fail only ones
 * that a fallback absorbs. Up to SWEEPS sweeps run, each judged whole, and
 * one must reach an allocation whose failure user space sees.
 */
TEST_F(fi, every_allocation_of_a_growth_fails_cleanly)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct snapshot before;
	int n, ret, left, i, round, reached = 0;
	void *region;
	char *p;

	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fail_nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth");
	if (access(DEBUGFS "/failslab/require-start", F_OK))
		SKIP(return, "kernel without FAULT_INJECTION_STACKTRACE_FILTER");
	ASSERT_EQ(0, restrict_to_vdmux(_metadata, &self->saved));
	for (i = 1; i < NR; i++) {
		fill_pattern(self->bytes[i], SIZE, 0x68 + i);
		ASSERT_EQ(SIZE, pwrite(self->fd[i], self->bytes[i], SIZE, 0));
	}
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, set_autogrow(self->fd[2], 1));
	for (round = 1; round <= SWEEPS && !reached; round++) {
		struct sweep grow = { 0 };

		p = map_prepared_autogrow(self->fd[2], GROW_MAP, &region);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, memcmp(p, self->bytes[2], SIZE));
		for (n = 1; n < MAX_SITES; n++) {
			ASSERT_EQ(0, snap(self, &before));
			ASSERT_EQ(0, arm_nth(n));
			ret = poke(p + GROW_AT + 2 * PAGE, 0);
			left = nth_left();
			if (left) {
				grow.bad += ret != 0 || !grown_to(self, GROW_AT + 3 * PAGE);
				grow.done = 1;
				break;
			}
			grow.sites++;
			if (!ret) {
				/* Survived: check, take the growth back, go on at the next site. */
				grow.recovered++;
				grow.bad += !grown_to(self, GROW_AT + 3 * PAGE);
				munmap(region, AUTOGROW_REGION);
				ASSERT_EQ(0, do_resize(self, SIZE));
				p = map_prepared_autogrow(self->fd[2], GROW_MAP, &region);
				ASSERT_NE(NULL, p);
				ASSERT_EQ(0, memcmp(p, self->bytes[2], SIZE));
				continue;
			}
			grow.bad += ret != -SIGBUS || !unchanged(self, &before);
		}
		ksft_print_msg("sweep %d: allocations failed in turn: growth %d (%d survived)\n",
			       round, grow.sites, grow.recovered);
		EXPECT_EQ(0, grow.bad);
		EXPECT_TRUE(grow.done);
		if (grow.recovered < grow.sites)
			reached = round;
		munmap(region, AUTOGROW_REGION);
		ASSERT_EQ(0, do_resize(self, SIZE));
	}
	/* Else every failure was absorbed, and none was seen to fail cleanly. */
	EXPECT_NE(0, reached);
	close(fail_nth_fd);
}

/*
 * No PMD block of pages to be had (every allocation of the PMD order or
 * more fails): the chunk a first access allocates is on single pages, and
 * the bytes work through mappings, read and a SWITCH as with any chunk. The
 * test uses the second chunk of a buffer of two: the fixture's writes
 * allocated the first. That the chunk is on single pages, the kernel's list
 * of vmalloc areas says, not the driver. Skipped where a chunk holds no PMD
 * block: no block is tried then.
 */
TEST_F(fi, huge_page_failure_falls_back_to_small_pages)
{
	const size_t size = PMD_BLOCK;
	struct fault_counts before, after;
	struct chunk_areas areas0, areas1;
	struct fault_trace trace;
	long blocks, first, traced;
	char times[32], order[16];
	char *p, *got, *want;
	int ret;

	if (!chunks_hold_pmd())
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	got = malloc(size);
	want = malloc(size);
	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	/* The PMD order: 9 with 4 KiB pages. */
	snprintf(order, sizeof(order), "%d", __builtin_ctzl(size / PAGE));
	ASSERT_EQ(0, do_resize(self, 2 * size));
	first = huge_blocks(self->fd[0]);
	ASSERT_EQ(0, chunk_areas(size, &areas0));
	ASSERT_EQ(0, write_text(DEBUGFS "/failslab/probability", "0"));
	ASSERT_EQ(0, write_text(DEBUGFS "/fail_page_alloc/min-order", order));
	ASSERT_EQ(0, make_it_fail(1));
	ret = pwrite(self->fd[0], "", 1, size) == 1 ? 0 : -errno;
	ASSERT_EQ(0, make_it_fail(0));
	ASSERT_EQ(0, ret);
	/* Some allocation of the PMD order was tried and failed. */
	ASSERT_EQ(0, read_first_line(DEBUGFS "/fail_page_alloc/times", times, sizeof(times)));
	EXPECT_GT(100, atoi(times));
	/* The new chunk is a vmalloc area of single pages, not a block. */
	ASSERT_EQ(0, chunk_areas(size, &areas1));
	EXPECT_EQ(areas0.small + 1, areas1.small);
	EXPECT_EQ(areas0.block, areas1.block);
	/*
	 * Its single pages may still happen to be physically contiguous and
	 * aligned (on a quiet guest the page allocator often hands them out
	 * in order), and then the block is mapped with one PMD entry like any
	 * contiguous block: the model's rule (Documentation/design.md). What must hold is that fdinfo's
	 * count and the faults agree, as the driver counts them and as the
	 * kernel does: a block that fdinfo counts is mapped by one PMD
	 * fault, one that it does not by page faults of 16 pages each.
	 */
	blocks = huge_blocks(self->fd[0]) - first;
	EXPECT_TRUE(blocks == 0 || blocks == 1) TH_LOG("%ld huge blocks", blocks);
	ksft_print_msg("the chunk of single pages is %s\n",
		       blocks ? "contiguous: mapped with a PMD entry" : "mapped with page entries");

	p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, p);
	/* An aligned address for the second block, as a PMD entry needs. */
	ASSERT_EQ(0, munmap(p, 2 * size));
	p = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	p = (char *)(((uintptr_t)p + size - 1) & ~(size - 1));
	ASSERT_EQ(p, mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, self->fd[0], size));
	fill_pattern(want, size, 0x70);
	before = fault_counts(self->fd[0]);
	ASSERT_EQ(0, fault_trace_open(&trace, self->fd[0]));
	memcpy(p, want, size);
	traced = fault_trace_close(&trace);
	after = fault_counts(self->fd[0]);
	EXPECT_EQ(blocks, after.huge - before.huge);
	EXPECT_EQ(blocks ? 0 : size / PAGE / 16, after.pages - before.pages);
	EXPECT_EQ(blocks ? 1 : size / PAGE / 16, traced);
	ASSERT_EQ(size, pread(self->fd[0], got, size, size));
	EXPECT_EQ(0, memcmp(got, want, size));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(has_pattern(p, size, 0x70));
	/* vdev 0's backing store, allocated by the switch without failures, may be huge. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_pattern(p, size, 0x70));
	/* Back in the same device memory. */
	EXPECT_EQ(blocks + first, huge_blocks(self->fd[0]));
	EXPECT_EQ(0, munmap(p, size));
	ASSERT_EQ(0, do_resize(self, SIZE));
	free(got);
	free(want);
}

int main(int argc, char **argv)
{
	set_test_timeouts(180);
	return test_harness_run(argc, argv);
}
