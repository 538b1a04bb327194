// SPDX-License-Identifier: GPL-2.0
/*
 * Every vdmux ioctl: its success, each of its errors, and the privilege
 * rule for the commands that change state.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

/*
 * The reserved size of the tests that shrink it: 8 pages, the default with
 * 4 KiB pages (where the default is one page, it must grow first).
 */
#define FULL (8 * PAGE)

FIXTURE(ctl)
{
	int ctl;
	int vdev[DEFAULT_NR_VDEVS];
};

FIXTURE_SETUP(ctl)
{
	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, open_nodes(&self->ctl, self->vdev));
}

FIXTURE_TEARDOWN(ctl)
{
	close_nodes(self->ctl, self->vdev);
	reset_device();
}

static uint64_t reserved_of(int fd)
{
	uint64_t size = 0;

	if (ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size))
		return 0;
	return size;
}

TEST_F(ctl, get_reserved_size_on_every_node)
{
	int i;

	EXPECT_EQ(DEFAULT_RESERVED, reserved_of(self->ctl));
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		EXPECT_EQ(DEFAULT_RESERVED, reserved_of(self->vdev[i]));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_GET_RESERVED_SIZE, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->vdev[0], VDMUX_IOC_GET_RESERVED_SIZE, 8));
}

TEST_F(ctl, status_of_control_and_vdevs)
{
	struct vdmux_status st;
	int i;

	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(VDMUX_CONTROL, st.index);
	EXPECT_EQ(VDMUX_STATE_CONTROL, st.state);
	EXPECT_EQ(0, st.foreground);
	EXPECT_EQ(DEFAULT_NR_VDEVS, st.nr_vdevs);
	EXPECT_EQ(DEFAULT_RESERVED, st.reserved_size);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
		ASSERT_EQ(0, get_status(self->vdev[i], &st));
		EXPECT_EQ((unsigned int)i, st.index);
		EXPECT_EQ(i == 0 ? VDMUX_STATE_FOREGROUND : VDMUX_STATE_BACKGROUND, st.state);
		EXPECT_EQ(0, st.foreground);
		EXPECT_EQ(DEFAULT_NR_VDEVS, st.nr_vdevs);
		EXPECT_EQ(DEFAULT_RESERVED, st.reserved_size);
	}
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_GET_STATUS, 0));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->vdev[1], VDMUX_IOC_GET_STATUS, (unsigned long)-(long)PAGE));
}

TEST(status_layout_is_fixed)
{
	EXPECT_EQ(32, sizeof(struct vdmux_status));
	EXPECT_EQ(16, __builtin_offsetof(struct vdmux_status, reserved_size));
	EXPECT_EQ(24, __builtin_offsetof(struct vdmux_status, generation));
}

/* Whether the tests run with device_memory=pci ($VDMUX_MODULE_PARAMS). */
static int device_memory_is_pci(void)
{
	const char *params = getenv("VDMUX_MODULE_PARAMS");

	return params && strstr(params, "device_memory=pci");
}

/*
 * The largest reserved size: the module's default with RAM device memory;
 * with device_memory=pci the size of the BAR vdmux multiplexes, by default
 * the largest prefetchable memory BAR of the control node's PCI device, as
 * the PCI core lists it (not as vdmux says).
 */
static uint64_t expected_max_reserved(void)
{
	unsigned long long start = 0, len = 0, flags = 0, largest = 0;
	char link[256];
	const char *bdf;
	ssize_t n;
	int bar;

	if (!device_memory_is_pci())
		return DEFAULT_MAX_RESERVED;
	n = readlink("/sys/class/misc/vdmux/device", link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	bdf = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	for (bar = 0; bar < 6; bar++)
		if (!pci_bar_range(bdf, bar, &start, &len, &flags) && (flags & 0x200) &&
		    (flags & 0x2000) && len > largest)
			largest = len;
	return largest;
}

TEST_F(ctl, set_reserved_size_rounds_up)
{
	uint64_t size;

	size = 1;
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(PAGE, reserved_of(self->vdev[2]));
	size = PAGE + 904;
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(2 * PAGE, reserved_of(self->ctl));
	size = expected_max_reserved();
	ASSERT_NE(0, size);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(size, reserved_of(self->vdev[0]));
}

TEST_F(ctl, set_reserved_size_errors)
{
	uint64_t size;

	size = 0;
	EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	size = DEFAULT_MAX_RESERVED + 1;
	/* Past a BAR (device_memory=pci, a 64 MiB one) there is no memory to be had. */
	EXPECT_EQ(device_memory_is_pci() ? -ENOMEM : -EINVAL,
		  vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	size = UINT64_MAX;
	EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(-EFAULT, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, 0));
	size = 2 * PAGE;
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[0], VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(DEFAULT_RESERVED, reserved_of(self->ctl));
}

/*
 * The largest reserved size is a module parameter, which a Rust module does
 * not show under /sys/module: the control node shows it. The ioctl is the
 * oracle: that size is accepted, a page more is not.
 */
TEST_F(ctl, max_reserved_size_in_sysfs)
{
	const char *path = "/sys/class/misc/vdmux/max_reserved_size";
	char text[64], *end;
	struct stat st;
	uint64_t max, size;

	ASSERT_EQ(0, read_text(path, text, sizeof(text)));
	errno = 0;
	max = strtoull(text, &end, 10);
	ASSERT_EQ(0, errno);
	ASSERT_STREQ("\n", end);
	EXPECT_EQ(expected_max_reserved(), max);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0444, st.st_mode & 07777);

	size = max;
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(max, reserved_of(self->ctl));
	size = max + PAGE;
	EXPECT_EQ(device_memory_is_pci() ? -ENOMEM : -EINVAL,
		  vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(max, reserved_of(self->ctl));
}

TEST_F(ctl, set_reserved_size_busy_while_mapped)
{
	uint64_t size = 2 * PAGE;
	char *map;

	if (FULL != DEFAULT_RESERVED)
		ASSERT_EQ(0, set_reserved(FULL));
	map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->vdev[3], 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(-EBUSY, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(FULL, reserved_of(self->ctl));
	ASSERT_EQ(0, munmap(map, PAGE));
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	EXPECT_EQ(2 * PAGE, reserved_of(self->ctl));
}

/* Every vdev keeps its bytes up to min(old, new); grown bytes are zero. */
TEST_F(ctl, resize_keeps_content)
{
	char buf[3][FULL], got[2 * FULL];
	uint64_t size;
	int i;

	memset(buf, 0, sizeof(buf));
	memset(got, 0, sizeof(got));

	if (FULL != DEFAULT_RESERVED)
		ASSERT_EQ(0, set_reserved(FULL));
	/* vdev 0 foreground, 1 background with a store, 2 never touched. */
	fill_pattern(buf[0], FULL, 10);
	fill_pattern(buf[1], FULL, 11);
	ASSERT_EQ(FULL, pwrite(self->vdev[0], buf[0], FULL, 0));
	ASSERT_EQ(FULL, pwrite(self->vdev[1], buf[1], FULL, 0));

	size = 3 * PAGE;
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	for (i = 0; i < 2; i++) {
		memset(got, 0x5a, sizeof(got));
		ASSERT_EQ(3 * PAGE, pread(self->vdev[i], got, sizeof(got), 0));
		EXPECT_TRUE(has_pattern(got, 3 * PAGE, 10 + i));
	}
	ASSERT_EQ(3 * PAGE, pread(self->vdev[2], got, sizeof(got), 0));
	EXPECT_TRUE(all_zero(got, 3 * PAGE));

	size = 2 * FULL;
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size));
	for (i = 0; i < 2; i++) {
		memset(got, 0x5a, sizeof(got));
		ASSERT_EQ(2 * FULL, pread(self->vdev[i], got, sizeof(got), 0));
		EXPECT_TRUE(has_pattern(got, 3 * PAGE, 10 + i));
		EXPECT_TRUE(all_zero(got + 3 * PAGE, 2 * FULL - 3 * PAGE));
	}
	/* And the foreground still is vdev 0 after a switch round trip. */
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(2 * FULL, pread(self->vdev[0], got, sizeof(got), 0));
	EXPECT_TRUE(has_pattern(got, 3 * PAGE, 10));
}

TEST_F(ctl, switch_moves_foreground_and_bumps_generations)
{
	struct vdmux_status c0, c1, v0, v1, v2, after;

	ASSERT_EQ(0, get_status(self->ctl, &c0));
	ASSERT_EQ(0, get_status(self->vdev[0], &v0));
	ASSERT_EQ(0, get_status(self->vdev[2], &v2));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	ASSERT_EQ(0, get_status(self->ctl, &c1));
	EXPECT_EQ(2, c1.foreground);
	EXPECT_EQ(c0.generation + 1, c1.generation);
	ASSERT_EQ(0, get_status(self->vdev[0], &after));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, after.state);
	EXPECT_EQ(v0.generation + 1, after.generation);
	ASSERT_EQ(0, get_status(self->vdev[2], &after));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, after.state);
	EXPECT_EQ(v2.generation + 1, after.generation);
	ASSERT_EQ(0, get_status(self->vdev[1], &v1));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, v1.state);
	EXPECT_EQ(2, v1.foreground);
}

/*
 * A vdev never written since the module was loaded has no backing store:
 * a SWITCH to it must clear what the old foreground left in the device
 * memory, so that it reads zeros there, through read(2) and a mapping,
 * never the other vdev's bytes; and the old foreground keeps its own.
 */
TEST_F(ctl, switch_to_a_never_written_vdev_clears_the_device_memory)
{
	char buf[DEFAULT_RESERVED], got[DEFAULT_RESERVED];
	char *p;

	memset(buf, 0, sizeof(buf));
	memset(got, 0, sizeof(got));

	close_nodes(self->ctl, self->vdev);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_EQ(0, open_nodes(&self->ctl, self->vdev));
	fill_pattern(buf, DEFAULT_RESERVED, 20);
	ASSERT_EQ(DEFAULT_RESERVED, pwrite(self->vdev[0], buf, DEFAULT_RESERVED, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));

	memset(got, 0x5a, sizeof(got));
	ASSERT_EQ(DEFAULT_RESERVED, pread(self->vdev[2], got, sizeof(got), 0));
	EXPECT_TRUE(all_zero(got, DEFAULT_RESERVED));
	p = mmap(NULL, DEFAULT_RESERVED, PROT_READ, MAP_SHARED, self->vdev[2], 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all_zero(p, DEFAULT_RESERVED));
	EXPECT_EQ(0, munmap(p, DEFAULT_RESERVED));
	ASSERT_EQ(DEFAULT_RESERVED, pread(self->vdev[0], got, sizeof(got), 0));
	EXPECT_TRUE(has_pattern(got, DEFAULT_RESERVED, 20));
}

TEST_F(ctl, switch_to_foreground_is_a_no_op)
{
	struct vdmux_status before, after;

	ASSERT_EQ(0, get_status(self->ctl, &before));
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(0, get_status(self->ctl, &after));
	EXPECT_EQ(before.generation, after.generation);
	EXPECT_EQ(0, after.foreground);
}

TEST_F(ctl, bad_indices_are_einval)
{
	unsigned long bad[] = { DEFAULT_NR_VDEVS, 64, 0xffffffffUL, -1UL,
#if __SIZEOF_LONG__ > 4
				/* A 32-bit caller cannot pass one that does not fit a __u32. */
				0x100000000UL,
#endif
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, bad[i]));
		EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, bad[i]));
		EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, bad[i]));
	}
}

TEST_F(ctl, eject_insert_rules)
{
	struct vdmux_status st;

	EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	ASSERT_EQ(0, get_status(self->vdev[1], &st));
	EXPECT_EQ(VDMUX_STATE_REMOVED, st.state);
	EXPECT_EQ(-EINVAL, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(-ENODEV, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ(0, get_status(self->vdev[1], &st));
	EXPECT_EQ(VDMUX_STATE_BACKGROUND, st.state);
	EXPECT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
}

TEST_F(ctl, eject_foreground_leaves_none)
{
	char buf[DEFAULT_RESERVED], got[DEFAULT_RESERVED];
	struct vdmux_status st;

	memset(buf, 0, sizeof(buf));
	memset(got, 0, sizeof(got));

	fill_pattern(buf, sizeof(buf), 3);
	ASSERT_EQ(sizeof(buf), pwrite(self->vdev[0], buf, sizeof(buf), 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 0));
	ASSERT_EQ(0, get_status(self->ctl, &st));
	EXPECT_EQ(VDMUX_NONE, st.foreground);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 0));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(sizeof(got), pread(self->vdev[0], got, sizeof(got), 0));
	EXPECT_TRUE(has_pattern(got, sizeof(got), 3));
}

TEST_F(ctl, control_commands_not_on_vdev_nodes)
{
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[0], VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[1], VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[1], VDMUX_IOC_INSERT, 1));
}

TEST_F(ctl, unknown_commands_are_enotty)
{
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->ctl, _IO(VDMUX_IOC_MAGIC, 0x7f), 0));
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->ctl, _IOR(VDMUX_IOC_MAGIC, 0x00, __u32), 0));
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[0], _IO('x', 0x02), 0));
	EXPECT_EQ(-ENOTTY, vdmux_ioc(self->vdev[0], 0, 0));
}

/*
 * State changes need CAP_SYS_ADMIN when called, even on a control fd
 * opened while privileged; the read-only commands do not.
 */
TEST_F(ctl, state_changes_need_cap_sys_admin)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vdmux_status st;
		uint64_t size = 2 * PAGE;
		int ok = 1;

		/* Drop to nobody: every capability goes with uid 0. */
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1) == -EPERM;
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1) == -EPERM;
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1) == -EPERM;
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size) == -EPERM;
		/* EPERM comes before the bad pointer is even read. */
		ok &= vdmux_ioc(self->ctl, VDMUX_IOC_SET_RESERVED_SIZE, 0) == -EPERM;
		ok &= get_status(self->ctl, &st) == 0 && st.foreground == 0;
		ok &= reserved_of(self->ctl) == DEFAULT_RESERVED;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Nothing changed. */
	EXPECT_EQ(DEFAULT_RESERVED, reserved_of(self->ctl));
}

TEST_F(ctl, control_node_cannot_be_mapped_read_or_seeked)
{
	char c;

	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->ctl, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, read(self->ctl, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->ctl, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(self->ctl, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
}

/* 1 when fdinfo of @fd has the vdmux lines @index, @state, @generation. */
static int fdinfo_shows(int fd, const char *index, const char *state,
			unsigned long long generation)
{
	char buf[1024], want[256];

	if (read_fdinfo(fd, buf, sizeof(buf)))
		return 0;
	if (state)
		snprintf(want, sizeof(want),
			 "vdmux-index:\t%s\nvdmux-state:\t%s\nvdmux-generation:\t%llu\n",
			 index, state, generation);
	else
		snprintf(want, sizeof(want), "vdmux-index:\t%s\nvdmux-foreground:\t%s\n",
			 index, "-1");
	return strstr(buf, want) != NULL;
}

TEST_F(ctl, fdinfo_shows_index_state_generation)
{
	struct vdmux_status st;
	char buf[1024];

	ASSERT_EQ(0, get_status(self->vdev[1], &st));
	EXPECT_TRUE(fdinfo_shows(self->vdev[1], "1", "background", st.generation));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(fdinfo_shows(self->vdev[1], "1", "foreground", st.generation + 1));
	ASSERT_EQ(0, get_status(self->vdev[3], &st));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 3));
	EXPECT_TRUE(fdinfo_shows(self->vdev[3], "3", "removed", st.generation + 1));

	ASSERT_EQ(0, get_status(self->ctl, &st));
	ASSERT_EQ(0, read_fdinfo(self->ctl, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "vdmux-index:\tcontrol\nvdmux-foreground:\t1\n"));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_TRUE(fdinfo_shows(self->ctl, "control", NULL, 0));
}

/* On a busy 2-core host under TCG, the slowest took 0.7 s. */
VDMUX_HARNESS_MAIN(30)
