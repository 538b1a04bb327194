/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vdmux tests: module loading, node paths, ioctls,
 * and catching SIGBUS on an access.
 */
#ifndef VDMUX_TEST_H
#define VDMUX_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include "vdmux.h"

#define CTL_PATH "/dev/vdmux"
#define DEFAULT_NR_VDEVS 4
#define DEFAULT_MAX_RESERVED (64UL << 20)

/*
 * Sizes follow the page size and the PMD size the driver reports, so that
 * the tests hold with 4, 16 and 64 KiB pages: no test writes 4096 or 2 MiB.
 * PAGE is the page size; PMD_BLOCK the bytes one PMD entry maps (sysfs
 * pmd_size: 2 MiB with 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with
 * 64 KiB); DEFAULT_RESERVED the default reserved size, 32768 rounded up
 * to a page.
 */
#define PAGE page_size()
#define PMD_BLOCK pmd_size()
#define DEFAULT_RESERVED default_reserved()

/*
 * The largest page size the tests are built for (arm64's 64 KiB), the
 * smallest, and the largest default reserved size: the bounds of the few
 * arrays that must be sized at build time (in a fixture), which use only
 * the first PAGE or DEFAULT_RESERVED bytes of them, or an entry per page.
 */
#define MAX_PAGE_SIZE (64UL << 10)
#define MIN_PAGE_SIZE (4UL << 10)
#define MAX_DEFAULT_RESERVED (MAX_PAGE_SIZE > 32768 ? MAX_PAGE_SIZE : 32768)

static inline int read_first_line(const char *path, char *buf, size_t len);

static inline unsigned long page_size(void)
{
	static unsigned long page;

	if (!page) {
		page = sysconf(_SC_PAGESIZE);
		if (page > MAX_PAGE_SIZE) {
			fprintf(stderr, "pages of %lu bytes: the tests are built for at most %lu\n",
				page, MAX_PAGE_SIZE);
			exit(1);
		}
	}
	return page;
}

/* @n rounded up to a multiple of @to, a power of two. */
static inline unsigned long round_up_to(unsigned long n, unsigned long to)
{
	return (n + to - 1) & ~(to - 1);
}

static inline unsigned long default_reserved(void)
{
	return round_up_to(32768, PAGE);
}

/*
 * The number in attribute @name of the first multiplexer's control node,
 * /sys/class/misc/vdmux, or else of the first of /sys/class/misc/vdmux-I
 * (with device_memory=pci, while no device is bound to instance 0); -1 if
 * none can be read.
 */
static inline long long ctl_attr_number(const char *name)
{
	char path[128], buf[64];
	int i;

	for (i = -1; i < 8; i++) {
		if (i < 0)
			snprintf(path, sizeof(path), "/sys/class/misc/vdmux/%s", name);
		else
			snprintf(path, sizeof(path), "/sys/class/misc/vdmux-%d/%s", i, name);
		if (!read_first_line(path, buf, sizeof(buf)))
			return strtoll(buf, NULL, 10);
	}
	return -1;
}

/*
 * The bytes one PMD entry maps, as the driver reports them; a program that
 * asks before vdmux is loaded (or without a node of it) stops, since no
 * size of its tests can be right then.
 */
static inline unsigned long pmd_size(void)
{
	static unsigned long pmd;
	long long n;

	if (!pmd) {
		n = ctl_attr_number("pmd_size");
		if (n <= 0 || n % PAGE) {
			fprintf(stderr, "no pmd_size from vdmux (%lld): is it loaded?\n", n);
			exit(1);
		}
		pmd = n;
	}
	return pmd;
}

/* The bytes of one chunk of a store of the loaded vdmux (sysfs chunk_size). */
static inline unsigned long store_chunk(void)
{
	long long n = ctl_attr_number("chunk_size");

	if (n <= 0 || n % PAGE) {
		fprintf(stderr, "no chunk_size from vdmux (%lld): is it loaded?\n", n);
		exit(1);
	}
	return n;
}

/*
 * Whether a RAM store of the loaded vdmux can be mapped with PMD entries:
 * its chunks (sysfs chunk_size, which depends on max_reserved_size) are one
 * PMD block each. Not with 16 or 64 KiB pages, whose PMD blocks are larger
 * than a chunk.
 */
static inline int chunks_hold_pmd(void)
{
	return store_chunk() == PMD_BLOCK;
}

/* Why a test of PMD mappings of RAM skips; see chunks_hold_pmd(). */
#define NO_PMD_CHUNKS_FMT "chunks of %lld bytes hold no PMD block of %lu bytes"
#define NO_PMD_CHUNKS_ARGS ctl_attr_number("chunk_size"), PMD_BLOCK

static inline const char *vdev_path(int i)
{
	static char path[64];

	snprintf(path, sizeof(path), "/dev/vdmux%d", i);
	return path;
}

static inline int open_vdev(int i, int flags)
{
	return open(vdev_path(i), flags | O_CLOEXEC);
}

static inline const char *module_path(void)
{
	const char *p = getenv("VDMUX_KO");

	return p ? p : "/lib/modules/vdmux.ko";
}

/* Whether the words of @params set parameter @name (@len bytes of it). */
static inline int params_set(const char *params, const char *name, size_t len)
{
	const char *p = params;

	while ((p = strstr(p, name))) {
		if ((p == params || p[-1] == ' ') && p[len] == '=')
			return 1;
		p += len;
	}
	return 0;
}

/*
 * Loads vdmux.ko with @params: 0, or -errno from finit_module(2). Each word
 * NAME=value of $VDMUX_MODULE_PARAMS whose NAME @params does not set is
 * added: how the functional tests run again with device_memory=pci.
 */
static inline int load_module(const char *params)
{
	const char *extra = getenv("VDMUX_MODULE_PARAMS"), *w, *eq;
	int fd = open(module_path(), O_RDONLY | O_CLOEXEC);
	char all[1024];
	size_t n, len;
	int ret;

	if (fd < 0)
		return -errno;
	n = snprintf(all, sizeof(all), "%s", params);
	for (w = extra; w && *w; w += len) {
		w += strspn(w, " ");
		len = strcspn(w, " ");
		eq = memchr(w, '=', len);
		if (len && eq && !params_set(params, w, eq - w) && n + len + 1 < sizeof(all))
			n += snprintf(all + n, sizeof(all) - n, "%s%.*s", n ? " " : "", (int)len, w);
	}
	ret = syscall(SYS_finit_module, fd, all, 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* Unloads vdmux: 0, or -errno from delete_module(2). */
static inline int unload_module(void)
{
	return syscall(SYS_delete_module, "vdmux", O_NONBLOCK) ? -errno : 0;
}

static inline int module_loaded(void)
{
	return access("/sys/module/vdmux", F_OK) == 0;
}

/* Reloads vdmux with device_memory=pci and @params: 0 or -errno. */
static inline int load_pci(const char *params)
{
	char all[256];
	int ret;

	if (module_loaded()) {
		ret = unload_module();
		if (ret)
			return ret;
	}
	snprintf(all, sizeof(all), "device_memory=pci %s", params);
	return load_module(all);
}

/* Loads vdmux with default parameters unless it is loaded. */
static inline int ensure_module(void)
{
	return module_loaded() ? 0 : load_module("");
}

static inline int get_status(int fd, struct vdmux_status *st)
{
	memset(st, 0xa5, sizeof(*st));
	return ioctl(fd, VDMUX_IOC_GET_STATUS, st);
}

static inline int vdmux_ctl(unsigned long cmd, unsigned long arg)
{
	int fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	int ret, err;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, cmd, arg);
	err = errno;
	close(fd);
	return ret ? -err : 0;
}

static inline int set_reserved(uint64_t size)
{
	int fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	int ret, err;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, VDMUX_IOC_SET_RESERVED_SIZE, &size);
	err = errno;
	close(fd);
	return ret ? -err : 0;
}

/*
 * Leaves vdmux loaded with its default parameters, reloading it if it was
 * loaded with others: what the next program expects. Nothing of it may be
 * open or mapped.
 */
static inline int restore_module_defaults(void)
{
	struct vdmux_status st;
	int fd, ret;

	fd = open(CTL_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ret = get_status(fd, &st);
		close(fd);
		if (!ret && st.nr_vdevs == DEFAULT_NR_VDEVS)
			return st.reserved_size == DEFAULT_RESERVED ? 0 :
				set_reserved(DEFAULT_RESERVED);
		ret = unload_module();
		if (ret)
			return ret;
	}
	return ensure_module();
}

/*
 * Brings the device back to its load-time state: context management off,
 * every virtual device inserted, vdev 0 in the foreground, the default
 * size, all bytes zero. Nothing may be mapped.
 */
static inline int reset_device(void)
{
	char *zero = NULL;
	struct vdmux_ctxmgt off = { 0, 0 };
	struct vdmux_status st;
	int fd, i, ret;

	ret = ensure_module();
	if (ret)
		return ret;
	ret = vdmux_ctl(VDMUX_IOC_SET_CTXMGT, (unsigned long)&off);
	if (ret)
		return ret;
	fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = get_status(fd, &st);
	close(fd);
	if (ret)
		return -errno;
	for (i = 0; i < (int)st.nr_vdevs; i++)
		vdmux_ctl(VDMUX_IOC_INSERT, i); /* EINVAL when not removed */
	ret = vdmux_ctl(VDMUX_IOC_SWITCH, 0);
	if (!ret)
		ret = set_reserved(DEFAULT_RESERVED);
	if (!ret) {
		zero = calloc(1, DEFAULT_RESERVED);
		if (!zero)
			ret = -ENOMEM;
	}
	for (i = 0; !ret && i < (int)st.nr_vdevs; i++) {
		fd = open_vdev(i, O_RDWR);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		if (pwrite(fd, zero, DEFAULT_RESERVED, 0) != (ssize_t)DEFAULT_RESERVED)
			ret = -EIO;
		close(fd);
	}
	free(zero);
	return ret;
}

/* Opens the control node and the first DEFAULT_NR_VDEVS vdevs read-write. */
static inline int open_nodes(int *ctl, int vdev[DEFAULT_NR_VDEVS])
{
	int i;

	*ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (*ctl < 0)
		return -errno;
	for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
		vdev[i] = open_vdev(i, O_RDWR);
		if (vdev[i] < 0)
			return -errno;
	}
	return 0;
}

/* Opens the control node and vdevs 0 and 1 (read-write): 0, or -errno. */
static inline int open_ctl_and_pair(int *ctl, int *fd0, int *fd1)
{
	*fd0 = *fd1 = -1;
	*ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (*ctl < 0)
		return -errno;
	*fd0 = open_vdev(0, O_RDWR);
	if (*fd0 < 0)
		return -errno;
	*fd1 = open_vdev(1, O_RDWR);
	return *fd1 < 0 ? -errno : 0;
}

static inline void close_nodes(int ctl, int vdev[DEFAULT_NR_VDEVS])
{
	int i;

	close(ctl);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		close(vdev[i]);
}

/* SIGBUS catching: probe_read/probe_write return 1 when the access raised
 * SIGBUS, 0 when it completed. */
static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_signal;

static void probe_handler(int sig)
{
	probe_signal = sig;
	siglongjmp(probe_env, 1);
}

static inline void probe_arm(void)
{
	struct sigaction sa = { .sa_handler = probe_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	probe_signal = 0;
}

/*
 * Touches the probes' own state, so that a count of the faults around a
 * probe_read or probe_write counts those of the probed address alone.
 */
static inline void probe_prefault(void)
{
	memset(probe_env, 0, sizeof(probe_env));
	probe_signal = 0;
}

static inline int probe_read(volatile const char *p, char *out)
{
	probe_arm();
	if (sigsetjmp(probe_env, 1))
		return probe_signal;
	*out = *p;
	return 0;
}

static inline int probe_write(volatile char *p, char v)
{
	probe_arm();
	if (sigsetjmp(probe_env, 1))
		return probe_signal;
	*p = v;
	return 0;
}

/*
 * The test pattern: every 8-byte word is a hash of (vdev, seed, offset), the
 * offset being the word's byte offset in the vdev. No two words of a buffer
 * are alike, so a page or a PMD block mapped at the wrong offset, a page of
 * another vdev, or of another seed, fails the check at its first word.
 * splitmix64's finalizer is a bijection, and so is key + index * odd: for
 * one (vdev, seed), distinct offsets always give distinct words.
 */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The key of (vdev, seed): distinct pairs, distinct keys. */
static inline uint64_t pattern_key(unsigned int vdev, unsigned int seed)
{
	return mix64(((uint64_t)vdev << 32 | seed) + 0x9e3779b97f4a7c15ULL);
}

/* The word at byte offset @off (a multiple of 8) of the pattern of @key. */
static inline uint64_t pattern_word_k(uint64_t key, uint64_t off)
{
	return mix64(key + (off >> 3) * 0xd6e8feb86659fd93ULL);
}

/* The word at byte offset @off (a multiple of 8) of vdev @vdev's pattern @seed. */
static inline uint64_t pattern_word(unsigned int vdev, unsigned int seed, uint64_t off)
{
	return pattern_word_k(pattern_key(vdev, seed), off);
}

static inline char pattern_byte(unsigned int vdev, unsigned int seed, uint64_t off)
{
	return (char)(pattern_word(vdev, seed, off & ~7ULL) >> (8 * (off & 7)));
}

/*
 * Writes vdev @vdev's pattern @seed for the bytes [@off, @off + @len) of the
 * vdev into @buf (a mapping of that range, or a buffer for pwrite).
 */
static inline void fill_tagged(volatile void *buf, size_t len, unsigned int vdev,
			       unsigned int seed, uint64_t off)
{
	volatile char *b = buf;
	size_t i;

	if (!(((uintptr_t)buf | off | len) & 7)) {
		uint64_t key = pattern_key(vdev, seed);

		for (i = 0; i < len; i += 8)
			*(volatile uint64_t *)(b + i) = pattern_word_k(key, off + i);
		return;
	}
	for (i = 0; i < len; i++)
		b[i] = pattern_byte(vdev, seed, off + i);
}

/* Fills the first @len bytes of vdev @i (open as @fd) with its tagged pattern @seed, through write(2). */
static inline int fill_vdev(int fd, int i, unsigned int seed, size_t len)
{
	char *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return -1;
	fill_tagged(buf, len, i, seed, 0);
	n = pwrite(fd, buf, len, 0);
	free(buf);
	return n == (ssize_t)len ? 0 : -1;
}

/* The offset of the first byte of @buf that is not the pattern; @len if none. */
static inline size_t tagged_mismatch(const volatile void *buf, size_t len, unsigned int vdev,
				     unsigned int seed, uint64_t off)
{
	const volatile char *b = buf;
	size_t i;

	if (!(((uintptr_t)buf | off | len) & 7)) {
		uint64_t key = pattern_key(vdev, seed);

		for (i = 0; i < len; i += 8)
			if (*(const volatile uint64_t *)(b + i) != pattern_word_k(key, off + i))
				return i;
		return len;
	}
	for (i = 0; i < len; i++)
		if (b[i] != pattern_byte(vdev, seed, off + i))
			return i;
	return len;
}

/* 1 when every byte of @buf is vdev @vdev's pattern @seed at offset @off. */
static inline int has_tagged(const volatile void *buf, size_t len, unsigned int vdev,
			     unsigned int seed, uint64_t off)
{
	return tagged_mismatch(buf, len, vdev, seed, off) == len;
}

/*
 * The tests that pick a distinct seed per vdev use these: the seed stands for
 * (vdev, seed), and @buf for the bytes from offset 0 (or @off) of the vdev.
 */
#define PATTERN_VDEV 0xffffu

static inline void fill_pattern(volatile void *buf, size_t len, unsigned int seed)
{
	fill_tagged(buf, len, PATTERN_VDEV, seed, 0);
}

static inline void fill_pattern_at(volatile void *buf, size_t len, unsigned int seed, uint64_t off)
{
	fill_tagged(buf, len, PATTERN_VDEV, seed, off);
}

/* 1 when every byte of @buf is the pattern of @seed (from offset 0). */
static inline int has_pattern(const volatile void *buf, size_t len, unsigned int seed)
{
	return has_tagged(buf, len, PATTERN_VDEV, seed, 0);
}

static inline int has_pattern_at(const volatile void *buf, size_t len, unsigned int seed,
				 uint64_t off)
{
	return has_tagged(buf, len, PATTERN_VDEV, seed, off);
}

/* 1 when the first @len bytes of vdev @i, read with pread(2), are the pattern of @seed. */
static inline int vdev_has_pattern(int i, size_t len, unsigned int seed)
{
	int fd = open_vdev(i, O_RDONLY), ok = 0;
	char *buf = malloc(len);

	if (fd >= 0 && buf && pread(fd, buf, len, 0) == (ssize_t)len)
		ok = has_pattern(buf, len, seed);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

static inline int all_zero(const volatile char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Writes the string @text to @path in one write(2): 0 or -errno. */
static inline int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -errno;
	close(fd);
	return ret;
}

/* Reads up to @len - 1 bytes of @path into @buf, NUL-terminated: 0 or -errno. */
static inline int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = 0;
	return 0;
}

/* The first line of @path, without its newline: 0 or -errno. */
static inline int read_first_line(const char *path, char *buf, size_t len)
{
	int ret = read_text(path, buf, len);

	if (!ret)
		buf[strcspn(buf, "\n")] = 0;
	return ret;
}

/* A PCI device's address, as /sys/bus/pci/devices names it. */
#define PCI_BDF_LEN 32

static inline int pci_bdf_order(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The addresses of the first @max PCI devices @vendor:@device in bus order
 * (the order they bind in at a load), into @bdf: how many, or -errno.
 */
static inline int find_pci_devices(unsigned int vendor, unsigned int device,
				   char (*bdf)[PCI_BDF_LEN], int max)
{
	static char found[64][PCI_BDF_LEN];
	DIR *dir = opendir("/sys/bus/pci/devices");
	char path[512], v[16], d[16];
	struct dirent *e;
	int n = 0, i;

	if (!dir)
		return -errno;
	while (n < 64 && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= PCI_BDF_LEN)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_first_line(path, v, sizeof(v)))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_first_line(path, d, sizeof(d)))
			continue;
		if (strtoul(v, NULL, 16) == vendor && strtoul(d, NULL, 16) == device)
			snprintf(found[n++], PCI_BDF_LEN, "%s", e->d_name);
	}
	closedir(dir);
	qsort(found, n, PCI_BDF_LEN, pci_bdf_order);
	for (i = 0; i < n && i < max; i++)
		memcpy(bdf[i], found[i], PCI_BDF_LEN);
	return i;
}

/* The first PCI device @vendor:@device in bus order, its address into @bdf: 0 or -errno. */
static inline int find_pci_device(unsigned int vendor, unsigned int device, char *bdf, size_t len)
{
	char first[1][PCI_BDF_LEN];
	int n = find_pci_devices(vendor, device, first, 1);

	if (n < 0)
		return n;
	if (n == 0)
		return -ENODEV;
	snprintf(bdf, len, "%s", first[0]);
	return 0;
}

/* QEMU's ivshmem-plain device: the device memory of the PCI tests. */
#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

/*
 * BAR @bar of PCI device @bdf, from its sysfs "resource" file (one "start
 * end flags" line per resource): 0, -ENOENT for an unused BAR, or -errno.
 */
static inline int pci_bar_range(const char *bdf, int bar, unsigned long long *start,
				unsigned long long *len, unsigned long long *flags)
{
	unsigned long long s, e, f;
	char path[512], line[256];
	FILE *file;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	file = fopen(path, "r");
	if (!file)
		return -errno;
	for (i = 0; i <= bar && fgets(line, sizeof(line), file); i++)
		;
	fclose(file);
	if (i != bar + 1 || sscanf(line, "%llx %llx %llx", &s, &e, &f) != 3)
		return -EIO;
	if (e <= s)
		return -ENOENT;
	*start = s;
	*len = e - s + 1;
	if (flags)
		*flags = f;
	return 0;
}

/* Reads /proc/self/fdinfo/@fd into @buf: 0 or -errno. */
static inline int read_fdinfo(int fd, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return read_text(path, buf, len);
}

/*
 * The faults a vdev served since the module was loaded, from the fdinfo of
 * one of its open files: with single pages (each mapping its fault-around
 * block) and with one PMD entry. Page tables of vdmux mappings are not
 * visible in /proc/PID/pagemap or smaps (their walks skip VM_PFNMAP), so
 * the tests observe what the driver mapped through these counts, and,
 * independently of the driver, through the faults the kernel reports to
 * perf (see fault_trace_open()).
 *
 * The thread's own page faults (getrusage) are no exact oracle for them:
 * in a full run, faults on the test's own memory (its pages migrated by
 * compaction, say) land in the same window now and then. They can show
 * that something faulted, not that nothing else did.
 */
struct fault_counts {
	long pages;
	long huge;
	long vma_lock;	/* of those, served under the per-VMA lock alone */
	long map_pages;	/* of the single-page ones, served by ->map_pages */
};

/* This thread's page faults so far, minor and major; -1 on error. */
static inline long thread_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_minflt + ru.ru_majflt;
}

static inline long fdinfo_field(const char *buf, const char *name)
{
	const char *s = strstr(buf, name);

	return s ? strtol(s + strlen(name), NULL, 10) : -1;
}

static inline struct fault_counts fault_counts(int fd)
{
	struct fault_counts c = { -1, -1, -1, -1 };
	char buf[1024];

	if (!read_fdinfo(fd, buf, sizeof(buf))) {
		c.pages = fdinfo_field(buf, "vdmux-page-faults:\t");
		c.huge = fdinfo_field(buf, "vdmux-huge-faults:\t");
		c.vma_lock = fdinfo_field(buf, "vdmux-vma-lock-faults:\t");
		c.map_pages = fdinfo_field(buf, "vdmux-map-pages-faults:\t");
	}
	return c;
}

/*
 * The page faults this thread completes inside the mappings of one vdev, as
 * the kernel's fault handler reports them to perf: every fault that did
 * not fail is one PERF_COUNT_SW_PAGE_FAULTS_MIN or _MAJ event (a fault
 * that raised SIGBUS or SIGSEGV is neither), sampled with its address.
 * Only the addresses inside a mapping of the vdev count, so that faults on
 * the test's own memory in the same window do not. The kernel reports
 * these events from its own fault handler, after the driver's callback
 * returned: an oracle beside the driver's fdinfo counts.
 */
#define TRACE_DATA_PAGES 128	/* 16 bytes a sample: 32768 faults */
#define TRACE_RANGES 256

struct fault_trace {
	int min, maj;		/* the two events; their samples go to min's ring */
	char *ring;		/* its header page and TRACE_DATA_PAGES data pages */
	size_t page;
	dev_t rdev;		/* the vdev's device number */
	int nr_ranges, error;
	uintptr_t range[TRACE_RANGES][2];
};

static inline int trace_event(unsigned long long config)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = config,
		.sample_period = 1,
		.sample_type = PERF_SAMPLE_ADDR,
		.disabled = 1,
		.exclude_hv = 1,
	};

	/* This thread, on any CPU; faults the kernel takes on user memory too. */
	return syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/*
 * Adds the address ranges of the mappings of @t->rdev, from
 * /proc/self/maps, to those of @t. A mapping counts by the device number
 * of its file (through /proc/self/map_files, which reaches a node removed
 * since), so that a node made with mknod counts as well.
 */
static inline void trace_ranges(struct fault_trace *t)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long start, end, ino;
	char line[512], path[96];
	struct stat st;
	int i;

	if (!f) {
		t->error = 1;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &start, &end, &ino) != 3 || !ino)
			continue;
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", start, end);
		if (stat(path, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != t->rdev)
			continue;
		for (i = 0; i < t->nr_ranges; i++)
			if (t->range[i][0] == start && t->range[i][1] == end)
				break;
		if (i < t->nr_ranges)
			continue;
		if (t->nr_ranges == TRACE_RANGES) {
			t->error = 1;
			break;
		}
		t->range[t->nr_ranges][0] = start;
		t->range[t->nr_ranges++][1] = end;
	}
	fclose(f);
}

/* Starts counting the faults of this thread on the vdev of @fd; 0 or -1. */
static inline int fault_trace_open(struct fault_trace *t, int fd)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->min = t->maj = -1;
	t->page = sysconf(_SC_PAGESIZE);
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode))
		return -1;
	t->rdev = st.st_rdev;
	t->min = trace_event(PERF_COUNT_SW_PAGE_FAULTS_MIN);
	t->maj = trace_event(PERF_COUNT_SW_PAGE_FAULTS_MAJ);
	if (t->min < 0 || t->maj < 0)
		return -1;
	t->ring = mmap(NULL, (TRACE_DATA_PAGES + 1) * t->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		       t->min, 0);
	if (t->ring == MAP_FAILED) {
		t->ring = NULL;
		return -1;
	}
	if (ioctl(t->maj, PERF_EVENT_IOC_SET_OUTPUT, t->min))
		return -1;
	/* Mappings the action unmaps count as well as those it makes. */
	trace_ranges(t);
	if (ioctl(t->min, PERF_EVENT_IOC_ENABLE, 0) || ioctl(t->maj, PERF_EVENT_IOC_ENABLE, 0))
		return -1;
	return 0;
}

/* Copies @len bytes at @pos of the ring's data, which wrap around. */
static inline void trace_copy(const struct fault_trace *t, uint64_t pos, void *to, size_t len)
{
	const char *data = t->ring + t->page;
	size_t size = TRACE_DATA_PAGES * t->page, i;

	for (i = 0; i < len; i++)
		((char *)to)[i] = data[(pos + i) % size];
}

/*
 * Stops counting and closes @t: the faults counted in the vdev's mappings,
 * or -1 when they cannot be known (no perf, a sample lost).
 */
static inline long fault_trace_close(struct fault_trace *t)
{
	struct perf_event_mmap_page *meta = (void *)t->ring;
	struct perf_event_header h;
	uint64_t head, pos, addr;
	long n = 0;
	int i;

	if (t->min >= 0)
		ioctl(t->min, PERF_EVENT_IOC_DISABLE, 0);
	if (t->maj >= 0)
		ioctl(t->maj, PERF_EVENT_IOC_DISABLE, 0);
	if (!t->ring) {
		n = -1;
		goto out;
	}
	trace_ranges(t);
	head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	for (pos = meta->data_tail; n >= 0 && pos < head; pos += h.size) {
		trace_copy(t, pos, &h, sizeof(h));
		if (h.size < sizeof(h)) {
			n = -1;
		} else if (h.type == PERF_RECORD_SAMPLE) {
			trace_copy(t, pos + sizeof(h), &addr, sizeof(addr));
			for (i = 0; i < t->nr_ranges; i++)
				if (addr >= t->range[i][0] && addr < t->range[i][1])
					break;
			n += i < t->nr_ranges;
		} else if (h.type == PERF_RECORD_LOST) {
			n = -1;
		}
	}
	if (t->error)
		n = -1;
	munmap(t->ring, (TRACE_DATA_PAGES + 1) * t->page);
out:
	if (t->min >= 0)
		close(t->min);
	if (t->maj >= 0)
		close(t->maj);
	return n;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * Expects @action to cost exactly @pages single-page and @huge PMD faults on
 * the vdev of @fd, as the driver counts them, and exactly as many page
 * faults of this thread in that vdev's mappings, as the kernel reports
 * them (see struct fault_trace).
 */
#define EXPECT_FAULTS(fd, pages_, huge_, action)                        \
	do {                                                            \
		struct fault_counts before_ = fault_counts(fd), after_; \
		struct fault_trace trace_;                              \
		long traced_;                                           \
		int traced_open_ = fault_trace_open(&trace_, fd);       \
		action;                                                 \
		traced_ = fault_trace_close(&trace_);                   \
		after_ = fault_counts(fd);                              \
		EXPECT_LE(0, before_.pages);                            \
		EXPECT_EQ(0, traced_open_);                             \
		EXPECT_EQ((long)(pages_), after_.pages - before_.pages); \
		EXPECT_EQ((long)(huge_), after_.huge - before_.huge);   \
		EXPECT_EQ((long)(pages_) + (long)(huge_), traced_);     \
	} while (0)
#endif

/* A MAP_SHARED mapping of @len bytes of @fd at offset @off, wherever the kernel puts it. */
static inline char *map_shared(int fd, size_t len, int prot, off_t off)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, off);
}

/* Reads one byte of every page of [@p, @p + @len). */
static inline void touch_pages(const volatile char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PAGE)
		(void)p[off];
}

/* An ioctl as 0 or -errno. */
static inline int vdmux_ioc(int fd, unsigned long cmd, unsigned long arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

/* VDMUX_IOC_SET_AUTOGROW with @on (by value) on @fd: 0 or -errno. */
static inline int set_autogrow(int fd, unsigned long on)
{
	return vdmux_ioc(fd, VDMUX_IOC_SET_AUTOGROW, on);
}

/* VDMUX_IOC_POPULATE of [@addr, @addr + @len) through @fd: 0 or -errno. */
static inline int populate(int fd, const volatile void *addr, uint64_t len)
{
	struct vdmux_range r = { .addr = (uintptr_t)addr, .len = len };

	return vdmux_ioc(fd, VDMUX_IOC_POPULATE, (unsigned long)&r);
}

/* GET_STATUS of virtual device @i (or of the control node for -1). */
static inline int status_of(int i, struct vdmux_status *st)
{
	int fd = i < 0 ? open(CTL_PATH, O_RDONLY | O_CLOEXEC) : open_vdev(i, O_RDONLY);
	int ret;

	if (fd < 0)
		return -errno;
	ret = get_status(fd, st) ? -errno : 0;
	close(fd);
	return ret;
}

/* Every node's status (of DEFAULT_NR_VDEVS vdevs), to tell what a step changed. */
struct status_snapshot {
	struct vdmux_status ctl, vdev[DEFAULT_NR_VDEVS];
};

static inline int snap_status(struct status_snapshot *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	if (status_of(-1, &s->ctl))
		return -1;
	for (i = 0; i < DEFAULT_NR_VDEVS; i++)
		if (status_of(i, &s->vdev[i]))
			return -1;
	return 0;
}

/*
 * Frees what can be freed before a memory measurement: the page cache and
 * the dentries and inodes, then every slab cache's empty slabs. Shrinking a
 * cache also empties KASAN's quarantine of it, which otherwise keeps up to
 * 1/32 of RAM of freed objects counted in Slab.
 */
static inline void settle_memory(void)
{
	char path[512];
	struct dirent *d;
	DIR *dir;

	sync();
	write_text("/proc/sys/vm/drop_caches", "3");
	dir = opendir("/sys/kernel/slab");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		write_text(path, "1");
	}
	closedir(dir);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * xorshift64*: a small PRNG whose sequences depend only on the seed, so a
 * printed seed reproduces a run's choices.
 */
struct rng {
	uint64_t s;
};

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed ^ 0x9e3779b97f4a7c15ULL;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n); 0 for n == 0. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

/*
 * Takes "--name VALUE" (or "--name=VALUE") out of argv so that the test
 * harness never sees it; else the environment variable @env; else @def.
 */
static inline unsigned long long take_option(int *argc, char **argv, const char *name,
					     const char *env, unsigned long long def)
{
	size_t len = strlen(name);
	const char *val = env ? getenv(env) : NULL;
	int i, j, n;

	for (i = 1; i < *argc; i++) {
		if (strncmp(argv[i], name, len))
			continue;
		if (argv[i][len] == '=') {
			val = argv[i] + len + 1;
			n = 1;
		} else if (!argv[i][len] && i + 1 < *argc) {
			val = argv[i + 1];
			n = 2;
		} else {
			continue;
		}
		for (j = i; j + n <= *argc; j++)
			argv[j] = argv[j + n];
		*argc -= n;
		break;
	}
	return val ? strtoull(val, NULL, 0) : def;
}

/* Reads one "Name:   N kB" field of /proc/meminfo, in kB; -1 if absent. */
static inline long meminfo_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * Gives every test of the program at least @seconds before the harness
 * kills it (a test declared with a longer TEST_F_TIMEOUT keeps its own).
 * Each program sets its limit from what its slowest test needs on a busy
 * 2-core host under TCG, with room to spare: the harness's default of 30 s
 * is not a measurement.
 */
static inline void set_test_timeouts(int seconds)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	/*
	 * The PMD size, read here while vdmux is loaded, is known to every
	 * test (a child of this process), also while no node of vdmux exists.
	 */
	if (ctl_attr_number("pmd_size") > 0)
		pmd_size();

	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			if (t->timeout < seconds)
				t->timeout = seconds;
}

/* TEST_HARNESS_MAIN with every test's limit at least @seconds. */
#define VDMUX_HARNESS_MAIN(seconds)                     \
	int main(int argc, char **argv)                 \
	{                                               \
		set_test_timeouts(seconds);             \
		return test_harness_run(argc, argv);    \
	}

/*
 * Runs the tests with every limit at least @seconds, then leaves vdmux as
 * the next program expects it, loaded with RAM device memory: for the
 * programs that load it otherwise. The harness's exit status.
 */
static inline int run_then_reload_ram(int argc, char **argv, int seconds)
{
	int ret;

	set_test_timeouts(seconds);
	ret = test_harness_run(argc, argv);
	if (module_loaded())
		unload_module();
	load_module("");
	return ret;
}
#endif

#endif /* VDMUX_TEST_H */
