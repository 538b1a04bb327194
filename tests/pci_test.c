// SPDX-License-Identifier: GPL-2.0
/*
 * device_memory=pci: vdmux as the PCI driver of QEMU's ivshmem-plain
 * (1af4:1110), whose BAR 2 is the device memory. Needs a guest booted with
 * qemu/run.sh --ivshmem SIZE (make check does).
 *
 * The device is found in /sys/bus/pci/devices; vdmux binds to it only when
 * loaded with device_memory=pci, its nodes come and go with the binding,
 * binding and unbinding leak nothing (vmalloc, slab, the ioremap, the
 * region, the PAT memory type), and unbinding while a vdev is mapped, or
 * while a process switches vdevs, makes every access through the mapping
 * raise SIGBUS and every file operation fail, with nothing crashing. An
 * autogrow store grows the buffer into the BAR, up to the BAR's size.
 *
 * Two tests (bar_is_the_foreground, signatures_for_the_host) check that the
 * foreground's bytes are in the BAR, seen through sysfs's resource2 once
 * vdmux let the BAR go (a claimed BAR's resource file cannot be mapped under
 * IO_STRICT_DEVMEM), and no background vdev's. The last test leaves signatures for the host, which
 * reads the BAR's backing file after the guest ended (qemu/results.py
 * --ivshmem); nothing may bind in pci mode after it.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

/* The mux's device memory is the BAR. */
#define BAR_IS_DEVICE_MEMORY 1

#define HUGE PMD_BLOCK
/*
 * What unbind_while_mapped_raises_sigbus maps of the BAR: two PMD blocks,
 * or 64 MiB (the BAR qemu/run.sh gives) where those are more (64 KiB pages).
 */
#define HUGE_LEN (2 * HUGE <= DEFAULT_MAX_RESERVED ? 2 * HUGE : DEFAULT_MAX_RESERVED)
#define DRIVER_DIR "/sys/bus/pci/drivers/vdmux"
#define PAT_LIST "/sys/kernel/debug/x86/pat_memtype_list"
#define IORESOURCE_MEM 0x200ULL
#define IORESOURCE_PREFETCH 0x2000ULL
#define IORESOURCE_MEM_64 0x100000ULL

#define VMALLOC_TOLERANCE_KB 1024
#define SLAB_TOLERANCE_KB (8 * 1024)
#define CYCLES 20
#define CYCLE_RESERVED (64 * 1024UL)

/* The ivshmem device and its BAR 2, found by main() before the tests run. */
static char bdf[256];
static unsigned long long bar_start, bar_len, bar_flags;

/* The first ivshmem device in bus order (the one vdmux binds first) and its BAR 2. */
static int find_ivshmem(void)
{
	int ret = find_pci_device(IVSHMEM_VENDOR, IVSHMEM_DEVICE, bdf, sizeof(bdf));

	if (ret)
		return ret;
	return pci_bar_range(bdf, 2, &bar_start, &bar_len, &bar_flags);
}

static const char *pci_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, name);
	return path;
}

static int bound(void)
{
	char path[512];

	snprintf(path, sizeof(path), DRIVER_DIR "/%s", bdf);
	return access(path, F_OK) == 0;
}

static int unbind(void)
{
	return write_text(DRIVER_DIR "/unbind", bdf);
}

static int bind(void)
{
	return write_text(DRIVER_DIR "/bind", bdf);
}

/* Whether /dev/vdmux and /dev/vdmux0 ... /dev/vdmux3 all exist (@want 1) or none does (0). */
static int nodes_are(int want)
{
	int i, n = access(CTL_PATH, F_OK) == 0;

	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		n += access(vdev_path(i), F_OK) == 0;
	return n == (want ? DEFAULT_NR_VDEVS + 1 : 0);
}

/* How many lines of @path contain @text; -1 if it cannot be read. */
static int count_lines(const char *path, const char *text)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* Kernel mappings of the BAR: /proc/vmallocinfo lines with its address. */
static int bar_ioremaps(void)
{
	char text[64];

	snprintf(text, sizeof(text), "phys=0x%016llx", bar_start);
	return count_lines("/proc/vmallocinfo", text);
}

/*
 * Whether the BAR's region is requested for vdmux (/proc/iomem): its own
 * line, since another device may be bound too (multi_test's guest).
 */
static int region_requested(void)
{
	char text[128];

	snprintf(text, sizeof(text), "%08llx-%08llx : vdmux", bar_start, bar_start + bar_len - 1);
	return count_lines("/proc/iomem", text) == 1;
}

/* The PAT memory type reserved for exactly the BAR: 1 write-combining, 0 none, -1 unknown. */
static int bar_memtype_wc(void)
{
	char text[128];

	if (access(PAT_LIST, R_OK))
		return -1;
	snprintf(text, sizeof(text), "[mem 0x%016llx-0x%016llx] write-combining", bar_start,
		 bar_start + bar_len);
	return count_lines(PAT_LIST, text);
}

/*
 * A mapping of BAR 2 through sysfs (as root), read-only unless @writable, or
 * MAP_FAILED. Only while no driver holds the BAR: under IO_STRICT_DEVMEM
 * (Debian's kernels and the test kernels) the resource file of a region a
 * driver requested cannot be mapped (EINVAL), so the tests read the BAR
 * once vdmux let it go; unbinding leaves the foreground's bytes there.
 */
static volatile char *map_bar_rw(size_t len, int writable)
{
	int fd = open(pci_path("resource2"), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p;
}

static const volatile char *map_bar(size_t len)
{
	return map_bar_rw(len, 0);
}

/*
 * -errno of mmap(2) of the BAR's first page through /dev/mem (0 if it
 * mapped): STRICT_DEVMEM allows an I/O region that no driver holds, and
 * refuses one that a driver requested with EPERM.
 */
static int dev_mem_map_errno(void)
{
	int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC), err = 0;
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t)bar_start);
	if (p == MAP_FAILED)
		err = -errno;
	else
		munmap(p, PAGE);
	close(fd);
	return err;
}

static void unmap_bar(const volatile char *p, size_t len)
{
	munmap((void *)p, len);
}

/* Whether the first @len bytes (a multiple of 8) of @p are all zero, read 8 at a time. */
static int words_zero(const volatile char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		if (*(const volatile uint64_t *)(p + i))
			return 0;
	return 1;
}

/* Whether the first @len bytes of the BAR are all zero; -1 if it cannot be mapped. */
static int bar_is_zero(size_t len)
{
	const volatile char *p = map_bar(len);
	int ret;

	if (p == MAP_FAILED)
		return -1;
	ret = words_zero(p, len);
	unmap_bar(p, len);
	return ret;
}

static uint64_t reserved_size_now(void)
{
	struct vdmux_status st;

	return status_of(-1, &st) ? 0 : st.reserved_size;
}

/* The size device_memory=pci gives by default: the BAR, at most 1 GiB. */
static uint64_t bar_default_size(void)
{
	return bar_len < (1ULL << 30) ? bar_len : 1ULL << 30;
}


TEST(ivshmem_is_present)
{
	ASSERT_TRUE(bdf[0]) TH_LOG("no 1af4:1110 device: boot with qemu/run.sh --ivshmem SIZE");
	TH_LOG("ivshmem at %s: BAR 2 %llu bytes at 0x%llx, flags 0x%llx", bdf, bar_len, bar_start,
	       bar_flags);
	EXPECT_TRUE(bar_flags & IORESOURCE_MEM);
	EXPECT_TRUE(bar_flags & IORESOURCE_PREFETCH);
	EXPECT_TRUE(bar_flags & IORESOURCE_MEM_64);
	EXPECT_EQ(0, bar_len & (bar_len - 1));
	EXPECT_LE(HUGE_LEN, bar_len);
	EXPECT_EQ(0, access(pci_path("resource2"), R_OK));
	/* No other driver has it. */
	EXPECT_NE(0, access(pci_path("driver"), F_OK));
}

TEST(ram_mode_has_no_pci_driver)
{
	char text[16];

	ASSERT_TRUE(bdf[0]);
	if (module_loaded())
		ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("device_memory=ram"));
	EXPECT_EQ(0, read_first_line("/sys/module/vdmux/parameters/device_memory", text,
				     sizeof(text)));
	EXPECT_STREQ("ram", text);
	EXPECT_NE(0, access(DRIVER_DIR, F_OK));
	EXPECT_NE(0, access(pci_path("driver"), F_OK));
	EXPECT_TRUE(nodes_are(1));
	EXPECT_EQ(DEFAULT_RESERVED, reserved_size_now());
	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	EXPECT_EQ(0, read_first_line("/sys/module/vdmux/parameters/device_memory", text,
				     sizeof(text)));
	EXPECT_STREQ("ram", text);
	EXPECT_NE(0, access(DRIVER_DIR, F_OK));
	EXPECT_EQ(0, unload_module());
}

TEST(bad_device_memory_is_einval)
{
	static const char *const bad[] = {
		"device_memory=",
		"device_memory=foo",
		"device_memory=PCI",
		"device_memory=pcie",
		"device_memory=pci reserved_size=0",
		"device_memory=pci max_reserved_size=0",
		"device_memory=pci max_reserved_size=1073741825",
		"device_memory=pci nr_vdevs=0",
		"device_memory=pci fault_around_pages=3",
	};
	size_t i;

	if (module_loaded())
		ASSERT_EQ(0, unload_module());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TH_LOG("insmod vdmux.ko %s", bad[i]);
		EXPECT_EQ(-EINVAL, load_module(bad[i]));
		EXPECT_FALSE(module_loaded());
	}
}

TEST(binds_in_pci_mode)
{
	struct vdmux_status st;
	volatile char *bar;
	char text[16];

	ASSERT_TRUE(bdf[0]);
	/* Bytes in the BAR before the bind, which the bind must clear. */
	ASSERT_EQ(0, module_loaded() ? unload_module() : 0);
	bar = map_bar_rw(bar_len, 1);
	ASSERT_NE(MAP_FAILED, bar) TH_LOG("resource2 of an unclaimed BAR: %s", strerror(errno));
	memset((char *)bar, 0x5a, bar_len);
	munmap((void *)bar, bar_len);
	EXPECT_EQ(0, dev_mem_map_errno());
	ASSERT_EQ(0, load_pci(""));
	/* Claimed by vdmux, the BAR cannot be mapped through its resource file nor /dev/mem. */
	errno = 0;
	EXPECT_EQ(MAP_FAILED, map_bar(PAGE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EPERM, dev_mem_map_errno());
	EXPECT_EQ(0, read_first_line("/sys/module/vdmux/parameters/device_memory", text,
				     sizeof(text)));
	EXPECT_STREQ("pci", text);
	ASSERT_TRUE(bound());
	EXPECT_EQ(0, access(pci_path("driver"), F_OK));
	ASSERT_TRUE(nodes_are(1));
	ASSERT_EQ(0, status_of(-1, &st));
	EXPECT_EQ(DEFAULT_NR_VDEVS, st.nr_vdevs);
	EXPECT_EQ(0, st.foreground);
	/* reserved_size and max_reserved_size default to the BAR's size. */
	EXPECT_EQ(bar_default_size(), st.reserved_size);
	EXPECT_EQ(-ENOMEM, set_reserved(bar_default_size() + PAGE));
	/* The BAR is requested, mapped once, write-combining, and zeroed. */
	EXPECT_TRUE(region_requested());
	EXPECT_EQ(1, bar_ioremaps());
	if (bar_memtype_wc() < 0)
		TH_LOG("no %s: the memory type is not checked", PAT_LIST);
	else
		EXPECT_EQ(1, bar_memtype_wc());
	/* Unbinding saves the foreground as an EJECT does: keep that short. */
	EXPECT_EQ(0, set_reserved(PAGE));
	EXPECT_EQ(0, unload_module());
	/* The bind zeroed the BAR, and nothing wrote it since. */
	EXPECT_EQ(1, bar_is_zero(bar_len));
	EXPECT_FALSE(region_requested());
	EXPECT_EQ(0, bar_ioremaps());
	EXPECT_NE(1, bar_memtype_wc());
}

TEST(sizes_are_bounded_by_the_bar)
{
	char params[128];

	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, load_pci("reserved_size=8192"));
	ASSERT_TRUE(bound());
	EXPECT_EQ(round_up_to(8192, PAGE), reserved_size_now());
	EXPECT_EQ(0, set_reserved(bar_default_size()));
	/* Past the BAR there is no device memory to be had. */
	EXPECT_EQ(-ENOMEM, set_reserved(bar_default_size() + 1));
	EXPECT_EQ(0, set_reserved(PAGE));

	snprintf(params, sizeof(params), "max_reserved_size=%llu", bar_len / 2);
	ASSERT_EQ(0, load_pci(params));
	ASSERT_TRUE(bound());
	EXPECT_EQ(bar_len / 2, reserved_size_now());
	EXPECT_EQ(-EINVAL, set_reserved(bar_len / 2 + 1));
	EXPECT_EQ(0, set_reserved(PAGE));

	/* Larger than the BAR: the module loads, the probe refuses the device. */
	snprintf(params, sizeof(params), "reserved_size=%llu", 2 * bar_len);
	if (2 * bar_len <= (1ULL << 30)) {
		ASSERT_EQ(0, load_pci(params));
		EXPECT_FALSE(bound());
		EXPECT_TRUE(nodes_are(0));
		EXPECT_FALSE(region_requested());
		EXPECT_EQ(0, bar_ioremaps());
	}
	EXPECT_EQ(0, unload_module());
}

TEST(nodes_come_and_go_with_the_binding)
{
	char buf[PAGE], zero[PAGE];
	struct vdmux_status st;
	int i, fd;

	memset(zero, 0, sizeof(zero));

	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, load_pci("reserved_size=65536"));
	ASSERT_TRUE(nodes_are(1));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	fill_pattern(buf, sizeof(buf), 7);
	ASSERT_EQ(PAGE, pwrite(fd, buf, sizeof(buf), 0));
	close(fd);
	ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 1));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, unbind()) TH_LOG("round %d", i);
		EXPECT_FALSE(bound());
		EXPECT_TRUE(nodes_are(0));
		EXPECT_NE(0, access("/sys/class/misc/vdmux", F_OK));
		EXPECT_NE(0, access(pci_path("driver"), F_OK));
		EXPECT_FALSE(region_requested());
		EXPECT_EQ(0, bar_ioremaps());
		EXPECT_NE(1, bar_memtype_wc());
		/* The module stays, with its driver. */
		EXPECT_TRUE(module_loaded());
		EXPECT_EQ(0, access(DRIVER_DIR, F_OK));

		ASSERT_EQ(0, bind());
		EXPECT_TRUE(bound());
		ASSERT_TRUE(nodes_are(1));
		EXPECT_TRUE(region_requested());
		EXPECT_EQ(1, bar_ioremaps());
		/* A new device: vdev 0 in the foreground, all zeroes. */
		ASSERT_EQ(0, status_of(-1, &st));
		EXPECT_EQ(0, st.foreground);
		EXPECT_EQ(65536, st.reserved_size);
		fd = open_vdev(0, O_RDONLY);
		ASSERT_LE(0, fd);
		EXPECT_EQ(PAGE, pread(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(0, memcmp(buf, zero, sizeof(buf)));
		close(fd);
	}
	EXPECT_EQ(0, unload_module());
}

TEST(bind_unbind_cycles_leak_nothing)
{
	long slab[2], vmalloc[2];
	int round, fd;
	char *p;

	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, load_pci("reserved_size=65536"));
	ASSERT_TRUE(bound());
	/* Two unmeasured rounds fill the caches a first bind needs. */
	for (round = -2; round < CYCLES; round++) {
		if (round == 0) {
			settle_memory();
			slab[0] = meminfo_kb("Slab");
			vmalloc[0] = meminfo_kb("VmallocUsed");
		}
		ASSERT_TRUE(nodes_are(1)) TH_LOG("round %d", round);
		fd = open_vdev(round & 3, O_RDWR);
		ASSERT_LE(0, fd);
		p = map_shared(fd, CYCLE_RESERVED, PROT_READ | PROT_WRITE, 0);
		ASSERT_NE(MAP_FAILED, p);
		fill_tagged(p, CYCLE_RESERVED, round & 3, round + 100, 0);
		EXPECT_TRUE(has_tagged(p, CYCLE_RESERVED, round & 3, round + 100, 0));
		EXPECT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, (round + 1) & 3));
		EXPECT_TRUE(has_tagged(p, CYCLE_RESERVED, round & 3, round + 100, 0));
		munmap(p, CYCLE_RESERVED);
		close(fd);
		ASSERT_EQ(0, unbind()) TH_LOG("round %d", round);
		ASSERT_TRUE(nodes_are(0));
		ASSERT_EQ(0, bind()) TH_LOG("round %d", round);
	}
	ASSERT_EQ(0, unbind());
	settle_memory();
	slab[1] = meminfo_kb("Slab");
	vmalloc[1] = meminfo_kb("VmallocUsed");
	ksft_print_msg("%d bind/unbind cycles: Slab %ld kB before, %ld kB after (%+ld kB; tolerance +%d kB)\n",
		       CYCLES, slab[0], slab[1], slab[1] - slab[0], SLAB_TOLERANCE_KB);
	ksft_print_msg("VmallocUsed %ld kB before, %ld kB after (%+ld kB; tolerance +%d kB)\n",
		       vmalloc[0], vmalloc[1], vmalloc[1] - vmalloc[0], VMALLOC_TOLERANCE_KB);
	EXPECT_LE(slab[1] - slab[0], SLAB_TOLERANCE_KB);
	EXPECT_LE(vmalloc[1] - vmalloc[0], VMALLOC_TOLERANCE_KB);
	EXPECT_EQ(0, bar_ioremaps());
	EXPECT_FALSE(region_requested());
	EXPECT_NE(1, bar_memtype_wc());
	EXPECT_EQ(0, unload_module());
}

TEST(unbind_while_mapped_raises_sigbus)
{
	int ctl, fd0, fd1, go[2], status;
	size_t len = HUGE_LEN;
	char params[64];
	struct vdmux_status st;
	struct pollfd pfd;
	char *p0, *p1, c;
	pid_t child, waiter;

	ASSERT_TRUE(bdf[0]);
	ASSERT_LE(len, bar_len);
	snprintf(params, sizeof(params), "reserved_size=%zu", len);
	ASSERT_EQ(0, load_pci(params));
	ASSERT_TRUE(bound());
	ASSERT_EQ(0, open_ctl_and_pair(&ctl, &fd0, &fd1));
	/* The foreground, with PMD entries where it can, and a background vdev. */
	p0 = map_shared(fd0, len, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(fd1, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	fill_tagged(p0, len, 0, 1, 0);
	fill_tagged(p1, 2 * PAGE, 1, 1, 0);

	/* A child that maps vdev 0 too, and touches it when told. */
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		volatile char *q = map_shared(fd0, PAGE, PROT_READ, 0);

		if (q == MAP_FAILED || !has_tagged(q, PAGE, 0, 1, 0))
			_exit(2);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		c = q[0];	/* SIGBUS, by default fatal */
		_exit(4);
	}
	close(go[0]);
	/* A waiter for vdev 2, which never comes to the foreground now. */
	waiter = fork();
	ASSERT_LE(0, waiter);
	if (!waiter)
		_exit(vdmux_ioc(ctl, VDMUX_IOC_WAIT_FOREGROUND, 2) == -ENODEV ? 0 : 1);
	usleep(100 * 1000);
	ASSERT_EQ(0, waitpid(waiter, &status, WNOHANG));

	ASSERT_EQ(0, unbind());
	EXPECT_TRUE(nodes_are(0));
	/* The waiter is woken: ENODEV, as for everything else now. */
	ASSERT_EQ(waiter, waitpid(waiter, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(-ENODEV, vdmux_ioc(fd0, VDMUX_IOC_WAIT_FOREGROUND, 0));
	/* Every access through the mappings raises SIGBUS. */
	EXPECT_EQ(SIGBUS, probe_read(p0, &c));
	EXPECT_EQ(SIGBUS, probe_read(p0 + len / 2 + 5 * PAGE, &c));
	EXPECT_EQ(SIGBUS, probe_write(p0 + len - 1, 1));
	EXPECT_EQ(SIGBUS, probe_read(p1 + PAGE, &c));
	EXPECT_EQ(SIGBUS, probe_write(p1, 1));
	/* The files stay open; every access through them fails cleanly. */
	EXPECT_EQ(-1, pread(fd0, &c, 1, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, pwrite(fd1, &c, 1, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(MAP_FAILED, map_shared(fd0, PAGE, PROT_READ, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, fsync(fd1));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, get_status(fd0, &st));
	EXPECT_EQ(VDMUX_STATE_REMOVED, st.state);
	EXPECT_EQ(VDMUX_NONE, st.foreground);
	ASSERT_EQ(0, get_status(ctl, &st));
	EXPECT_EQ(VDMUX_NONE, st.foreground);
	pfd = (struct pollfd){ .fd = fd1, .events = POLLIN | POLLOUT };
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLERR);
	/* The open files keep the module loaded. */
	EXPECT_EQ(-EWOULDBLOCK, unload_module());

	/* The child's access kills it with SIGBUS. */
	ASSERT_EQ(1, write(go[1], "x", 1));
	close(go[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("child exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGBUS, WTERMSIG(status));

	/* Bound again: a new device, while the old files are still open. */
	ASSERT_EQ(0, bind());
	ASSERT_TRUE(nodes_are(1));
	EXPECT_EQ(SIGBUS, probe_read(p0, &c));
	ASSERT_EQ(0, status_of(0, &st));
	EXPECT_EQ(VDMUX_STATE_FOREGROUND, st.state);
	EXPECT_EQ(0, munmap(p0, len));
	EXPECT_EQ(0, munmap(p1, 2 * PAGE));
	close(fd0);
	close(fd1);
	close(ctl);
	EXPECT_EQ(0, unload_module());
}

/*
 * Unbinding while a process switches vdevs 0 and 1 back to back, each
 * holding bytes of its own and the buffer large enough for a SWITCH to take
 * a while: the unbind completes (it waits for the SWITCH in progress, if
 * any), and from then on the switcher's open files refuse what they would
 * refuse on a removed vdev, every state change through its control file
 * failing (ENODEV; EJECT: EINVAL, every vdev being removed already), and
 * every mapping made before raises SIGBUS. Bound again, the nodes are back
 * and SWITCH moves the new device's bytes through the BAR.
 *
 * A SWITCH that finished just before the unbind may still be sending its
 * uevent when the nodes go: the unbind waits for it (Mux::forget_nodes),
 * and KASAN, on the debug kernel, would report a node used after it was
 * freed. No test can hold the sender in that window; this one makes it
 * likely that a send and an unbind overlap.
 */
#define SWITCH_RESERVED (8UL << 20)
#define SWITCH_SEED 0x7100
#define SWITCHES_BEFORE_UNBIND 4
#define DEADLINE_S 60

/* What the switching child saw, in memory shared with the test. */
struct switcher_report {
	volatile long switches;		/* SWITCHes that returned 0 */
	volatile long switches_after;	/* of them, returned after @unbinding was set */
	volatile int in_switch;		/* between the call of a SWITCH and its return */
	volatile uint64_t switching;	/* odd from just before a SWITCH to just after */
	volatile uint64_t at_unbind;	/* @switching as the unbinder called unbind */
	volatile int unbinding;		/* set by the test as the unbind begins */
	int mapped;			/* its mapping read vdev 0's bytes before */
	/* 0 or -errno: */
	volatile int first_error;	/* of the SWITCH that failed first */
	int switch_again[2];		/* SWITCH to 0, then to 1, after that */
	int eject, insert, resize;	/* EJECT 1, INSERT 0, SET_RESERVED_SIZE */
	int status;			/* GET_STATUS of the control node */
	uint32_t foreground;
	int vdev_status;		/* GET_STATUS of vdev 0 */
	uint32_t vdev_state;
	int pread, populate;		/* through vdev 0's file and mapping */
	int sigbus;			/* the signal a load through the mapping raised */
};

/* Switches vdevs 0 and 1 until a SWITCH fails, then tries the rest; exits. */
static void switcher_main(struct switcher_report *r)
{
	int ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC), fd0 = open_vdev(0, O_RDWR), ret;
	uint64_t size = PAGE;
	struct vdmux_status st;
	volatile char *q;
	long n;
	char c;

	if (ctl < 0 || fd0 < 0)
		_exit(2);
	q = map_shared(fd0, PAGE, PROT_READ, 0);
	if (q == MAP_FAILED)
		_exit(3);
	r->mapped = has_tagged(q, PAGE, 0, SWITCH_SEED, 0);
	for (n = 1;; n++) {
		r->in_switch = 1;
		__atomic_add_fetch(&r->switching, 1, __ATOMIC_SEQ_CST);
		ret = vdmux_ioc(ctl, VDMUX_IOC_SWITCH, n % 2);
		__atomic_add_fetch(&r->switching, 1, __ATOMIC_SEQ_CST);
		r->in_switch = 0;
		if (ret) {
			r->first_error = ret;
			break;
		}
		r->switches++;
		if (r->unbinding)
			r->switches_after++;
	}
	r->switch_again[0] = vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 0);
	r->switch_again[1] = vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1);
	r->eject = vdmux_ioc(ctl, VDMUX_IOC_EJECT, 1);
	r->insert = vdmux_ioc(ctl, VDMUX_IOC_INSERT, 0);
	r->resize = vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size);
	r->status = get_status(ctl, &st) ? -errno : 0;
	r->foreground = st.foreground;
	r->vdev_status = get_status(fd0, &st) ? -errno : 0;
	r->vdev_state = st.state;
	r->pread = pread(fd0, &c, 1, 0) < 0 ? -errno : 0;
	r->populate = populate(fd0, q, PAGE);
	r->sigbus = probe_read(q, &c);
	_exit(0);
}

/* Waits up to @seconds for child @pid to end: @pid, or 0 if it has not. */
static pid_t wait_child(pid_t pid, int seconds, int *status)
{
	double end = now_s() + seconds;
	pid_t ret;

	do {
		ret = waitpid(pid, status, WNOHANG);
		if (ret)
			return ret;
		usleep(10000);
	} while (now_s() < end);
	return 0;
}

/* Whether the page at @off of a mapping of vdev @vdev holds its bytes (seed @seed). */
static int page_is(const volatile char *p, size_t off, int vdev, unsigned int seed)
{
	return has_tagged(p + off, PAGE, vdev, seed, off);
}

TEST(unbind_mid_switch)
{
	size_t len = SWITCH_RESERVED, off;
	struct switcher_report *r;
	int ctl, fd0, fd1, status, in_progress, ok = 1;
	const volatile char *bar;
	pid_t child, unbinder;
	char params[64], c;
	char *p0, *p1, *q0;
	double t0, t;

	ASSERT_TRUE(bdf[0]);
	ASSERT_LE(len, bar_len);
	snprintf(params, sizeof(params), "reserved_size=%lu", len);
	ASSERT_EQ(0, load_pci(params));
	ASSERT_TRUE(bound());
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	ASSERT_EQ(0, open_ctl_and_pair(&ctl, &fd0, &fd1));
	/* Distinct bytes: vdev 0's in the BAR, vdev 1's in its backing store. */
	ASSERT_EQ(0, fill_vdev(fd0, 0, SWITCH_SEED, len));
	ASSERT_EQ(0, fill_vdev(fd1, 1, SWITCH_SEED, len));
	p0 = map_shared(fd0, len, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(fd1, len, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	EXPECT_TRUE(has_tagged(p0, len, 0, SWITCH_SEED, 0));
	EXPECT_TRUE(has_tagged(p1, len, 1, SWITCH_SEED, 0));

	fflush(stdout);
	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		switcher_main(r);

	/* While it switches, each mapping keeps its own vdev's bytes. */
	t0 = now_s();
	while (r->switches < SWITCHES_BEFORE_UNBIND && !r->first_error &&
	       now_s() - t0 < DEADLINE_S) {
		for (off = 0; off < len; off += (1UL << 20) + PAGE)
			ok &= page_is(p0, off, 0, SWITCH_SEED) && page_is(p1, off, 1, SWITCH_SEED);
	}
	if (r->switches < SWITCHES_BEFORE_UNBIND) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	ASSERT_LE(SWITCHES_BEFORE_UNBIND, r->switches)
		TH_LOG("%ld switches in %d s, then %s", r->switches, DEADLINE_S,
		       r->first_error ? strerror(-r->first_error) : "none failed");
	EXPECT_TRUE(ok) TH_LOG("a mapping read another vdev's bytes while they switched");

	/*
	 * The unbind, in the middle of a SWITCH, from a process of its own,
	 * so that an unbind that hangs fails the test rather than hanging it.
	 * The unbinder waits (up to 1 s) for the switcher to be inside a
	 * SWITCH call, and notes the switcher's count as it calls unbind: odd
	 * means the SWITCH was still running, which the test requires.
	 */
	r->unbinding = 1;
	t0 = now_s();
	fflush(stdout);
	unbinder = fork();
	ASSERT_LE(0, unbinder);
	if (!unbinder) {
		double until = now_s() + 1;

		while (!(__atomic_load_n(&r->switching, __ATOMIC_SEQ_CST) & 1) && now_s() < until)
			;
		r->at_unbind = __atomic_load_n(&r->switching, __ATOMIC_SEQ_CST);
		_exit(unbind() ? 1 : 0);
	}
	ASSERT_EQ(unbinder, wait_child(unbinder, DEADLINE_S, &status))
		TH_LOG("the unbind did not return within %d s", DEADLINE_S);
	t = now_s() - t0;
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_FALSE(bound());
	EXPECT_TRUE(nodes_are(0));

	/* The switcher stops at its first failure, tries the rest and exits. */
	ASSERT_EQ(child, wait_child(child, DEADLINE_S, &status));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("the switcher died of signal %d", WTERMSIG(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	in_progress = r->at_unbind & 1;
	TH_LOG("unbind took %.3f s, begun %s a SWITCH; %ld switches, %ld returned 0 after it began",
	       t, in_progress ? "during" : "between", r->switches, r->switches_after);
	EXPECT_TRUE(in_progress) TH_LOG("the unbind did not begin during a SWITCH: nothing raced");
	EXPECT_TRUE(r->mapped);
	EXPECT_EQ(-ENODEV, r->first_error);
	EXPECT_EQ(-ENODEV, r->switch_again[0]);
	EXPECT_EQ(-ENODEV, r->switch_again[1]);
	EXPECT_EQ(-EINVAL, r->eject);
	EXPECT_EQ(-ENODEV, r->insert);
	EXPECT_EQ(-ENODEV, r->resize);
	EXPECT_EQ(0, r->status);
	EXPECT_EQ(VDMUX_NONE, r->foreground);
	EXPECT_EQ(0, r->vdev_status);
	EXPECT_EQ(VDMUX_STATE_REMOVED, r->vdev_state);
	EXPECT_EQ(-ENODEV, r->pread);
	EXPECT_EQ(-ENODEV, r->populate);
	EXPECT_EQ(SIGBUS, r->sigbus);

	/* The test's own mappings, made before, raise SIGBUS too. */
	EXPECT_EQ(SIGBUS, probe_read(p0, &c));
	EXPECT_EQ(SIGBUS, probe_read(p0 + len - PAGE, &c));
	EXPECT_EQ(SIGBUS, probe_write(p1, 1));
	EXPECT_EQ(SIGBUS, probe_read(p1 + len / 2, &c));
	EXPECT_EQ(-ENODEV, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1));

	/* Bound again: a new device, and SWITCH moves its bytes through the BAR. */
	ASSERT_EQ(0, bind());
	ASSERT_TRUE(nodes_are(1));
	EXPECT_EQ(SIGBUS, probe_read(p1, &c));
	EXPECT_EQ(-ENODEV, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1));
	close(fd0);
	close(fd1);
	close(ctl);
	fd0 = open_vdev(0, O_RDWR);
	fd1 = open_vdev(1, O_RDWR);
	ASSERT_LE(0, fd0);
	ASSERT_LE(0, fd1);
	EXPECT_EQ(len, reserved_size_now());
	ASSERT_EQ(0, fill_vdev(fd0, 0, SWITCH_SEED + 1, len));
	ASSERT_EQ(0, fill_vdev(fd1, 1, SWITCH_SEED + 1, len));
	q0 = map_shared(fd0, len, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, q0);
	ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(has_tagged(q0, len, 0, SWITCH_SEED + 1, 0));
	ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_tagged(q0, len, 0, SWITCH_SEED + 1, 0));

	munmap(q0, len);
	munmap(p0, len);
	munmap(p1, len);
	munmap(r, sizeof(*r));
	close(fd0);
	close(fd1);
	EXPECT_EQ(0, unload_module());
	/* The foreground, vdev 0, went with the device: its bytes are the BAR's. */
	bar = map_bar(len);
	ASSERT_NE(MAP_FAILED, bar);
	EXPECT_TRUE(has_tagged(bar, len, 0, SWITCH_SEED + 1, 0));
	unmap_bar(bar, len);
}

TEST(rmmod_unbinds)
{
	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, load_pci("reserved_size=65536"));
	ASSERT_TRUE(bound());
	EXPECT_EQ(0, unload_module());
	EXPECT_NE(0, access(pci_path("driver"), F_OK));
	EXPECT_TRUE(nodes_are(0));
	EXPECT_FALSE(region_requested());
	EXPECT_EQ(0, bar_ioremaps());
}

/*
 * read() of the foreground while every allocation of the reader fails
 * (failslab and fail_page_alloc, make-it-fail on the reading process
 * alone): the BAR is copied through a bounce buffer that cannot then be
 * had, and the read must return ENOMEM, or a short count of the right
 * bytes, at once; it must not take the empty copy for an unmapped user
 * page and retry for ever. The injection must have fired (its "times"
 * counts down): the reader's memory really was short. Then, without
 * failures, the same reads return every byte.
 */
#define FAIL_DIRS 2
static const char *const fail_dirs[FAIL_DIRS] = { "/sys/kernel/debug/failslab",
						  "/sys/kernel/debug/fail_page_alloc" };
/* Set in this order (task-filter first, probability last), restored in reverse. */
static const char *const fail_attrs[][2] = {
	{ "task-filter", "Y" }, { "verbose", "0" },	  { "interval", "1" },
	{ "space", "0" },	{ "times", "100000" }, { "ignore-gfp-wait", "N" },
	{ "probability", "100" },
};
#define FAIL_ATTRS (sizeof(fail_attrs) / sizeof(fail_attrs[0]))
#define READ_SEED 0x7300
#define READ_RESERVED (4UL << 20)

struct reader_report {
	ssize_t ret[3];
	int err[3];
	int ok[3];	/* the bytes a short or full read returned are the vdev's */
	volatile int done;
};

/* The three reads: a page, 64 KiB, and 2 MiB (the driver's most per piece). */
static size_t read_len(int i)
{
	const size_t lens[3] = { PAGE, 64 * 1024, 2UL << 20 };

	return lens[i];
}

static void reader_main(int fd, struct reader_report *r)
{
	static char buf[2UL << 20];
	volatile char stack[64 * 1024];
	int mif, i;

	memset(buf, 1, sizeof(buf));
	for (i = 0; i < (int)sizeof(stack); i += PAGE)
		stack[i] = 0;
	mif = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (mif < 0 || pwrite(mif, "1", 1, 0) != 1)
		_exit(2);
	for (i = 0; i < 3; i++) {
		r->ret[i] = pread(fd, buf, read_len(i), PAGE);
		r->err[i] = errno;
	}
	if (pwrite(mif, "0", 1, 0) != 1)
		_exit(3);
	for (i = 0; i < 3; i++)
		r->ok[i] = r->ret[i] < 0 || has_tagged(buf, r->ret[i], 0, READ_SEED, PAGE);
	r->done = 1;
	_exit(0);
}

TEST(read_of_the_bar_when_the_reader_cannot_allocate)
{
	char saved[FAIL_DIRS][FAIL_ATTRS][32], path[256], times[32];
	static char got[2UL << 20];
	struct reader_report *r;
	int fd, d, a, i, status, configured = 0;
	pid_t child;

	ASSERT_TRUE(bdf[0]);
	if (access(fail_dirs[0], F_OK) || access(fail_dirs[1], F_OK))
		SKIP(return, "kernel without failslab or fail_page_alloc");
	ASSERT_EQ(0, load_pci("reserved_size=4194304"));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fill_vdev(fd, 0, READ_SEED, READ_RESERVED));
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);

	for (d = 0; d < FAIL_DIRS; d++)
		for (a = 0; a < (int)FAIL_ATTRS; a++) {
			snprintf(path, sizeof(path), "%s/%s", fail_dirs[d], fail_attrs[a][0]);
			ASSERT_EQ(0, read_first_line(path, saved[d][a], sizeof(saved[d][a])));
		}
	for (d = 0; d < FAIL_DIRS; d++)
		for (a = 0; a < (int)FAIL_ATTRS; a++) {
			snprintf(path, sizeof(path), "%s/%s", fail_dirs[d], fail_attrs[a][0]);
			configured += !write_text(path, fail_attrs[a][1]);
		}
	fflush(stdout);
	child = fork();
	if (child == 0)
		reader_main(fd, r);
	if (child > 0 && !wait_child(child, 20, &status)) {
		/* Still in read(): it may not even be killable. */
		kill(child, SIGKILL);
		child = -child;
	}
	for (d = FAIL_DIRS; d-- > 0;)
		for (a = FAIL_ATTRS; a-- > 0;) {
			snprintf(path, sizeof(path), "%s/%s", fail_dirs[d], fail_attrs[a][0]);
			write_text(path, saved[d][a]);
		}
	ASSERT_EQ(FAIL_DIRS * FAIL_ATTRS, configured);
	ASSERT_LT(0, child) TH_LOG("the reader's read() did not return within 20 s");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("the reader ended with status 0x%x", status);
	ASSERT_EQ(0, read_first_line("/sys/kernel/debug/failslab/times", times, sizeof(times)));
	EXPECT_GT(100000, atol(times)) TH_LOG("no allocation of the reader failed");
	for (i = 0; i < 3; i++) {
		TH_LOG("read of %zu bytes: %zd (%s)", read_len(i), r->ret[i],
		       r->ret[i] < 0 ? strerror(r->err[i]) : "bytes");
		if (r->ret[i] < 0) {
			EXPECT_EQ(ENOMEM, r->err[i]);
		} else {
			EXPECT_GE((ssize_t)read_len(i), r->ret[i]);
		}
		EXPECT_TRUE(r->ok[i]);
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ((ssize_t)read_len(i), pread(fd, got, read_len(i), PAGE));
		EXPECT_TRUE(has_tagged(got, read_len(i), 0, READ_SEED, PAGE));
	}
	munmap(r, sizeof(*r));
	close(fd);
	EXPECT_EQ(0, unload_module());
}

/*
 * Needs the BAR as the device memory (BAR_IS_DEVICE_MEMORY): what is written
 * through the foreground vdev is in BAR 2, read through sysfs; after a
 * SWITCH the BAR holds the new foreground's bytes. Until then: the BAR
 * stays all zeroes.
 */
/*
 * Autogrow with the BAR as the device memory: a store past the reserved
 * size grows it to the end of the store's page, the byte lands in the BAR
 * and the bytes grown around it are zero; a load past the end is SIGBUS
 * and changes nothing; the largest size is the BAR's, which bounds an
 * autogrow mapping as it bounds SET_RESERVED_SIZE.
 */
TEST(autogrow_grows_into_the_bar)
{
	uint64_t max = bar_default_size();
	const volatile char *bar;
	volatile char *p;
	char c = 0;
	int fd;

	ASSERT_TRUE(bdf[0]);
	ASSERT_EQ(0, load_pci("reserved_size=8192"));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_autogrow(fd, 1));
	EXPECT_EQ(MAP_FAILED, map_shared(fd, max + PAGE, PROT_READ | PROT_WRITE, 0));
	EXPECT_EQ(ENOMEM, errno);
	p = map_shared(fd, max, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);

	EXPECT_EQ(0, probe_write(p + 5 * PAGE + 7, 'g'));
	EXPECT_EQ(6 * PAGE, reserved_size_now());
	EXPECT_EQ('g', p[5 * PAGE + 7]);
	EXPECT_EQ(SIGBUS, probe_read(p + 6 * PAGE, &c));
	EXPECT_EQ(6 * PAGE, reserved_size_now());
	/* The BAR's last page grows the buffer to the whole BAR. */
	EXPECT_EQ(0, probe_write(p + max - 1, 'z'));
	EXPECT_EQ(max, reserved_size_now());
	ASSERT_EQ(1, pread(fd, &c, 1, max - 1));
	EXPECT_EQ('z', c);

	munmap((void *)p, max);
	close(fd);
	EXPECT_EQ(0, unload_module());
	/* The stores went into the BAR, and the pages between stayed zero. */
	bar = map_bar(max);
	ASSERT_NE(MAP_FAILED, bar);
	EXPECT_EQ(BAR_IS_DEVICE_MEMORY ? 'g' : 0, bar[5 * PAGE + 7]);
	EXPECT_EQ(BAR_IS_DEVICE_MEMORY ? 'z' : 0, bar[max - 1]);
	EXPECT_TRUE(words_zero(bar + 2 * PAGE, 3 * PAGE));
	unmap_bar(bar, max);
}

/*
 * Vdev 0 and vdev 1 written through mappings, switched, unloaded: the BAR
 * holds the last foreground's bytes and none of the other's. Read after
 * the unload (IO_STRICT_DEVMEM), in two rounds, so that each foreground is
 * seen there.
 */
static void switch_and_unload(struct __test_metadata *_metadata, int last, size_t len)
{
	char params[64];
	int fd0, fd1;
	char *p0, *p1;

	snprintf(params, sizeof(params), "reserved_size=%zu", len);
	ASSERT_EQ(0, load_pci(params));
	fd0 = open_vdev(0, O_RDWR);
	fd1 = open_vdev(1, O_RDWR);
	ASSERT_LE(0, fd0);
	ASSERT_LE(0, fd1);
	p0 = map_shared(fd0, len, PROT_READ | PROT_WRITE, 0);
	p1 = map_shared(fd1, len, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p0);
	ASSERT_NE(MAP_FAILED, p1);
	fill_tagged(p0, len, 0, 21, 0);
	fill_tagged(p1, len, 1, 21, 0);
	ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 1));
	fill_tagged(p1, len, 1, 22, 0);
	if (last == 0)
		ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_tagged(p0, len, 0, 21, 0));
	EXPECT_TRUE(has_tagged(p1, len, 1, 22, 0));
	munmap(p0, len);
	munmap(p1, len);
	close(fd0);
	close(fd1);
	ASSERT_EQ(0, unload_module());
}

TEST(bar_is_the_foreground)
{
	/* Each vdev's last bytes: vdev 0's seed 21, vdev 1's seed 22. */
	static const int seed[2] = { 21, 22 };
	size_t len = 1 << 20;
	const volatile char *bar;

	ASSERT_TRUE(bdf[0]);
	for (int last = 1; last >= 0; last--) {
		switch_and_unload(_metadata, last, len);
		bar = map_bar(len);
		ASSERT_NE(MAP_FAILED, bar);
		EXPECT_EQ(BAR_IS_DEVICE_MEMORY, has_tagged(bar, len, last, seed[last], 0));
		EXPECT_FALSE(has_tagged(bar, len, 1 - last, seed[1 - last], 0));
		unmap_bar(bar, len);
	}
}

/*
 * Needs the BAR as the device memory for the host's check to pass: writes a
 * signature (vdev_test.h's tagged pattern, seed 0x5100 + vdev) into every
 * vdev, through mappings of the foreground and write(2) to the background,
 * switches a few times, and reports over the results channel which vdev is
 * the foreground at the end; the host then finds exactly its bytes in the
 * BAR's file (qemu/results.py --ivshmem). Must be the last test: unloading
 * leaves the BAR as it is, but a later bind would zero it.
 */
#define SIGNATURE_SIZE (256 * 1024UL)

TEST(signatures_for_the_host)
{
	static const int order[] = { 2, 1, 3, 2 };
	static char buf[SIGNATURE_SIZE];
	unsigned int seed[DEFAULT_NR_VDEVS];
	char params[64], *p;
	int v, fd, i;

	ASSERT_TRUE(bdf[0]);
	snprintf(params, sizeof(params), "reserved_size=%lu", SIGNATURE_SIZE);
	ASSERT_EQ(0, load_pci(params));
	for (v = 0; v < DEFAULT_NR_VDEVS; v++)
		seed[v] = 0x5100 + v;
	/* vdev 0 (the foreground) and 2 through mappings, 1 and 3 with write(2). */
	for (v = 0; v < DEFAULT_NR_VDEVS; v++) {
		if (v == 2)
			ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, 2));
		fd = open_vdev(v, O_RDWR);
		ASSERT_LE(0, fd);
		if (v % 2 == 0) {
			p = map_shared(fd, SIGNATURE_SIZE, PROT_READ | PROT_WRITE, 0);
			ASSERT_NE(MAP_FAILED, p);
			fill_tagged(p, SIGNATURE_SIZE, v, seed[v], 0);
			munmap(p, SIGNATURE_SIZE);
		} else {
			fill_tagged(buf, SIGNATURE_SIZE, v, seed[v], 0);
			ASSERT_EQ(SIGNATURE_SIZE, pwrite(fd, buf, SIGNATURE_SIZE, 0));
		}
		close(fd);
	}
	for (i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		ASSERT_EQ(0, vdmux_ctl(VDMUX_IOC_SWITCH, order[i]));
	for (v = 0; v < DEFAULT_NR_VDEVS; v++) {
		fd = open_vdev(v, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(SIGNATURE_SIZE, pread(fd, buf, SIGNATURE_SIZE, 0));
		EXPECT_TRUE(has_tagged(buf, SIGNATURE_SIZE, v, seed[v], 0)) TH_LOG("vdev %d", v);
		close(fd);
	}
	/* The host's check: see qemu/results.py. */
	printf("# vdmux-ivshmem: wired=%d foreground=%d size=%lu bar=%llu seeds=%u,%u,%u,%u\n",
	       BAR_IS_DEVICE_MEMORY, order[3], SIGNATURE_SIZE, bar_len, seed[0], seed[1], seed[2],
	       seed[3]);
	fflush(stdout);
	EXPECT_EQ(0, unload_module());
}

int main(int argc, char **argv)
{
	find_ivshmem();
	return run_then_reload_ram(argc, argv, 120);
}
