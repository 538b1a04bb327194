// SPDX-License-Identifier: GPL-2.0
/*
 * device_memory=pci with two devices bound at once: one multiplexer per
 * device. Needs a guest booted with qemu/run.sh --ivshmem SIZE --ivshmem2
 * SIZE2 (make check does): two ivshmem-plain devices (1af4:1110) with BARs
 * of two sizes.
 *
 * Each bound device has its own nodes, named after its instance number
 * (the lowest one free as it binds: /dev/vdmux and /dev/vdmuxN for
 * instance 0, /dev/vdmux-I and /dev/vdmux-I.N for instance I), whose sysfs
 * device is the PCI device; each is multiplexed on its own BAR,
 * independently of the other; unbinding one while both are mapped revokes
 * that one's mappings only; the device bound again gets its number back;
 * bind/unbind cycles leak nothing; unloading the module unbinds both.
 *
 * The last test leaves signatures in both BARs, through both instances,
 * for the host, which reads both backing files after the guest ended
 * (qemu/results.py --ivshmem, twice): each must hold exactly its own
 * instance's final foreground. It leaves the second device with a
 * driver_override that no driver has, so that no later load in pci mode
 * binds it (binding zero-fills a BAR): pci_test, after this program,
 * reports on the first device.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define DRIVER_DIR "/sys/bus/pci/drivers/vdmux"
#define NR_DEVS 2
#define SPAN (256 * 1024UL)
#define CYCLES 10
#define SLAB_TOLERANCE_KB (8 * 1024)

/* The two ivshmem devices, in bus order (the order they bind at a load). */
static struct ivshmem {
	char bdf[256];
	unsigned long long bar_start, bar_len;
} dev[NR_DEVS];
static int nr_found;

/* Finds the ivshmem devices and their BAR 2: how many (at most NR_DEVS). */
static int find_ivshmems(void)
{
	char bdf[NR_DEVS][PCI_BDF_LEN];
	int found, j, n = 0;

	found = find_pci_devices(IVSHMEM_VENDOR, IVSHMEM_DEVICE, bdf, NR_DEVS);
	for (j = 0; j < found; j++) {
		if (pci_bar_range(bdf[j], 2, &dev[n].bar_start, &dev[n].bar_len, NULL))
			continue;
		snprintf(dev[n].bdf, sizeof(dev[n].bdf), "%s", bdf[j]);
		n++;
	}
	return n;
}

/* The misc device name of instance @inst's control node (@vdev < 0) or of its vdev @vdev. */
static const char *node_name(int inst, int vdev)
{
	static char name[4][64];
	static int turn;
	char *s = name[turn++ % 4];

	if (inst == 0 && vdev < 0)
		snprintf(s, 64, "vdmux");
	else if (inst == 0)
		snprintf(s, 64, "vdmux%d", vdev);
	else if (vdev < 0)
		snprintf(s, 64, "vdmux-%d", inst);
	else
		snprintf(s, 64, "vdmux-%d.%d", inst, vdev);
	return s;
}

static int open_node(int inst, int vdev, int flags)
{
	char path[96];

	snprintf(path, sizeof(path), "/dev/%s", node_name(inst, vdev));
	return open(path, flags | O_CLOEXEC);
}

static int node_exists(int inst, int vdev)
{
	char path[96];

	snprintf(path, sizeof(path), "/dev/%s", node_name(inst, vdev));
	return access(path, F_OK) == 0;
}

/* Whether all of instance @inst's nodes exist (@want 1) or none does (0). */
static int nodes_are(int inst, int want)
{
	int v, n = node_exists(inst, -1);

	for (v = 0; v < DEFAULT_NR_VDEVS; v++)
		n += node_exists(inst, v);
	return n == (want ? DEFAULT_NR_VDEVS + 1 : 0);
}

/*
 * Whether every node of instance @inst has PCI device @d as its sysfs
 * device: /sys/class/misc/NODE/device links to it.
 */
static int nodes_belong_to(int inst, int d)
{
	char link[512], target[512];
	ssize_t n;
	int v;

	for (v = -1; v < DEFAULT_NR_VDEVS; v++) {
		snprintf(link, sizeof(link), "/sys/class/misc/%s/device", node_name(inst, v));
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = 0;
		if (strcmp(strrchr(target, '/') + 1, dev[d].bdf))
			return 0;
	}
	return 1;
}

static int ctl_ioc(int inst, unsigned long cmd, unsigned long arg)
{
	int fd = open_node(inst, -1, O_RDWR), ret;

	if (fd < 0)
		return -errno;
	ret = vdmux_ioc(fd, cmd, arg);
	close(fd);
	return ret;
}

static int status_of_inst(int inst, struct vdmux_status *st)
{
	int fd = open_node(inst, -1, O_RDONLY), ret;

	if (fd < 0)
		return -errno;
	ret = get_status(fd, st) ? -errno : 0;
	close(fd);
	return ret;
}

/* The first line of attribute @attr of node (@inst, @vdev), as a number; -1 if unreadable. */
static long long attr_of(int inst, int vdev, const char *attr)
{
	char path[256], text[64];

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", node_name(inst, vdev), attr);
	if (read_first_line(path, text, sizeof(text)))
		return -1;
	return strtoll(text, NULL, 10);
}

static int bound(int d)
{
	char path[512];

	snprintf(path, sizeof(path), DRIVER_DIR "/%s", dev[d].bdf);
	return access(path, F_OK) == 0;
}

static int unbind(int d)
{
	return write_text(DRIVER_DIR "/unbind", dev[d].bdf);
}

static int bind(int d)
{
	return write_text(DRIVER_DIR "/bind", dev[d].bdf);
}

/*
 * Keeps device @d from binding to any driver from now on: a
 * driver_override that names no driver.
 */
static int park(int d)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", dev[d].bdf);
	return write_text(path, "none");
}

/* The instance's seed for vdev @v: no two (instance, vdev) pairs share a pattern. */
static unsigned int seed_of(int inst, int v, int round)
{
	return 0x6000 + 0x100 * inst + 0x10 * round + v;
}

/* Lines of /proc/iomem that say the BAR of device @d is requested for vdmux. */
static int region_requested(int d)
{
	char want[128], line[256];
	FILE *f = fopen("/proc/iomem", "r");
	int n = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%08llx-%08llx : vdmux", dev[d].bar_start,
		 dev[d].bar_start + dev[d].bar_len - 1);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

/* Loads vdmux in pci mode with @params; both devices bound, in bus order. */
static void load_both(struct __test_metadata *_metadata, const char *params)
{
	ASSERT_EQ(NR_DEVS, nr_found)
		TH_LOG("two ivshmem devices needed: boot with run.sh --ivshmem S --ivshmem2 S2");
	ASSERT_EQ(0, load_pci(params));
	ASSERT_TRUE(bound(0));
	ASSERT_TRUE(bound(1));
}

TEST(both_devices_bind_with_nodes_of_their_own)
{
	struct vdmux_status st[NR_DEVS];
	int inst, v;

	load_both(_metadata, "reserved_size=65536");
	for (inst = 0; inst < NR_DEVS; inst++) {
		ASSERT_TRUE(nodes_are(inst, 1)) TH_LOG("instance %d", inst);
		/* The first device bound (in bus order) is instance 0. */
		EXPECT_TRUE(nodes_belong_to(inst, inst)) TH_LOG("instance %d", inst);
		EXPECT_EQ(1, region_requested(inst));
		ASSERT_EQ(0, status_of_inst(inst, &st[inst]));
		EXPECT_EQ(65536, st[inst].reserved_size);
		EXPECT_EQ(0, st[inst].foreground);
		/* Each instance's sysfs attributes are its own: the limit is its BAR. */
		EXPECT_EQ((long long)dev[inst].bar_len, attr_of(inst, -1, "max_reserved_size"));
		EXPECT_EQ(DEFAULT_NR_VDEVS, attr_of(inst, -1, "nr_vdevs"));
		EXPECT_EQ(0, attr_of(inst, -1, "foreground"));
		for (v = 0; v < DEFAULT_NR_VDEVS; v++)
			EXPECT_LE(0, attr_of(inst, v, "generation"));
	}
	EXPECT_NE(dev[0].bar_len, dev[1].bar_len);
	/* No third instance, and no name of instance 0 for instance 1's nodes. */
	EXPECT_TRUE(nodes_are(2, 0));
	EXPECT_NE(0, access("/dev/vdmux4", F_OK));
	/* Past the smaller BAR: ENOMEM there, fine on the larger one. */
	EXPECT_EQ(-ENOMEM, ctl_ioc(1, VDMUX_IOC_SET_RESERVED_SIZE,
				   (unsigned long)&(uint64_t){ dev[1].bar_len + PAGE }));
	EXPECT_EQ(0, ctl_ioc(0, VDMUX_IOC_SET_RESERVED_SIZE,
			     (unsigned long)&(uint64_t){ dev[1].bar_len + PAGE }));
	EXPECT_EQ(0, unload_module());
	EXPECT_TRUE(nodes_are(0, 0));
	EXPECT_TRUE(nodes_are(1, 0));
	EXPECT_EQ(0, region_requested(0));
	EXPECT_EQ(0, region_requested(1));
}

/*
 * Writes instance @inst's patterns (round @round) into every vdev: the
 * foreground through a mapping, the others with write(2).
 */
static void fill_instance(struct __test_metadata *_metadata, int inst, int round)
{
	int v, fd;
	char *p;

	for (v = 0; v < DEFAULT_NR_VDEVS; v++) {
		fd = open_node(inst, v, O_RDWR);
		ASSERT_LE(0, fd);
		if (v == 0) {
			p = map_shared(fd, SPAN, PROT_READ | PROT_WRITE, 0);
			ASSERT_NE(MAP_FAILED, p);
			fill_tagged(p, SPAN, v, seed_of(inst, v, round), 0);
			munmap(p, SPAN);
		} else {
			ASSERT_EQ(0, fill_vdev(fd, v, seed_of(inst, v, round), SPAN));
		}
		close(fd);
	}
}

/* Whether every vdev of instance @inst holds its pattern of round @round. */
static int instance_holds(int inst, int round)
{
	static char buf[SPAN];
	int v, fd, ok = 1;

	for (v = 0; v < DEFAULT_NR_VDEVS; v++) {
		fd = open_node(inst, v, O_RDONLY);
		if (fd < 0)
			return 0;
		ok &= pread(fd, buf, SPAN, 0) == (ssize_t)SPAN &&
		      has_tagged(buf, SPAN, v, seed_of(inst, v, round), 0);
		close(fd);
	}
	return ok;
}

/* Whether vdev 0 of instance @inst reads as zero: a device bound anew. */
static int instance_is_zero(int inst)
{
	static char buf[SPAN];
	int fd = open_node(inst, 0, O_RDONLY), ok;

	if (fd < 0)
		return 0;
	ok = pread(fd, buf, SPAN, 0) == (ssize_t)SPAN && all_zero(buf, SPAN);
	close(fd);
	return ok;
}

TEST(instances_multiplex_independently)
{
	struct vdmux_status st;
	char params[64];

	snprintf(params, sizeof(params), "reserved_size=%lu", SPAN);
	load_both(_metadata, params);
	fill_instance(_metadata, 0, 0);
	fill_instance(_metadata, 1, 0);
	/* A SWITCH of one instance leaves the other's foreground alone. */
	ASSERT_EQ(0, ctl_ioc(0, VDMUX_IOC_SWITCH, 2));
	ASSERT_EQ(0, status_of_inst(1, &st));
	EXPECT_EQ(0, st.foreground);
	ASSERT_EQ(0, ctl_ioc(1, VDMUX_IOC_SWITCH, 3));
	ASSERT_EQ(0, status_of_inst(0, &st));
	EXPECT_EQ(2, st.foreground);
	ASSERT_EQ(0, status_of_inst(1, &st));
	EXPECT_EQ(3, st.foreground);
	EXPECT_EQ(2, attr_of(0, -1, "foreground"));
	EXPECT_EQ(3, attr_of(1, -1, "foreground"));
	/* Every vdev of each instance holds its own bytes, none of the other's. */
	EXPECT_TRUE(instance_holds(0, 0));
	EXPECT_TRUE(instance_holds(1, 0));
	ASSERT_EQ(0, ctl_ioc(1, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(0, ctl_ioc(0, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(instance_holds(0, 0));
	EXPECT_TRUE(instance_holds(1, 0));
	EXPECT_EQ(0, unload_module());
}

/*
 * Unbinding one device while both are mapped: the unbound one's mappings
 * raise SIGBUS and its nodes go; the other's mappings keep working and
 * keep their bytes, through SWITCHes. Bound again, the device gets its
 * instance number, and so its node names, back. Both ways round.
 */
TEST(unbind_one_while_both_are_mapped)
{
	char params[64], *p[NR_DEVS], c;
	int fd[NR_DEVS], gone, kept;

	snprintf(params, sizeof(params), "reserved_size=%lu", SPAN);
	load_both(_metadata, params);
	for (gone = 0; gone < NR_DEVS; gone++) {
		kept = 1 - gone;
		for (int inst = 0; inst < NR_DEVS; inst++) {
			fd[inst] = open_node(inst, 0, O_RDWR);
			ASSERT_LE(0, fd[inst]);
			p[inst] = map_shared(fd[inst], SPAN, PROT_READ | PROT_WRITE, 0);
			ASSERT_NE(MAP_FAILED, p[inst]);
			fill_tagged(p[inst], SPAN, 0, seed_of(inst, 0, 1 + gone), 0);
		}
		TH_LOG("unbinding %s (instance %d), %s (instance %d) stays", dev[gone].bdf, gone,
		       dev[kept].bdf, kept);
		ASSERT_EQ(0, unbind(gone));
		EXPECT_FALSE(bound(gone));
		EXPECT_TRUE(nodes_are(gone, 0));
		EXPECT_EQ(0, region_requested(gone));
		EXPECT_EQ(SIGBUS, probe_read(p[gone], &c));
		EXPECT_EQ(SIGBUS, probe_read(p[gone] + SPAN - PAGE, &c));
		EXPECT_EQ(-ENODEV, vdmux_ioc(fd[gone], VDMUX_IOC_WAIT_FOREGROUND, 0));
		/* The other one: bound, its nodes there, its mapping as it was. */
		EXPECT_TRUE(bound(kept));
		EXPECT_TRUE(nodes_are(kept, 1));
		EXPECT_TRUE(nodes_belong_to(kept, kept));
		EXPECT_EQ(1, region_requested(kept));
		EXPECT_TRUE(has_tagged(p[kept], SPAN, 0, seed_of(kept, 0, 1 + gone), 0));
		ASSERT_EQ(0, ctl_ioc(kept, VDMUX_IOC_SWITCH, 1));
		EXPECT_TRUE(has_tagged(p[kept], SPAN, 0, seed_of(kept, 0, 1 + gone), 0));
		ASSERT_EQ(0, ctl_ioc(kept, VDMUX_IOC_SWITCH, 0));
		fill_tagged(p[kept], SPAN, 0, seed_of(kept, 0, 5), 0);
		EXPECT_TRUE(has_tagged(p[kept], SPAN, 0, seed_of(kept, 0, 5), 0));

		/* Bound again: its number back, a new device (all zero), the other untouched. */
		ASSERT_EQ(0, bind(gone));
		EXPECT_TRUE(bound(gone));
		ASSERT_TRUE(nodes_are(gone, 1));
		EXPECT_TRUE(nodes_belong_to(gone, gone));
		EXPECT_TRUE(nodes_are(2, 0));
		EXPECT_EQ(SIGBUS, probe_read(p[gone], &c));
		EXPECT_TRUE(has_tagged(p[kept], SPAN, 0, seed_of(kept, 0, 5), 0));
		for (int inst = 0; inst < NR_DEVS; inst++) {
			munmap(p[inst], SPAN);
			close(fd[inst]);
		}
		EXPECT_TRUE(instance_is_zero(gone));
	}
	EXPECT_EQ(0, unload_module());
}

/*
 * The number is the lowest free one when a device binds, whichever the
 * device: the second device bound first is instance 0 (/dev/vdmux).
 */
TEST(instance_numbers_are_the_lowest_free)
{
	load_both(_metadata, "reserved_size=65536");
	ASSERT_EQ(0, unbind(0));
	ASSERT_EQ(0, unbind(1));
	EXPECT_TRUE(nodes_are(0, 0));
	EXPECT_TRUE(nodes_are(1, 0));
	ASSERT_EQ(0, bind(1));
	ASSERT_TRUE(nodes_are(0, 1));
	EXPECT_TRUE(nodes_are(1, 0));
	EXPECT_TRUE(nodes_belong_to(0, 1));
	EXPECT_EQ((long long)dev[1].bar_len, attr_of(0, -1, "max_reserved_size"));
	ASSERT_EQ(0, bind(0));
	ASSERT_TRUE(nodes_are(1, 1));
	EXPECT_TRUE(nodes_belong_to(1, 0));
	EXPECT_EQ((long long)dev[0].bar_len, attr_of(1, -1, "max_reserved_size"));
	/* Unloading unbinds both. */
	EXPECT_EQ(0, unload_module());
	EXPECT_FALSE(bound(0));
	EXPECT_FALSE(bound(1));
	EXPECT_TRUE(nodes_are(0, 0));
	EXPECT_TRUE(nodes_are(1, 0));
	EXPECT_EQ(0, region_requested(0));
	EXPECT_EQ(0, region_requested(1));
}

/*
 * Bind/unbind cycles of one device while the other stays bound and mapped
 * leak nothing (Slab; kmemleak checks every object at the end of the run)
 * and leave the other alone.
 */
TEST(bind_unbind_cycles_leak_nothing)
{
	long slab[2] = { 0, 0 };
	int round, fd, fd1;
	char *p, *q;

	load_both(_metadata, "reserved_size=65536");
	fd1 = open_node(0, 0, O_RDWR);
	ASSERT_LE(0, fd1);
	q = map_shared(fd1, 65536, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q);
	fill_tagged(q, 65536, 0, 77, 0);
	for (round = -2; round < CYCLES; round++) {
		if (round == 0) {
			settle_memory();
			slab[0] = meminfo_kb("Slab");
		}
		ASSERT_TRUE(nodes_are(1, 1)) TH_LOG("round %d", round);
		fd = open_node(1, round & 3, O_RDWR);
		ASSERT_LE(0, fd);
		p = map_shared(fd, 65536, PROT_READ | PROT_WRITE, 0);
		ASSERT_NE(MAP_FAILED, p);
		fill_tagged(p, 65536, round & 3, round + 100, 0);
		EXPECT_EQ(0, ctl_ioc(1, VDMUX_IOC_SWITCH, (round + 1) & 3));
		EXPECT_TRUE(has_tagged(p, 65536, round & 3, round + 100, 0));
		munmap(p, 65536);
		close(fd);
		ASSERT_EQ(0, unbind(1)) TH_LOG("round %d", round);
		ASSERT_TRUE(nodes_are(1, 0));
		ASSERT_EQ(0, bind(1)) TH_LOG("round %d", round);
	}
	EXPECT_TRUE(has_tagged(q, 65536, 0, 77, 0));
	munmap(q, 65536);
	close(fd1);
	ASSERT_EQ(0, unbind(1));
	settle_memory();
	slab[1] = meminfo_kb("Slab");
	ksft_print_msg("%d bind/unbind cycles: Slab %ld kB before, %ld kB after (%+ld kB; tolerance +%d kB)\n",
		       CYCLES, slab[0], slab[1], slab[1] - slab[0], SLAB_TOLERANCE_KB);
	EXPECT_LE(slab[1] - slab[0], SLAB_TOLERANCE_KB);
	EXPECT_EQ(0, region_requested(1));
	EXPECT_EQ(0, unload_module());
}

/*
 * Must be the last test: signatures in both BARs for the host (see
 * qemu/results.py), each instance's with seeds of its own; after the
 * unload the second device is parked (see the top of the file).
 */
TEST(signatures_for_the_host)
{
	static const int final_fg[NR_DEVS] = { 3, 1 };
	int inst;
	char params[64];

	snprintf(params, sizeof(params), "reserved_size=%lu", SPAN);
	load_both(_metadata, params);
	for (inst = 0; inst < NR_DEVS; inst++) {
		fill_instance(_metadata, inst, 9);
		ASSERT_EQ(0, ctl_ioc(inst, VDMUX_IOC_SWITCH, 2));
		ASSERT_EQ(0, ctl_ioc(inst, VDMUX_IOC_SWITCH, final_fg[inst]));
	}
	for (inst = 0; inst < NR_DEVS; inst++) {
		EXPECT_TRUE(instance_holds(inst, 9)) TH_LOG("instance %d", inst);
		printf("# vdmux-ivshmem: wired=1 foreground=%d size=%lu bar=%llu seeds=%u,%u,%u,%u instance=%d\n",
		       final_fg[inst], SPAN, dev[inst].bar_len, seed_of(inst, 0, 9),
		       seed_of(inst, 1, 9), seed_of(inst, 2, 9), seed_of(inst, 3, 9), inst);
	}
	fflush(stdout);
	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, park(1));
}

int main(int argc, char **argv)
{
	nr_found = find_ivshmems();
	return run_then_reload_ram(argc, argv, 120);
}
