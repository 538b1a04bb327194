// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux at its largest size, in a guest with room for it (make check-large):
 * max_reserved_size=1G, a resize to 1 GiB, a mapping of all of it, SWITCH
 * with the mapping live, EJECT of the foreground, INSERT and back; the
 * judge fails the run on any soft-lockup, RCU-stall or hung-task report,
 * which a copy of 1 GiB without rescheduling points under the device lock
 * would give. A resize that memory cannot hold fails with ENOMEM and
 * changes nothing. The time of one SWITCH is printed.
 */
#include "kselftest_harness.h"
#include "vdmux_test.h"

#define GIB (1UL << 30)
#define BLOCK (2UL << 20)

/* The word vdev @vdev holds at byte offset @off: the shared tagged pattern. */
static uint64_t tag(int vdev, size_t off)
{
	return pattern_word(vdev, 0x1a7e, off);
}

/* Writes vdev @vdev's tag into the first word of every 2 MiB block. */
static void tag_blocks(volatile uint64_t *p, int vdev, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += BLOCK)
		p[off / 8] = tag(vdev, off);
}

/* How many blocks of @p do not start with vdev @vdev's tag. */
static size_t untagged_blocks(const volatile uint64_t *p, int vdev, size_t len)
{
	size_t off, bad = 0;

	for (off = 0; off < len; off += BLOCK)
		bad += p[off / 8] != tag(vdev, off);
	return bad;
}

static int reload(const char *params)
{
	int ret = unload_module();

	if (ret && ret != -ENOENT)
		return ret;
	return load_module(params);
}

TEST(one_gib_switch_eject_insert)
{
	struct vdmux_status st;
	volatile uint64_t *p;
	int ctl, fd0, fd1;
	double t0, t_switch, t_eject;

	ASSERT_EQ(0, reload("max_reserved_size=1073741824"));
	ASSERT_EQ(0, set_reserved(GIB));
	ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	fd0 = open_vdev(0, O_RDWR);
	fd1 = open_vdev(1, O_RDWR);
	ASSERT_LE(0, ctl);
	ASSERT_LE(0, fd0);
	ASSERT_LE(0, fd1);
	ASSERT_EQ(0, get_status(ctl, &st));
	ASSERT_EQ(GIB, st.reserved_size);

	p = (volatile uint64_t *)map_shared(fd0, GIB, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, (void *)p);
	tag_blocks(p, 0, GIB);

	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1));
	t_switch = now_s() - t0;
	ksft_print_msg("SWITCH of 1 GiB with a mapper: %.2f s\n", t_switch);
	/* The mapping reaches vdev 0's backing store now, bytes intact. */
	EXPECT_EQ(0, untagged_blocks(p, 0, GIB));

	t0 = now_s();
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_EJECT, 1));
	t_eject = now_s() - t0;
	ksft_print_msg("EJECT of a 1 GiB foreground: %.2f s\n", t_eject);
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ(0, untagged_blocks(p, 0, GIB));
	EXPECT_EQ(0, munmap((void *)p, GIB));

	close(fd0);
	close(fd1);
	close(ctl);
}

/*
 * Six vdevs with backing stores cannot grow to 1 GiB each in this guest:
 * the resize fails with ENOMEM and leaves the size and every byte as they
 * were.
 */
TEST(resize_memory_cannot_hold_is_enomem)
{
	struct vdmux_status st;
	char want[4096], got[4096];
	int i, fd;

	ASSERT_EQ(0, reload("nr_vdevs=6 max_reserved_size=1073741824"));
	for (i = 0; i < 6; i++) {
		fill_pattern(want, sizeof(want), 0x40 + i);
		fd = open_vdev(i, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)sizeof(want), pwrite(fd, want, sizeof(want), 0));
		close(fd);
	}
	EXPECT_EQ(-ENOMEM, set_reserved(GIB));
	ASSERT_EQ(0, status_of(-1, &st));
	EXPECT_EQ(DEFAULT_RESERVED, st.reserved_size);
	for (i = 0; i < 6; i++) {
		fill_pattern(want, sizeof(want), 0x40 + i);
		fd = open_vdev(i, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)sizeof(got), pread(fd, got, sizeof(got), 0));
		EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
		close(fd);
	}
	ASSERT_EQ(0, reload(""));
}

int main(int argc, char **argv)
{
	set_test_timeouts(600);
	return test_harness_run(argc, argv);
}
