// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux in a kernel booted with lockdown=integrity, as a distribution kernel
 * is under Secure Boot (make check-lockdown: the test kernel, an ivshmem-plain
 * device, the signed vdmux.ko).
 *
 * What lockdown refuses is user space's direct way to the hardware, for root
 * too: /dev/mem and /dev/port cannot be opened, and a PCI device's sysfs
 * resourceN and resourceN_wc cannot be mapped nor its config space written
 * (EPERM), whether vdmux holds the BAR or not. Without lockdown the same
 * root maps resource2 of an unclaimed BAR (pci_test does), and a claimed
 * one is refused with EINVAL (IO_STRICT_DEVMEM), not EPERM.
 *
 * What lockdown refuses of vdmux's nodes: nothing. The load with parameters,
 * the ioctls, mmap (RAM pages and the BAR's frames), read, write, SWITCH,
 * EJECT and INSERT work as without it, in both device_memory modes.
 */
#include <dirent.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define NODE_BYTES (1UL << 20)

/* The ivshmem device found by main(), or "". */
static char bdf[256];

static int read_hex(const char *dir, const char *name, unsigned long *val)
{
	char path[1024], buf[64];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = read_first_line(path, buf, sizeof(buf));
	if (!ret)
		*val = strtoul(buf, NULL, 16);
	return ret;
}

/* The first ivshmem device in bus order, the one vdmux binds first. */
static void find_ivshmem(void)
{
	if (find_pci_device(IVSHMEM_VENDOR, IVSHMEM_DEVICE, bdf, sizeof(bdf)))
		bdf[0] = 0;
}

static const char *pci_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, name);
	return path;
}

/* -errno of mmap(2) of the first page of @file (0 if it mapped). */
static int mmap_errno(const char *file)
{
	int fd = open(file, O_RDWR | O_CLOEXEC), err = 0;
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err = -errno;
	else
		munmap(p, PAGE);
	close(fd);
	return err;
}

/* -errno of open(2) of @file (0 if it opened). */
static int open_errno(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* -errno of a write of the config space's interrupt line, rewritten as it is. */
static int config_write_errno(void)
{
	int fd = open(pci_path("config"), O_RDWR | O_CLOEXEC), err = 0;
	unsigned char line;

	if (fd < 0)
		return -errno;
	if (pread(fd, &line, 1, 0x3c) != 1 || pwrite(fd, &line, 1, 0x3c) != 1)
		err = -errno;
	close(fd);
	return err;
}

static void check_pci_files_refused(struct __test_metadata *_metadata)
{
	unsigned long vendor;
	char dir[512];

	/* Reading the standard header is not refused. */
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", bdf);
	ASSERT_EQ(0, read_hex(dir, "vendor", &vendor));
	EXPECT_EQ(IVSHMEM_VENDOR, vendor);
	EXPECT_EQ(-EPERM, mmap_errno(pci_path("resource2")));
	/* x86 offers a write-combining twin of a prefetchable BAR's file. */
	if (access(pci_path("resource2_wc"), F_OK) == 0)
		EXPECT_EQ(-EPERM, mmap_errno(pci_path("resource2_wc")));
	EXPECT_EQ(-EPERM, config_write_errno());
}

/* Reloads vdmux with @params: what a test starts from. */
static int reload(const char *params)
{
	int ret;

	if (module_loaded()) {
		ret = unload_module();
		if (ret)
			return ret;
	}
	return load_module(params);
}

/*
 * Every kind of node operation, each checked by what comes back: vdev 0
 * written through a mapping, vdev 1 with write(2), a SWITCH that moves both,
 * an EJECT whose mapping raises SIGBUS, an INSERT that brings the bytes back.
 */
static void exercise_nodes(struct __test_metadata *_metadata)
{
	static char buf[NODE_BYTES];
	struct vdmux_status st;
	int ctl, fd0, fd1;
	char *p, c;

	ASSERT_EQ(0, set_reserved(NODE_BYTES));
	ASSERT_EQ(0, open_ctl_and_pair(&ctl, &fd0, &fd1));
	ASSERT_EQ(0, get_status(ctl, &st));
	EXPECT_EQ(0, st.foreground);
	EXPECT_EQ(NODE_BYTES, st.reserved_size);

	p = map_shared(fd0, NODE_BYTES, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap of /dev/vdmux0: %s", strerror(errno));
	fill_tagged(p, NODE_BYTES, 0, 31, 0);
	fill_tagged(buf, NODE_BYTES, 1, 32, 0);
	ASSERT_EQ(NODE_BYTES, pwrite(fd1, buf, NODE_BYTES, 0));

	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_SWITCH, 1));
	ASSERT_EQ(0, get_status(ctl, &st));
	EXPECT_EQ(1, st.foreground);
	/* vdev 0 is in its store now: the mapping faults its pages back in. */
	EXPECT_TRUE(has_tagged(p, NODE_BYTES, 0, 31, 0));
	ASSERT_EQ(NODE_BYTES, pread(fd1, buf, NODE_BYTES, 0));
	EXPECT_TRUE(has_tagged(buf, NODE_BYTES, 1, 32, 0));

	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_EJECT, 0));
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	EXPECT_EQ(-1, pread(fd0, buf, NODE_BYTES, 0));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_INSERT, 0));
	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_tagged(p, NODE_BYTES, 0, 31, 0));
	ASSERT_EQ(NODE_BYTES, pread(fd1, buf, NODE_BYTES, 0));
	EXPECT_TRUE(has_tagged(buf, NODE_BYTES, 1, 32, 0));

	munmap(p, NODE_BYTES);
	close(fd0);
	close(fd1);
	close(ctl);
}

TEST(booted_locked_down)
{
	char cmdline[4096];

	ASSERT_EQ(0, read_text("/proc/cmdline", cmdline, sizeof(cmdline)));
	ASSERT_NE(NULL, strstr(cmdline, "lockdown=integrity"))
		TH_LOG("boot with lockdown=integrity: make check-lockdown");
}

TEST(dev_mem_and_dev_port_are_refused)
{
	EXPECT_EQ(-EPERM, open_errno("/dev/mem"));
	/* Only with CONFIG_DEVPORT (Debian's kernels; not the test kernels). */
	if (access("/dev/port", F_OK) == 0)
		EXPECT_EQ(-EPERM, open_errno("/dev/port"));
}

TEST(resource_files_are_refused_while_nothing_holds_the_bar)
{
	ASSERT_TRUE(bdf[0]) TH_LOG("no 1af4:1110 device: boot with qemu/run.sh --ivshmem SIZE");
	ASSERT_EQ(0, reload("device_memory=ram"));
	ASSERT_NE(0, access(pci_path("driver"), F_OK));
	check_pci_files_refused(_metadata);
}

TEST(resource_files_are_refused_while_vdmux_holds_the_bar)
{
	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, reload("device_memory=pci"));
	ASSERT_EQ(0, access(pci_path("driver"), F_OK));
	check_pci_files_refused(_metadata);
	EXPECT_EQ(0, unload_module());
}

TEST(nodes_work_with_ram_device_memory)
{
	ASSERT_EQ(0, reload("device_memory=ram"));
	exercise_nodes(_metadata);
	EXPECT_EQ(0, unload_module());
}

TEST(nodes_work_with_the_bar_as_device_memory)
{
	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, reload("device_memory=pci"));
	ASSERT_EQ(0, access(pci_path("driver"), F_OK));
	exercise_nodes(_metadata);
	EXPECT_EQ(0, unload_module());
}

int main(int argc, char **argv)
{
	find_ivshmem();
	return run_then_reload_ram(argc, argv, 60);
}
