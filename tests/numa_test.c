// SPDX-License-Identifier: GPL-2.0
/*
 * Where a store's memory comes from on a machine with two NUMA nodes: a
 * chunk is allocated by the task that first needs it (a store through
 * write(2) or a mapping, or the SWITCH that saves the old foreground), and
 * its pages come from the node that task's memory policy picks.
 *
 * The oracle is the kernel's per-node accounting (/proc/zoneinfo), not the
 * driver: a task bound to one node allocates 32 MiB of a store, and that
 * node's free memory must drop by at least three quarters of that while
 * the other's drops by under an eighth.
 */
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define MIB (1UL << 20)
#define SIZE (32 * MIB)
#define MPOL_DEFAULT 0
#define MPOL_BIND 2

/* Binds this task's future allocations to @node (-1: the default policy). */
static int bind_to_node(int node)
{
	unsigned long mask = node < 0 ? 0 : 1UL << node;

	if (node < 0)
		return syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	return syscall(SYS_set_mempolicy, MPOL_BIND, &mask, sizeof(mask) * 8);
}

/*
 * The free memory of @node in KiB, -1 if unknown: its zones' free pages
 * and the pages their per-CPU lists hold, which the free count leaves out
 * and an allocation takes first (/proc/zoneinfo).
 */
static long node_free_kib(int node)
{
	long pages = 0, n;
	int in_node = 0, zones = 0, id;
	char line[256];
	FILE *f;

	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone", &id) == 1) {
			in_node = id == node;
			zones += in_node;
		} else if (in_node && (sscanf(line, " pages free %ld", &n) == 1 ||
				       sscanf(line, " count: %ld", &n) == 1)) {
			pages += n;
		}
	}
	fclose(f);
	return zones ? pages * (getpagesize() / 1024) : -1;
}

struct node_use {
	long used_kib[2];	/* how much each node's free memory dropped */
};

static void drain(void)
{
	/* Per-CPU page lists hold freed pages back from the counts. */
	write_text("/proc/sys/vm/drop_caches", "3");
	write_text("/proc/sys/vm/compact_memory", "1");
}

static struct node_use measure(struct __test_metadata *_metadata, int node,
			       int (*action)(void *), void *arg)
{
	struct node_use use = { { -1, -1 } };
	long before[2], after[2];

	drain();
	before[0] = node_free_kib(0);
	before[1] = node_free_kib(1);
	EXPECT_EQ(0, bind_to_node(node));
	EXPECT_EQ(0, action(arg));
	EXPECT_EQ(0, bind_to_node(-1));
	after[0] = node_free_kib(0);
	after[1] = node_free_kib(1);
	for (int n = 0; n < 2; n++)
		use.used_kib[n] = before[n] - after[n];
	TH_LOG("bound to node %d: node 0 gave %ld KiB, node 1 %ld KiB", node, use.used_kib[0],
	       use.used_kib[1]);
	return use;
}

/*
 * The store's chunks take at least three quarters of SIZE from @node's free
 * pages and under an eighth from the other's: not all of it, as the rest of
 * the system allocates and frees meanwhile.
 */
#define EXPECT_ON_NODE(use, node)                                                    \
	do {                                                                         \
		EXPECT_LE((long)(SIZE / 1024 * 3 / 4), (use).used_kib[node]);        \
		EXPECT_GT((long)(SIZE / 1024 / 8), (use).used_kib[1 - (node)]);      \
	} while (0)

FIXTURE(numa)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
	char *buf;
};

FIXTURE_SETUP(numa)
{
	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "a single NUMA node");
	/* A fresh load: no store has a chunk yet, so every one is counted. */
	ASSERT_EQ(0, restore_module_defaults());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, set_reserved(SIZE));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
	self->buf = malloc(SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, SIZE, 9);
}

FIXTURE_TEARDOWN(numa)
{
	free(self->buf);
	close_nodes(self->ctl, self->fd);
	reset_device();
}

struct write_arg {
	int fd;
	const char *buf;
};

static int write_all(void *p)
{
	struct write_arg *w = p;

	return pwrite(w->fd, w->buf, SIZE, 0) == (ssize_t)SIZE ? 0 : -1;
}

/* A background store's chunks come from the writer's node, either node. */
TEST_F(numa, a_store_comes_from_the_writers_node)
{
	for (int node = 0; node < 2; node++) {
		struct write_arg w = { self->fd[1 + node], self->buf };
		struct node_use use = measure(_metadata, node, write_all, &w);

		EXPECT_ON_NODE(use, node);
	}
}

struct switch_arg {
	int ctl;
	unsigned int to;
};

static int do_switch(void *p)
{
	struct switch_arg *s = p;

	return ioctl(s->ctl, VDMUX_IOC_SWITCH, s->to);
}

/* A SWITCH saves the old foreground into chunks on the switching task's node. */
TEST_F(numa, a_switch_saves_on_the_switchers_node)
{
	struct write_arg w = { self->fd[0], self->buf };
	struct switch_arg s = { self->ctl, 1 };
	struct node_use use;
	char *got;

	/* Vdev 0, the foreground, fills the device memory from node 0. */
	use = measure(_metadata, 0, write_all, &w);
	EXPECT_ON_NODE(use, 0);
	/* Vdev 1 has no chunk: the SWITCH allocates only vdev 0's backing store. */
	use = measure(_metadata, 1, do_switch, &s);
	EXPECT_ON_NODE(use, 1);
	got = malloc(SIZE);
	ASSERT_NE(NULL, got);
	ASSERT_EQ((ssize_t)SIZE, pread(self->fd[0], got, SIZE, 0));
	EXPECT_EQ(0, memcmp(got, self->buf, SIZE));
	free(got);
}

VDMUX_HARNESS_MAIN(60)
