// SPDX-License-Identifier: GPL-2.0
/*
 * device_memory=pci on devices other than ivshmem: user space hands vdmux
 * a PCI device as it hands one to vfio-pci or uio_pci_generic, through its
 * driver_override and drivers_probe; the device memory is the largest
 * prefetchable memory BAR unless bar= chooses one; a device or a choice
 * without a usable memory BAR is refused with a line in the kernel log
 * that says why.
 *
 * Needs the guest of make check-screen: QEMU's standard VGA (1234:1111,
 * video memory in BAR 0, its registers in BAR 2) besides the ivshmem-plain
 * device, and q35's SMBus controller (8086:2930), whose only BAR, BAR 4, is
 * I/O space and which the test kernel has no driver for.
 *
 * That BAR 0 of the VGA is the device memory is seen through its resource0
 * file once vdmux let the device go: it holds the foreground's bytes, and
 * those of no background vdev.
 */
#include "kselftest_harness.h"
#include "vdmux_test.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define DRIVER_DIR "/sys/bus/pci/drivers/vdmux"
#define IORESOURCE_IO 0x100ULL
#define IORESOURCE_MEM 0x200ULL
/* What the tests write into vdevs and find in the BAR. */
#define SPAN (256 * 1024UL)

struct pci_dev_info {
	char bdf[256];
	unsigned long long start[6], len[6], flags[6];
};

/* The first device @vendor:@device and its BARs: 0, or -ENODEV. */
static int find_device(unsigned int vendor, unsigned int device, struct pci_dev_info *dev)
{
	char path[512], line[256];
	unsigned long long end;
	FILE *f;
	int i, ret;

	memset(dev, 0, sizeof(*dev));
	ret = find_pci_device(vendor, device, dev->bdf, sizeof(dev->bdf));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource", dev->bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (i = 0; i < 6 && fgets(line, sizeof(line), f); i++) {
		if (sscanf(line, "%llx %llx %llx", &dev->start[i], &end, &dev->flags[i]) != 3)
			break;
		dev->len[i] = dev->start[i] || end ? end - dev->start[i] + 1 : 0;
	}
	fclose(f);
	return i == 6 ? 0 : -EIO;
}

static const char *dev_path(const struct pci_dev_info *dev, const char *name)
{
	static char path[640];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", dev->bdf, name);
	return path;
}

static int bound_to_vdmux(const struct pci_dev_info *dev)
{
	char path[512];

	snprintf(path, sizeof(path), DRIVER_DIR "/%s", dev->bdf);
	return access(path, F_OK) == 0;
}

/* Hands @dev to vdmux as to vfio-pci: driver_override, then drivers_probe. */
static int probe_by_override(const struct pci_dev_info *dev)
{
	int ret = write_text(dev_path(dev, "driver_override"), "vdmux");

	return ret ? ret : write_text("/sys/bus/pci/drivers_probe", dev->bdf);
}

/* Lets @dev go: unbound if vdmux has it, driver_override cleared. */
static void release_device(const struct pci_dev_info *dev)
{
	if (!dev->bdf[0])
		return;
	if (bound_to_vdmux(dev))
		write_text(DRIVER_DIR "/unbind", dev->bdf);
	write_text(dev_path(dev, "driver_override"), "\n");
}

/* /dev/kmsg, at the end of the log: what an action makes the kernel print. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* The records of @fd since kmsg_open, joined into @buf. */
static void kmsg_read(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	buf[0] = 0;
	while (used + 1 < len) {
		n = read(fd, buf + used, len - used - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		used += n;
	}
	buf[used] = 0;
}

/* Whether the log @log has a line from device @bdf that contains @text. */
static int log_has(const char *log, const char *bdf, const char *text)
{
	const char *line = log, *end;
	char buf[512];

	for (; *line; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		if (strstr(buf, bdf) && strstr(buf, text))
			return 1;
	}
	return 0;
}

FIXTURE(bind)
{
	struct pci_dev_info vga, ivshmem, smbus;
	int kmsg;
	char log[32768];
};

FIXTURE_SETUP(bind)
{
	int ret;

	self->kmsg = -1;
	ret = find_device(0x1234, 0x1111, &self->vga);
	if (ret == -ENODEV)
		SKIP(return, "no standard VGA (1234:1111) in this guest");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, find_device(IVSHMEM_VENDOR, IVSHMEM_DEVICE, &self->ivshmem));
	ASSERT_EQ(0, find_device(0x8086, 0x2930, &self->smbus));
	/* What the tests rely on, as the PCI core says it. */
	ASSERT_TRUE(self->vga.flags[0] & IORESOURCE_MEM);
	ASSERT_LE(SPAN, self->vga.len[0]);
	ASSERT_TRUE(self->smbus.flags[4] & IORESOURCE_IO);
	for (int i = 0; i < 6; i++)
		ASSERT_FALSE(self->smbus.flags[i] & IORESOURCE_MEM);
	ASSERT_NE(0, access(dev_path(&self->vga, "driver"), F_OK));
	ASSERT_NE(0, access(dev_path(&self->smbus, "driver"), F_OK));
	self->kmsg = kmsg_open();
	ASSERT_LE(0, self->kmsg);
}

FIXTURE_TEARDOWN(bind)
{
	release_device(&self->vga);
	release_device(&self->smbus);
	if (self->kmsg >= 0)
		close(self->kmsg);
	if (module_loaded())
		unload_module();
	load_module("");
}

/* Status of the device whose control node is /dev/vdmux. */
static int status(struct vdmux_status *st)
{
	int fd = open(CTL_PATH, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = get_status(fd, st) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Bound through driver_override: the nodes come, the device memory is the
 * whole of BAR 0 (16 MiB of video memory, not BAR 2's registers), and the
 * vdevs are multiplexed on it.
 */
TEST_F(bind, vga_by_driver_override_multiplexes_bar_0)
{
	struct vdmux_status st;
	char *m0, *m1, want[64];
	volatile char *bar;
	int ctl, fd0, fd1, fd;

	ASSERT_EQ(0, load_pci(""));
	/* ivshmem binds by its ID; unbound, it leaves instance 0 to the VGA. */
	ASSERT_TRUE(bound_to_vdmux(&self->ivshmem));
	ASSERT_EQ(0, write_text(DRIVER_DIR "/unbind", self->ivshmem.bdf));
	ASSERT_NE(0, access(CTL_PATH, F_OK));

	ASSERT_EQ(0, probe_by_override(&self->vga));
	ASSERT_TRUE(bound_to_vdmux(&self->vga));
	ASSERT_EQ(0, status(&st));
	EXPECT_EQ(self->vga.len[0], st.reserved_size);
	kmsg_read(self->kmsg, self->log, sizeof(self->log));
	snprintf(want, sizeof(want), "BAR 0: %llu bytes at %#llx", self->vga.len[0],
		 self->vga.start[0]);
	EXPECT_TRUE(log_has(self->log, self->vga.bdf, want))
		TH_LOG("no \"%s\" in:\n%s", want, self->log);

	ASSERT_EQ(0, open_ctl_and_pair(&ctl, &fd0, &fd1));
	m0 = mmap(NULL, SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, fd0, 0);
	m1 = mmap(NULL, SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	ASSERT_NE(MAP_FAILED, m0);
	ASSERT_NE(MAP_FAILED, m1);
	fill_tagged(m0, SPAN, 0, 1, 0);
	fill_tagged(m1, SPAN, 1, 1, 0);
	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(SPAN, tagged_mismatch(m0, SPAN, 0, 1, 0));
	EXPECT_EQ(SPAN, tagged_mismatch(m1, SPAN, 1, 1, 0));
	ASSERT_EQ(0, ioctl(ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ(SPAN, tagged_mismatch(m0, SPAN, 0, 1, 0));
	munmap(m0, SPAN);
	munmap(m1, SPAN);
	close(fd0);
	close(fd1);
	close(ctl);

	/* Let go, BAR 0 holds vdev 0's bytes, the foreground's. */
	ASSERT_EQ(0, write_text(DRIVER_DIR "/unbind", self->vga.bdf));
	EXPECT_NE(0, access(CTL_PATH, F_OK));
	fd = open(dev_path(&self->vga, "resource0"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	bar = mmap(NULL, SPAN, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, bar);
	EXPECT_EQ(SPAN, tagged_mismatch(bar, SPAN, 0, 1, 0));
	EXPECT_EQ(0, tagged_mismatch(bar, SPAN, 1, 1, 0));
	munmap((void *)bar, SPAN);
}

/*
 * One multiplexer per bound device: the VGA, handed over while the ivshmem
 * device is bound, binds as instance 1, with nodes of its own whose sysfs
 * device is the VGA; unbinding the ivshmem device leaves them.
 */
TEST_F(bind, second_device_binds_as_instance_1)
{
	char target[512], want[64];
	ssize_t n;

	ASSERT_EQ(0, load_pci(""));
	ASSERT_TRUE(bound_to_vdmux(&self->ivshmem));
	ASSERT_EQ(0, probe_by_override(&self->vga));
	EXPECT_TRUE(bound_to_vdmux(&self->vga));
	kmsg_read(self->kmsg, self->log, sizeof(self->log));
	snprintf(want, sizeof(want), "instance 1, BAR 0: %llu bytes", self->vga.len[0]);
	EXPECT_TRUE(log_has(self->log, self->vga.bdf, want))
		TH_LOG("no \"%s\" in:\n%s", want, self->log);
	ASSERT_EQ(0, access("/dev/vdmux-1", F_OK));
	n = readlink("/sys/class/misc/vdmux-1.0/device", target, sizeof(target) - 1);
	ASSERT_LT(0, n);
	target[n] = 0;
	EXPECT_STREQ(self->vga.bdf, strrchr(target, '/') + 1);
	ASSERT_EQ(0, write_text(DRIVER_DIR "/unbind", self->ivshmem.bdf));
	EXPECT_NE(0, access(CTL_PATH, F_OK));
	EXPECT_TRUE(bound_to_vdmux(&self->vga));
	EXPECT_EQ(0, access("/dev/vdmux-1", F_OK));
}

/*
 * A device whose only BAR is I/O space: not bound, by default (no
 * prefetchable memory BAR) nor with bar= naming it, each with its reason
 * in the log.
 */
TEST_F(bind, io_only_device_is_refused)
{
	ASSERT_EQ(0, load_pci(""));
	ASSERT_EQ(0, probe_by_override(&self->smbus));
	EXPECT_FALSE(bound_to_vdmux(&self->smbus));
	kmsg_read(self->kmsg, self->log, sizeof(self->log));
	EXPECT_TRUE(log_has(self->log, self->smbus.bdf,
			    "no prefetchable memory BAR (the bar= parameter chooses another): not binding"))
		TH_LOG("%s", self->log);
	/* The ivshmem device stays bound. */
	EXPECT_TRUE(bound_to_vdmux(&self->ivshmem));
	release_device(&self->smbus);

	ASSERT_EQ(0, load_pci("bar=4"));
	ASSERT_EQ(0, probe_by_override(&self->smbus));
	EXPECT_FALSE(bound_to_vdmux(&self->smbus));
	kmsg_read(self->kmsg, self->log, sizeof(self->log));
	EXPECT_TRUE(log_has(self->log, self->smbus.bdf,
			    "BAR 4 is I/O space, not memory: not binding"))
		TH_LOG("%s", self->log);
}

/*
 * bar= on ivshmem-plain: BAR 2 binds as by default; BAR 0 (256 bytes of
 * registers) is too small, BAR 1 does not exist. The refused loads leave
 * the device unbound and no node behind.
 */
TEST_F(bind, bar_parameter_chooses_and_is_checked)
{
	static const struct {
		const char *params, *line;
	} refused[] = {
		{ "bar=0", "BAR 0 is 256 bytes, smaller than a page: not binding" },
		{ "bar=1", "BAR 1 is not present: not binding" },
		{ "bar=5", "BAR 5 is not present: not binding" },
	};
	struct vdmux_status st;
	unsigned int i;

	ASSERT_EQ(256, self->ivshmem.len[0]);
	ASSERT_EQ(0, self->ivshmem.len[1]);
	ASSERT_EQ(0, load_pci("bar=2"));
	EXPECT_TRUE(bound_to_vdmux(&self->ivshmem));
	EXPECT_EQ(0, status(&st));
	EXPECT_EQ(self->ivshmem.len[2], st.reserved_size);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		TH_LOG("%s", refused[i].params);
		kmsg_read(self->kmsg, self->log, sizeof(self->log));
		ASSERT_EQ(0, load_pci(refused[i].params));
		EXPECT_FALSE(bound_to_vdmux(&self->ivshmem));
		EXPECT_NE(0, access(CTL_PATH, F_OK));
		kmsg_read(self->kmsg, self->log, sizeof(self->log));
		EXPECT_TRUE(log_has(self->log, self->ivshmem.bdf, refused[i].line))
			TH_LOG("no \"%s\" in:\n%s", refused[i].line, self->log);
	}
}

TEST_HARNESS_MAIN
