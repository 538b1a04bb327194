// SPDX-License-Identifier: GPL-2.0
/*
 * Load/unload cycles: insmod with varying parameters, use every node
 * (map, fault, switch, eject, insert, read, write), unmap, close, rmmod;
 * many times. Each cycle allocates the device memory and every backing
 * store, so memory that a cycle fails to free adds up: MemFree, Slab and
 * VmallocUsed are compared before and after. kmemleak is scanned by the
 * harness at the end of the run.
 *
 *	cycle_test [--rounds N]	(or VDMUX_CYCLE_ROUNDS; default 50)
 */
#include <dirent.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define CYCLE_RESERVED (1024 * 1024UL)	/* per buffer; 2 to 9 buffers a cycle */
#define MAX_VDEVS 8

/*
 * Tolerances over the whole run. A cycle allocates 2 to 9 MiB of buffers,
 * so leaking a single 1 MiB buffer per cycle would exceed each bound twice
 * over; leaking all of them, ten times over. The buffers live in vmalloc
 * memory, which only they use here. MemFree also moves with what the
 * kernel keeps in per-CPU page lists (about +-13 MiB measured over 30
 * cycles that leak nothing), hence its looser bound; Slab is measured
 * with KASAN's quarantine emptied.
 */
#define VMALLOC_TOLERANCE_KB 1024
#define SLAB_TOLERANCE_KB (8 * 1024)
#define MEMFREE_TOLERANCE_KB (24 * 1024)

static unsigned long long opt_rounds = 50;

struct mem {
	long memfree, slab, vmalloc;
	long other[5];		/* printed, to explain a MemFree change */
};

static const char *const other_fields[5] = {
	"Cached", "Percpu", "PageTables", "KernelStack", "AnonPages",
};

static void measure(struct mem *m)
{
	settle_memory();
	m->memfree = meminfo_kb("MemFree");
	m->slab = meminfo_kb("Slab");
	m->vmalloc = meminfo_kb("VmallocUsed");
	for (int i = 0; i < 5; i++)
		m->other[i] = meminfo_kb(other_fields[i]);
}

/* The pattern seed of cycle @round (from -2): vdev and offset tag each word. */
static unsigned int seed_of(int round)
{
	return (unsigned int)(round + 100);
}


/*
 * Every node of a freshly loaded module: status, then each vdev mapped,
 * written, made the foreground, ejected (SIGBUS), inserted, read back.
 */
static void use_every_node(struct __test_metadata *_metadata, int round, int nr, size_t size)
{
	int ctl, fd[MAX_VDEVS], v;
	char *p[MAX_VDEVS], c, buf[16];
	struct vdmux_status st;
	size_t i;

	ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, ctl);
	ASSERT_EQ(0, get_status(ctl, &st));
	ASSERT_EQ(nr, st.nr_vdevs);
	ASSERT_EQ(size, st.reserved_size);
	for (v = 0; v < nr; v++) {
		fd[v] = open_vdev(v, O_RDWR);
		ASSERT_LE(0, fd[v]);
		p[v] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd[v], 0);
		ASSERT_NE(MAP_FAILED, p[v]);
		/* Every word: every page faulted, every backing store used. */
		fill_tagged(p[v], size, v, seed_of(round), 0);
	}
	for (v = 0; v < nr; v++) {
		ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, v));
		ASSERT_EQ(0, get_status(fd[v], &st));
		EXPECT_EQ(VDMUX_STATE_FOREGROUND, st.state);
		/* Its last page, whole, from the device memory now. */
		EXPECT_TRUE(has_tagged(p[v] + size - PAGE, PAGE, v, seed_of(round), size - PAGE));
	}
	for (v = 0; v < nr; v++) {
		ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_EJECT, v));
		EXPECT_EQ(SIGBUS, probe_read(p[v], &c));
		EXPECT_EQ(-1, pread(fd[v], buf, 1, 0));
		EXPECT_EQ(ENODEV, errno);
		ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_INSERT, v));
	}
	for (v = 0; v < nr; v++) {
		i = tagged_mismatch(p[v], size, v, seed_of(round), 0);
		EXPECT_EQ(size, i) TH_LOG("round %d vdev %d: byte %zu is not its own", round, v, i);
		ASSERT_EQ(sizeof(buf), pread(fd[v], buf, sizeof(buf), PAGE));
		EXPECT_TRUE(has_tagged(buf, sizeof(buf), v, seed_of(round), PAGE));
		EXPECT_EQ(0, munmap(p[v], size));
		EXPECT_EQ(0, close(fd[v]));
	}
	close(ctl);
}

FIXTURE(cycle)
{
};

FIXTURE_SETUP(cycle)
{
	ASSERT_EQ(0, ensure_module());
}

/* In the parent: once the test process is gone, none of its mappings are left. */
FIXTURE_TEARDOWN_PARENT(cycle)
{
	restore_module_defaults();
}

TEST_F(cycle, load_use_unload_cycles)
{
	struct mem before = { 0 }, after;
	char params[96];
	int round, nr;

	ASSERT_EQ(0, unload_module());
	/* Two unmeasured cycles fill the caches a first load needs. */
	for (round = -2; round < (int)opt_rounds; round++) {
		if (round == 0)
			measure(&before);
		nr = 1 + (round + 2) % MAX_VDEVS;
		snprintf(params, sizeof(params), "nr_vdevs=%d reserved_size=%lu", nr,
			 CYCLE_RESERVED);
		ASSERT_EQ(0, load_module(params)) TH_LOG("round %d: insmod vdmux.ko %s", round, params);
		use_every_node(_metadata, round, nr, CYCLE_RESERVED);
		if (_metadata->exit_code)
			break;
		ASSERT_EQ(0, unload_module()) TH_LOG("round %d: rmmod", round);
		ASSERT_FALSE(module_loaded());
	}
	measure(&after);
	ksft_print_msg("cycles: %d rounds of insmod, use every node, rmmod\n", round);
	ksft_print_msg("MemFree: %ld kB before, %ld kB after (%+ld kB; tolerance -%d kB)\n",
		       before.memfree, after.memfree, after.memfree - before.memfree,
		       MEMFREE_TOLERANCE_KB);
	ksft_print_msg("Slab: %ld kB before, %ld kB after (%+ld kB; tolerance +%d kB)\n",
		       before.slab, after.slab, after.slab - before.slab, SLAB_TOLERANCE_KB);
	ksft_print_msg("VmallocUsed: %ld kB before, %ld kB after (%+ld kB; tolerance +%d kB)\n",
		       before.vmalloc, after.vmalloc, after.vmalloc - before.vmalloc,
		       VMALLOC_TOLERANCE_KB);
	for (int i = 0; i < 5; i++)
		ksft_print_msg("%s: %ld kB before, %ld kB after (%+ld kB)\n", other_fields[i],
			       before.other[i], after.other[i], after.other[i] - before.other[i]);
	EXPECT_EQ(opt_rounds, round);
	EXPECT_LE(before.memfree - after.memfree, MEMFREE_TOLERANCE_KB);
	EXPECT_LE(after.slab - before.slab, SLAB_TOLERANCE_KB);
	EXPECT_LE(after.vmalloc - before.vmalloc, VMALLOC_TOLERANCE_KB);
	ASSERT_EQ(0, load_module(""));
}

int main(int argc, char **argv)
{
	opt_rounds = take_option(&argc, argv, "--rounds", "VDMUX_CYCLE_ROUNDS", opt_rounds);
	set_test_timeouts(120 + opt_rounds * 10);
	return test_harness_run(argc, argv);
}
