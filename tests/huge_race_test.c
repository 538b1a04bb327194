// SPDX-License-Identifier: GPL-2.0
/*
 * Two threads that touch one unmapped PMD block at once both take a
 * huge fault; the first maps the block, the second finds it mapped and
 * inserts nothing. The vdev's fdinfo counts the PMD entries inserted, so
 * it must say one, whatever the threads' own fault counts (getrusage)
 * say. A round in which both threads faulted is a hit; the test needs
 * hits. Where a store's chunks hold no PMD block (16 and 64 KiB pages),
 * nothing is mapped with PMD entries and the test skips.
 */
#include <pthread.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define BLOCK PMD_BLOCK
#define BLOCKS 4
#define SIZE (BLOCKS * BLOCK)
#define MAX_ROUNDS 300
#define WANTED_HITS 5

struct toucher {
	pthread_barrier_t *start;
	volatile char *p;
	long minflt[BLOCKS];	/* this thread's page faults per block */
};

static long thread_minflt(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_minflt;
}

static void *touch_blocks(void *arg)
{
	struct toucher *t = arg;
	unsigned long b;

	for (b = 0; b < BLOCKS; b++) {
		long before;

		pthread_barrier_wait(t->start);
		before = thread_minflt();
		(void)t->p[b * BLOCK + 64];
		t->minflt[b] = thread_minflt() - before;
	}
	return NULL;
}

FIXTURE(race)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(race)
{
	self->ctl = -1;
	ASSERT_EQ(0, reset_device());
	if (!chunks_hold_pmd())
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	ASSERT_EQ(0, set_reserved(SIZE));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

FIXTURE_TEARDOWN(race)
{
	if (self->ctl >= 0)
		close_nodes(self->ctl, self->fd);
	reset_device();
}

TEST_F_TIMEOUT(race, racing_huge_faults_insert_one_entry, 120)
{
	int fd = self->fd[0], round, hits = 0, both;
	struct fault_counts before, after;
	pthread_barrier_t start;
	struct toucher t[2];
	pthread_t thread[2];
	unsigned long b;
	char *p;

	/* Every block allocated, so that each huge fault only maps. */
	p = map_shared(fd, SIZE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, SIZE, 3);
	ASSERT_EQ(0, munmap(p, SIZE));
	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, 2));
	for (round = 0; round < MAX_ROUNDS && hits < WANTED_HITS; round++) {
		p = map_shared(fd, SIZE, PROT_READ, 0);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, (uintptr_t)p % BLOCK);
		before = fault_counts(fd);
		for (int i = 0; i < 2; i++) {
			t[i] = (struct toucher){ .start = &start, .p = p };
			ASSERT_EQ(0, pthread_create(&thread[i], NULL, touch_blocks, &t[i]));
		}
		for (int i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_join(thread[i], NULL));
		after = fault_counts(fd);
		ASSERT_LE(0, before.huge);
		both = 0;
		for (b = 0; b < BLOCKS; b++) {
			ASSERT_LE(1, t[0].minflt[b] + t[1].minflt[b]) TH_LOG("round %d block %lu", round, b);
			both += t[0].minflt[b] && t[1].minflt[b];
		}
		/* One entry per block, however many faults asked for it. */
		EXPECT_EQ((long)BLOCKS, after.huge - before.huge)
			TH_LOG("round %d: %d blocks faulted by both threads", round, both);
		EXPECT_EQ(0, after.pages - before.pages) TH_LOG("round %d", round);
		EXPECT_TRUE(has_pattern(p, SIZE, 3));
		hits += both;
		ASSERT_EQ(0, munmap(p, SIZE));
	}
	pthread_barrier_destroy(&start);
	TH_LOG("%d rounds, %d blocks faulted by both threads at once", round, hits);
	EXPECT_LT(0, hits);
}

VDMUX_HARNESS_MAIN(30)
