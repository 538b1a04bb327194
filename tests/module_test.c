// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and unloading vdmux: its nodes, its parameters, and the parameter
 * values it refuses.
 */
#include <elf.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define MISC_MAJOR 10

static int is_misc_chardev(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return S_ISCHR(st.st_mode) && major(st.st_rdev) == MISC_MAJOR;
}

/* Counts /dev/vdmux0.. nodes that exist, checking each is a misc device. */
static int count_vdev_nodes(int *bad)
{
	int i, n = 0;

	*bad = 0;
	for (i = 0; i < 128; i++) {
		if (access(vdev_path(i), F_OK))
			continue;
		n++;
		if (!is_misc_chardev(vdev_path(i)) || i >= 64)
			(*bad)++;
	}
	return n;
}

FIXTURE(module)
{
};

FIXTURE_SETUP(module)
{
	ASSERT_EQ(0, ensure_module());
}

FIXTURE_TEARDOWN(module)
{
	struct vdmux_status st;
	int fd = open(CTL_PATH, O_RDONLY);

	/* Leave the module loaded with its defaults for the next program. */
	if (fd >= 0) {
		if (get_status(fd, &st) || st.nr_vdevs != DEFAULT_NR_VDEVS ||
		    st.reserved_size != DEFAULT_RESERVED) {
			close(fd);
			fd = -1;
			unload_module();
		}
		if (fd >= 0)
			close(fd);
	}
	ensure_module();
}

TEST_F(module, is_live)
{
	char state[32];

	ASSERT_EQ(0, read_first_line("/sys/module/vdmux/initstate", state, sizeof(state)));
	EXPECT_STREQ("live", state);
}

TEST_F(module, default_nodes)
{
	int bad;

	EXPECT_TRUE(is_misc_chardev(CTL_PATH));
	EXPECT_EQ(DEFAULT_NR_VDEVS, count_vdev_nodes(&bad));
	EXPECT_EQ(0, bad);
	EXPECT_TRUE(is_misc_chardev("/dev/vdmux0"));
	EXPECT_TRUE(is_misc_chardev("/dev/vdmux3"));
	EXPECT_EQ(-1, access("/dev/vdmux4", F_OK));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * The .modinfo section of the module file: "key=value" strings, as modinfo
 * prints them. Returns 1 when @entry is one of them.
 */
static int modinfo_has(const char *path, const char *entry)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *names, *p, *end;
	struct stat st;
	int fd, i, found = 0;
	void *map;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return 0;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 0;
	eh = map;
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	names = (const char *)map + sh[eh->e_shstrndx].sh_offset;
	for (i = 0; i < eh->e_shnum && !found; i++) {
		if (strcmp(names + sh[i].sh_name, ".modinfo"))
			continue;
		p = (const char *)map + sh[i].sh_offset;
		end = p + sh[i].sh_size;
		for (; p < end && !found; p += strlen(p) + 1)
			found = !strcmp(p, entry);
	}
	munmap(map, st.st_size);
	return found;
}

TEST_F(module, modinfo_describes_everything)
{
	const char *ko = module_path();

	EXPECT_TRUE(modinfo_has(ko, "license=GPL"));
	EXPECT_TRUE(modinfo_has(ko, "author=The vdmux authors"));
	EXPECT_TRUE(modinfo_has(ko, "description=Reserved device memory multiplexed among mmap-able virtual devices"));
	EXPECT_TRUE(modinfo_has(ko, "parm=nr_vdevs:Number of virtual devices /dev/vdmux0..N-1, 1 to 64 (default 4)"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=nr_vdevs:u32"));
	EXPECT_TRUE(modinfo_has(ko, "parm=reserved_size:Initial reserved buffer size in bytes, rounded up to pages (default 32768)"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=reserved_size:u64"));
	EXPECT_TRUE(modinfo_has(ko, "parm=max_reserved_size:Largest reserved size SET_RESERVED_SIZE accepts, up to 1 GiB (default 67108864)"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=max_reserved_size:u64"));
	EXPECT_TRUE(modinfo_has(ko, "parm=fault_around_pages:Pages one fault maps, a power of two from 1 (off) to 512 (default 16)"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=fault_around_pages:u32"));
	EXPECT_TRUE(modinfo_has(ko, "parm=device_memory:Where the device memory is: ram (default), or pci: a memory BAR (see bar) of each PCI device bound (ivshmem-plain, or any device given through driver_override), whose size reserved_size and max_reserved_size then default to and may not exceed"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=device_memory:charp"));
	EXPECT_TRUE(modinfo_has(ko, "parm=bar:With device_memory=pci, the BAR that is the device memory, 0 to 5 (default -1: the largest prefetchable memory BAR)"));
	EXPECT_TRUE(modinfo_has(ko, "parmtype=bar:i32"));
}

TEST_F(module, reload_with_seven_vdevs)
{
	struct vdmux_status st;
	int bad, fd;

	ASSERT_EQ(0, unload_module());
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(-1, access(CTL_PATH, F_OK));
	EXPECT_EQ(-1, access("/dev/vdmux0", F_OK));

	ASSERT_EQ(0, load_module("nr_vdevs=7"));
	EXPECT_TRUE(is_misc_chardev(CTL_PATH));
	EXPECT_EQ(7, count_vdev_nodes(&bad));
	EXPECT_EQ(0, bad);
	EXPECT_TRUE(is_misc_chardev("/dev/vdmux6"));
	EXPECT_EQ(-1, access("/dev/vdmux7", F_OK));

	fd = open(CTL_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, get_status(fd, &st));
	EXPECT_EQ(7, st.nr_vdevs);
	close(fd);

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

TEST_F(module, sixty_four_vdevs)
{
	int bad;

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("nr_vdevs=64 reserved_size=4096"));
	EXPECT_EQ(64, count_vdev_nodes(&bad));
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

/* Each refused parameter set: insmod fails with EINVAL, nothing is left. */
static const char *const bad_params[] = {
	"nr_vdevs=0",
	"nr_vdevs=65",
	"nr_vdevs=100000",
	"nr_vdevs=-1",
	"reserved_size=0",
	"max_reserved_size=0",
	"max_reserved_size=1073741825",
	"reserved_size=8193 max_reserved_size=8192",
	"nr_vdevs=abc",
	"fault_around_pages=0",
	"fault_around_pages=3",
	"fault_around_pages=1024",
	"bar=6 device_memory=pci",
	"bar=-2 device_memory=pci",
	"bar=2",
	"bar=0 device_memory=ram",
};

/*
 * The kernel log's records from @fd (/dev/kmsg opened O_NONBLOCK, at the
 * end of the log when the action began), joined into @buf: what the
 * action made the kernel print.
 */
static void kmsg_read_new(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	buf[0] = 0;
	while (used + 1 < len) {
		n = read(fd, buf + used, len - used - 1);
		if (n < 0 && errno == EPIPE)	/* a record was overwritten: go on */
			continue;
		if (n <= 0)
			break;
		used += n;
	}
	buf[used] = 0;
}

/*
 * Each refused set: EINVAL, and the kernel log names the parameter (the
 * first of the set) that was refused, so that the administrator knows
 * which one to fix.
 */
TEST_F(module, refused_parameters_leave_nothing)
{
	static char log[16384];
	char name[64];
	unsigned int i;
	int bad, kmsg;

	ASSERT_EQ(0, unload_module());
	for (i = 0; i < sizeof(bad_params) / sizeof(bad_params[0]); i++) {
		TH_LOG("insmod vdmux.ko %s", bad_params[i]);
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(bad_params[i], "="),
			 bad_params[i]);
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ASSERT_LE(0, kmsg);
		ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
		EXPECT_EQ(-EINVAL, load_module(bad_params[i]));
		kmsg_read_new(kmsg, log, sizeof(log));
		close(kmsg);
		EXPECT_TRUE(strstr(log, "vdmux") && strstr(log, name))
			TH_LOG("%s: the kernel log does not name %s:\n%s", bad_params[i], name, log);
		EXPECT_FALSE(module_loaded());
		EXPECT_EQ(-1, access(CTL_PATH, F_OK));
		EXPECT_EQ(0, count_vdev_nodes(&bad));
	}
	ASSERT_EQ(0, load_module(""));
	EXPECT_EQ(DEFAULT_NR_VDEVS, count_vdev_nodes(&bad));
}

/*
 * What follows the page size, against the kernel's page size (sysconf) and
 * vdmux(4)'s rules rather than the driver: the default reserved size is
 * 32768 rounded up to a page, and a load with RAM device memory says so in
 * the log exactly when that rounds; pmd_size is what one PMD entry maps (a
 * page table is a page of 8-byte entries); chunk_size is that, at most
 * 2 MiB, or max_reserved_size when that is smaller. Both are read-only.
 */
TEST_F(module, sizes_follow_the_page_size)
{
	const char *extra = getenv("VDMUX_MODULE_PARAMS");
	const int pci = extra && strstr(extra, "device_memory=pci");
	const unsigned long page = sysconf(_SC_PAGESIZE), pmd = page / 8 * page;
	const unsigned long chunk = pmd < (2UL << 20) ? pmd : 2UL << 20;
	static char log[16384];
	struct vdmux_status st;
	struct stat sb;
	int kmsg, fd;

	ASSERT_EQ(0, unload_module());
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
	ASSERT_EQ(0, load_module(""));
	kmsg_read_new(kmsg, log, sizeof(log));
	close(kmsg);
	fd = open(CTL_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, get_status(fd, &st));
	close(fd);
	EXPECT_EQ((32768 + page - 1) / page * page, st.reserved_size);
	/* RAM device memory and pages larger than 32 KiB: the load says it rounded. */
	EXPECT_EQ(!pci && page > 32768, strstr(log, "rounded up to one page") != NULL)
		TH_LOG("the kernel log of the load:\n%s", log);
	EXPECT_EQ((long long)pmd, ctl_attr_number("pmd_size"));
	EXPECT_EQ((long long)chunk, ctl_attr_number("chunk_size"));
	ASSERT_EQ(0, stat("/sys/class/misc/vdmux/pmd_size", &sb));
	EXPECT_EQ(0444, sb.st_mode & 07777);
	ASSERT_EQ(0, stat("/sys/class/misc/vdmux/chunk_size", &sb));
	EXPECT_EQ(0444, sb.st_mode & 07777);

	/* A maximum below a chunk makes the chunk. */
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("reserved_size=1 max_reserved_size=1"));
	EXPECT_EQ((long long)page, ctl_attr_number("chunk_size"));
	EXPECT_EQ((long long)pmd, ctl_attr_number("pmd_size"));
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

TEST_F(module, largest_parameters_accepted)
{
	struct vdmux_status st;
	int fd;

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("nr_vdevs=1 reserved_size=5000 max_reserved_size=1073741824"));
	fd = open(CTL_PATH, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, get_status(fd, &st));
	EXPECT_EQ(1, st.nr_vdevs);
	EXPECT_EQ(round_up_to(5000, PAGE), st.reserved_size);
	close(fd);
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

TEST_F(module, unload_refused_while_open)
{
	int fd = open("/dev/vdmux0", O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	EXPECT_TRUE(module_loaded());
	close(fd);
	EXPECT_EQ(0, unload_module());
	EXPECT_EQ(0, load_module(""));
}

/* On a busy 2-core host under TCG, refused_parameters_leave_nothing took 6.7 s. */
VDMUX_HARNESS_MAIN(45)
