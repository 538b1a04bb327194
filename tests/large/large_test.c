// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux at its largest size, in a guest with room for it (make check-large):
 * max_reserved_size=1G, a resize to 1 GiB, a mapping of all of it, SWITCH
 * with the mapping live, EJECT of the foreground, INSERT and back; the
 * judge fails the run on any soft-lockup, RCU-stall or hung-task report,
 * which a copy of 1 GiB without rescheduling points under the device lock
 * would give. Filling more than memory can hold fails with ENOMEM and
 * keeps what was written. The time of one SWITCH is printed.
 */
#include "kselftest_harness.h"
#include "vdmux_test.h"

#define GIB (1UL << 30)
#define BLOCK PMD_BLOCK

/* The word vdev @vdev holds at byte offset @off: the shared tagged pattern. */
static uint64_t tag(int vdev, size_t off)
{
	return pattern_word(vdev, 0x1a7e, off);
}

/* Writes vdev @vdev's tag into the first word of every PMD block. */
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
	ASSERT_EQ(0, open_ctl_and_pair(&ctl, &fd0, &fd1));
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
 * Growing to 1 GiB allocates nothing, so it succeeds at once even with six
 * vdevs. Filling every vdev's 1 GiB cannot fit in this guest: chunks are
 * allocated as the writes reach them, until one cannot be (ENOMEM, with a
 * reserve of memory left to everyone else, and no OOM kill); every byte
 * written before stays, and shrinking back frees it all.
 */
TEST(filling_what_memory_cannot_hold_is_enomem)
{
	static char want[1 << 20];
	char got[PAGE];
	uint64_t filled = 0;
	int i, fd, err = 0;
	ssize_t n;

	ASSERT_EQ(0, reload("nr_vdevs=6 max_reserved_size=1073741824"));
	EXPECT_EQ(0, set_reserved(GIB));
	for (i = 0; i < 6 && !err; i++) {
		size_t off;

		fill_pattern(want, sizeof(want), 0x40 + i);
		fd = open_vdev(i, O_RDWR);
		ASSERT_LE(0, fd);
		for (off = 0; off < GIB; off += sizeof(want)) {
			n = pwrite(fd, want, sizeof(want), off);
			if (n != (ssize_t)sizeof(want)) {
				err = n < 0 ? errno : EIO;
				break;
			}
			filled += n;
		}
		close(fd);
	}
	ksft_print_msg("%llu MiB written before the first failure\n",
		       (unsigned long long)(filled >> 20));
	EXPECT_EQ(ENOMEM, err);
	for (i = 0; i < 6 && filled; i++, filled -= filled < GIB ? filled : GIB) {
		fill_pattern(want, sizeof(got), 0x40 + i);
		fd = open_vdev(i, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)sizeof(got), pread(fd, got, sizeof(got), 0));
		EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
		close(fd);
	}
	EXPECT_EQ(0, set_reserved(DEFAULT_RESERVED));
	ASSERT_EQ(0, reload(""));
}

int main(int argc, char **argv)
{
	set_test_timeouts(600);
	return test_harness_run(argc, argv);
}
