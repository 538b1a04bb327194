// SPDX-License-Identifier: GPL-2.0
/*
 * Backing stores are charged to the memory cgroup of the task whose access
 * allocates them (GFP_KERNEL_ACCOUNT), a chunk (2 MiB) at a time: a process
 * in a cgroup v2 whose memory.max cannot hold a store gets ENOMEM from
 * write(2) and SIGBUS from a mapped access (the allocation may fail, __GFP_RETRY_MAYFAIL, rather than
 * OOM-kill anyone), and nothing outside the cgroup is touched: the device,
 * the other vdevs' bytes and the parent go on.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define CGROOT "/sys/fs/cgroup"
#define CG CGROOT "/vdmux-memcg-test"
/* Stores are allocated by chunks (chunk_size), each by the first access to it. */
#define CHUNK store_chunk()
#define STORE (4 * CHUNK)

/* A number from a cgroup file, or the value of "@key N" in it; -1 if absent. */
static long long cg_value(const char *file, const char *key)
{
	char path[128], buf[1024];
	const char *s;

	snprintf(path, sizeof(path), CG "/%s", file);
	if (read_text(path, buf, sizeof(buf)))
		return -1;
	if (!key)
		return atoll(buf);
	s = strstr(buf, key);
	return s ? atoll(s + strlen(key) + 1) : -1;
}

FIXTURE(memcg)
{
	int ctl;
	int fd[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(memcg)
{
	char buf[256];

	if (access(CGROOT "/cgroup.controllers", F_OK)) {
		mkdir(CGROOT, 0755);
		ASSERT_EQ(0, mount("cgroup2", CGROOT, "cgroup2", 0, NULL));
	}
	ASSERT_EQ(0, read_text(CGROOT "/cgroup.controllers", buf, sizeof(buf)));
	ASSERT_NE(NULL, strstr(buf, "memory"));
	ASSERT_EQ(0, write_text(CGROOT "/cgroup.subtree_control", "+memory"));
	rmdir(CG);
	ASSERT_EQ(0, mkdir(CG, 0755));
	/*
	 * A fresh load with an 8 MiB buffer: no vdev has a backing store, so
	 * the first access to a background vdev allocates 8 MiB.
	 */
	ASSERT_EQ(0, restore_module_defaults());
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("reserved_size=8388608"));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->fd));
}

FIXTURE_TEARDOWN(memcg)
{
	close_nodes(self->ctl, self->fd);
	rmdir(CG);
	unload_module();
	load_module("");
}

/*
 * Runs @fn in a child that joined the test cgroup; returns its wait status.
 */
static int in_cgroup(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char me[32];

		snprintf(me, sizeof(me), "%d", getpid());
		if (write_text(CG "/cgroup.procs", me))
			_exit(90);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* Exit 0 when a 1-byte write to vdev 2 allocated a chunk of its store and raised memory.current by it. */
static int write_allocates_charged_store(void)
{
	long long before = cg_value("memory.current", NULL), after;
	int fd = open_vdev(2, O_RDWR);
	char c = 0x5a;

	if (fd < 0 || pwrite(fd, &c, 1, 0) != 1)
		return 1;
	after = cg_value("memory.current", NULL);
	return after - before >= (long long)CHUNK ? 0 : 2;
}

TEST_F(memcg, backing_store_is_charged_to_the_allocating_cgroup)
{
	int status;
	char c;

	ASSERT_EQ(0, write_text(CG "/memory.max", "256M"));
	status = in_cgroup(write_allocates_charged_store);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The store outlives the process; its byte is there for everyone. */
	ASSERT_EQ(1, pread(self->fd[2], &c, 1, 0));
	EXPECT_EQ(0x5a, c);
}

/* Exit 0 when a write to some chunk of vdev 3 fails with ENOMEM (4 of them cannot fit in 2). */
static int write_gets_enomem(void)
{
	int fd = open_vdev(3, O_RDWR);
	unsigned long off;
	char c = 1;

	if (fd < 0)
		return 1;
	for (off = 0; off < STORE; off += CHUNK)
		if (pwrite(fd, &c, 1, off) != 1)
			return errno == ENOMEM ? 0 : 3;
	return 2;
}

/* Exit 0 never: the access past the limit must raise SIGBUS. */
static int mapped_store_gets_sigbus(void)
{
	int fd = open_vdev(3, O_RDWR);
	volatile char *p;

	if (fd < 0)
		return 1;
	p = (volatile char *)map_shared(fd, STORE, PROT_READ | PROT_WRITE, 0);
	if (p == MAP_FAILED)
		return 2;
	for (unsigned long off = 0; off < STORE; off += CHUNK)
		p[off] = 1;
	return 3;
}

TEST_F(memcg, a_store_past_memory_max_fails_inside_the_cgroup)
{
	char want[PAGE], got[PAGE];
	char max[32];
	int status;

	/* Something of vdev 1 that must be intact afterwards. */
	fill_pattern(want, sizeof(want), 0x31);
	ASSERT_EQ((ssize_t)sizeof(want), pwrite(self->fd[1], want, sizeof(want), 0));

	/* Two chunks: 4 MiB. */
	snprintf(max, sizeof(max), "%lu", 2 * CHUNK);
	ASSERT_EQ(0, write_text(CG "/memory.max", max));
	status = in_cgroup(write_gets_enomem);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	status = in_cgroup(mapped_store_gets_sigbus);
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	/* The limit was what stopped it, and nobody was OOM-killed. */
	EXPECT_LT(0, cg_value("memory.events", "max"));
	EXPECT_EQ(0, cg_value("memory.events", "oom_kill"));

	/* Outside the cgroup nothing changed: vdev 3 gets its store now. */
	EXPECT_EQ(1, pwrite(self->fd[3], "x", 1, 0));
	ASSERT_EQ((ssize_t)sizeof(got), pread(self->fd[1], got, sizeof(got), 0));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 3));
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
}

/* On a busy 2-core host under TCG, a_store_past_memory_max_fails_inside_the_cgroup took 2.1 s. */
VDMUX_HARNESS_MAIN(30)
