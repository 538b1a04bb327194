// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux benchmarks, run inside the guest by `make bench`.
 *
 * Every figure is the median of several runs (VDMUX_BENCH_REPS, 7 by
 * default), every ratio compares figures measured in the same boot, and
 * every contender is printed with the page size its memory was mapped with,
 * as observed in the page tables, not as the driver counts its faults
 * (memfd and anonymous memory: the PMD-mapped kB in /proc/self/smaps;
 * vdmux, whose VM_PFNMAP mappings every procfs page walker skips:
 * page_of_pfn_mapping()), and first touch, scaling and growth with their
 * faults as ru_minflt counts them. The guest judges no target: the host
 * does, from bench/targets, over several boots (scripts/render-bench.py).
 * The contenders:
 *
 *   switch-first   SWITCH with no mapper, first thing after boot;
 *   first-touch    mmap + first touch: vdmux (4 KiB pages with and without
 *                  fault-around, 2 MiB PMD mappings, VDMUX_IOC_POPULATE)
 *                  against a *resident* memfd (filled once, mapped afresh:
 *                  its faults find page cache pages, its read faults map
 *                  them with shmem's fault-around), the same with
 *                  MAP_POPULATE and with 2 MiB shmem pages (with and
 *                  without MAP_POPULATE), a fresh memfd (allocates and
 *                  zeroes inside the timing: shown, never a target's pair)
 *                  and anonymous memory; stores and loads;
 *   bandwidth      memset/memcpy of a faulted mapping against anonymous
 *                  memory of the same page size;
 *   copy           pread/pwrite of vdmux against a resident memfd, 4 KiB
 *                  requests and one 64 MiB request;
 *   scaling        2 threads faulting one vdev, 2 threads faulting two
 *                  vdevs, 2 threads faulting a resident memfd, vs 1 thread;
 *   switch-second  SWITCH with no mapper again, right after copy and
 *                  scaling;
 *   switch-mappers SWITCH with 1 and 4 mapper processes (4 KiB and 2 MiB
 *                  mappings) that re-touch their mappings before each
 *                  switch; the floor of every SWITCH figure is two kernel
 *                  copies of its size: 2 x pread from a resident memfd into
 *                  a resident buffer, timed in turns with it, and a user
 *                  memcpy of the same bytes;
 *   latency        single-page fault latency (p50/p99) of a reader of an
 *                  uninvolved vdev and of an involved one while another
 *                  process switches vdevs 0 and 1 in a loop, and idle;
 *   growth         autogrow (VDMUX_IOC_SET_AUTOGROW) filling 64 MiB page by
 *                  page against SET_RESERVED_SIZE + first touch, in wall
 *                  time, and both without the chunk allocation they share
 *                  (the bulk fill timed again on chunks allocated
 *                  beforehand); and the time of a one-page
 *                  SET_RESERVED_SIZE growth against the size, with 4
 *                  processes mapping the buffer. With
 *                  VDMUX_BENCH_CLOCK=instructions (a guest whose clock
 *                  counts instructions, 1 ns each: QEMU's -icount
 *                  shift=0, ICOUNT=1), the fill alone, as instruction
 *                  counts.
 *   ctxmgt         device context management (VDMUX_IOC_SET_CTXMGT): two
 *                  processes storing into their own vdevs, the device
 *                  following them; the time per hand-over (timeout 0)
 *                  against one SWITCH, each one's share of the wall time
 *                  with a 10 ms hold, and how long after a hold's end an
 *                  access made during it completes (see bench_ctxmgt()).
 *
 * The bar section measures the device memory in the BAR of the guest's
 * ivshmem-plain device (device_memory=pci) against RAM device memory of the
 * same size: first touch, mapped bandwidth and SWITCH (see bench_bar()); it
 * is n/a, with the reason, in a guest without that device.
 *
 * A figure whose ioctl the driver lacks or refuses (ENOTTY, EBUSY, ...) is
 * printed and recorded as "n/a (ERRNO)"; the run goes on. VDMUX_BENCH_ONLY
 * (a comma-separated list of the section names above) runs some sections
 * only.
 *
 * Prints a table per section and its ratios, then the results as JSON
 * between "# vdmux-json-begin" and "# vdmux-json-end" lines, which the host
 * turns into bench/ (scripts/render-bench.py).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "../vdmux_test.h"

#define MIB (1UL << 20)
#define MAX_SIZE (64UL << 20)
#define MAX_REPS 64

static int reps = 7;

static const size_t sizes[] = { 32UL << 10, 256UL << 10, 1UL << 20, 4UL << 20, 16UL << 20,
				 64UL << 20 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static FILE *json;
static char *json_buf;
static size_t json_len;
static int json_first = 1;
static FILE *json_ratios;
static char *ratios_buf;
static size_t ratios_len;
static int ratios_first = 1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The @q quantile (0 < q <= 1) of @v, sorted in place: nearest rank. */
static double quantile(double *v, size_t n, double q)
{
	size_t rank;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)(q * n);
	if (rank < q * n)
		rank++;
	return v[rank ? rank - 1 : 0];
}

static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Writes @size bytes of @buf at the start of each of vdevs 0..@n-1. */
static void fill_vdevs(int n, const void *buf, size_t size)
{
	for (int k = 0; k < n; k++) {
		int fd = open_vdev(k, O_RDWR);

		if (fd < 0 || pwrite(fd, buf, size, 0) != (ssize_t)size)
			die("fill vdev");
		close(fd);
	}
}

/* "ENOTTY" for ENOTTY. */
static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "unknown errno";
}

static void json_str(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":\"%s\"", key, s);
}

static void json_num(FILE *f, const char *key, double v)
{
	if (isnan(v))
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.6g", key, v);
}

/*
 * One JSON record: {"bench", "contender", "size", "metric", "page",
 * "value", "unit"[, "error"]}. @page is the page size the contender's
 * memory was mapped with; @error (or NULL) says why @value is NAN.
 */
static void record_full(const char *bench, const char *contender, size_t size, const char *metric,
			const char *page, double value, const char *unit, const char *error)
{
	fprintf(json, "%s{\"bench\":\"%s\",\"contender\":\"%s\",\"size\":%zu", json_first ? "" : ",\n",
		bench, contender, size);
	json_str(json, "metric", metric ? metric : "");
	json_str(json, "page", page ? page : "-");
	json_num(json, "value", value);
	json_str(json, "unit", unit);
	if (error)
		json_str(json, "error", error);
	fputs("}", json);
	json_first = 0;
}

static void record(const char *bench, const char *contender, size_t size, const char *page,
		   double value, const char *unit)
{
	record_full(bench, contender, size, NULL, page, value, unit, NULL);
}

/*
 * A ratio of two figures of this boot, printed and recorded; @value NAN
 * with @error when a figure behind it is n/a. The guest judges nothing: the
 * targets are bench/targets, which the host judges on the figures of every
 * boot (scripts/render-bench.py).
 */
static void ratio(const char *group, const char *name, double value, const char *error)
{
	fprintf(json_ratios, "%s{\"group\":\"%s\",\"name\":\"%s\"", ratios_first ? "" : ",\n", group,
		name);
	json_num(json_ratios, "value", value);
	if (isnan(value) && !error)
		error = "no figure";
	if (error)
		json_str(json_ratios, "error", error);
	fputs("}", json_ratios);
	ratios_first = 0;
	if (isnan(value))
		printf("#   ratio  %-62s n/a (%s)\n", name, error);
	else
		printf("#   ratio  %-62s %8.*fx\n", name, value < 0.1 ? 4 : 2, value);
}

/* The ratio of two figures, either of which may be n/a (NAN) with an error. */
static void ratio_of(const char *group, const char *name, double num, const char *num_err,
		     double den, const char *den_err)
{
	const char *err = isnan(num) ? num_err : isnan(den) ? den_err : NULL;

	ratio(group, name, err || isnan(num) || isnan(den) ? NAN : num / den, err);
}

static void reload(const char *params)
{
	if (module_loaded() && unload_module())
		die("rmmod vdmux");
	if (load_module(params))
		die("insmod vdmux");
}

static void resize(size_t size)
{
	if (set_reserved(size))
		die("SET_RESERVED_SIZE");
}

/*
 * Writes the first @size bytes of vdev 0, the foreground, so that every
 * chunk of its device memory is allocated, as the resident memfd's pages
 * are: a shrink frees the chunks past the new size, and without this the
 * first vdmux contender after a resize would time their allocation.
 */
static void make_resident(size_t size)
{
	static char zeros[1 << 20];
	size_t off, n;
	int fd = open_vdev(0, O_RDWR);

	if (fd < 0)
		die("open vdmux0");
	for (off = 0; off < size; off += n) {
		n = size - off < sizeof(zeros) ? size - off : sizeof(zeros);
		if (pwrite(fd, zeros, n, off) != (ssize_t)n)
			die("pwrite vdmux0");
	}
	close(fd);
}

/* 4 KiB faults only (1) or 2 MiB mappings where possible (0), for this process. */
static void small_pages_only(int on)
{
	if (prctl(PR_SET_THP_DISABLE, on, 0, 0, 0))
		die("PR_SET_THP_DISABLE");
}

/* One store per page: each page takes a first-touch fault. */
static void touch(volatile char *p, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += PAGE)
		p[off] = 1;
}

/* One load per page. */
static void touch_read(const volatile char *p, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += PAGE)
		(void)p[off];
}

static void touch_as(char *p, size_t size, int write)
{
	if (write)
		touch(p, size);
	else
		touch_read(p, size);
}

static void *map_anon(size_t size, int huge)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap anonymous");
	madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/*
 * kB of the VMA that holds @addr mapped with PMD entries (anonymous, shmem
 * or file THPs), from /proc/self/smaps; -1 if not found. The kernel merges
 * a mapping with its neighbours of the same kind: 0 still means 4 KiB
 * pages only.
 */
static long pmd_mapped_kb(const void *addr)
{
	unsigned long start, end;
	char line[512], perms[8];
	int in = 0;
	long kb = -1, v;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3) {
			if (in)
				break;
			in = start <= (unsigned long)addr && (unsigned long)addr < end;
			if (in)
				kb = 0;
			continue;
		}
		if (in && (sscanf(line, "AnonHugePages: %ld", &v) == 1 ||
			   sscanf(line, "ShmemPmdMapped: %ld", &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %ld", &v) == 1))
			kb += v;
	}
	fclose(f);
	return kb;
}

/* The page size of a faulted-in mapping of normal memory at @addr. */
static const char *page_of_mapping(const void *addr, size_t size)
{
	long kb = pmd_mapped_kb(addr);

	if (kb < 0)
		return "?";
	if (kb == 0)
		return "4K";
	return (size_t)kb * 1024 >= size ? "2M" : "2M+4K";
}

/* The page size of the vdmux faults between @a and @b; @dflt if there were none. */
static const char *page_of_faults(struct fault_counts a, struct fault_counts b, const char *dflt)
{
	long pages = b.pages - a.pages, huge = b.huge - a.huge;

	if (huge > 0)
		return pages > 0 ? "2M+4K" : "2M";
	return pages > 0 ? "4K" : dflt;
}

/* Minor faults of this process so far, as the kernel's fault path counts them. */
static long minflt(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_minflt;
}

/*
 * The page size of a faulted-in vdmux mapping of @size bytes at @p, as the
 * kernel's page tables have it, not as the driver counts its faults: the
 * procfs page walkers (smaps, pagemap, PAGEMAP_SCAN, mincore) all skip a
 * VM_PFNMAP. So each whole 2 MiB block is split off by an mprotect of its
 * second page: splitting the VMA inside a PMD entry zaps that entry (a PFN
 * map has no page tables to split it into), and a load of the block's first
 * page then faults, which ru_minflt counts; under 4 KiB entries the load
 * finds its page mapped and takes no fault. Below 2 MiB, or with no whole
 * aligned block, a VMA cannot hold a PMD entry: 4K. Changes the mapping:
 * the last thing before munmap, outside any timing. "?" when a block's
 * first page was not mapped before the probe.
 */
static const char *page_of_pfn_mapping(char *p, size_t size)
{
	uintptr_t b = ((uintptr_t)p + 2 * MIB - 1) & ~(2 * MIB - 1);
	long f0, huge = 0, small = 0;

	for (; b + 2 * MIB <= (uintptr_t)p + size; b += 2 * MIB) {
		f0 = minflt();
		(void)*(volatile char *)b;
		if (minflt() != f0)
			return "?";
		if (mprotect((char *)b + PAGE, PAGE, PROT_READ))
			return "?";
		f0 = minflt();
		(void)*(volatile char *)b;
		if (minflt() != f0)
			huge++;
		else
			small++;
	}
	if (!huge)
		return "4K";
	return small || b != (uintptr_t)p + size || ((uintptr_t)p & (2 * MIB - 1)) ? "2M+4K" : "2M";
}

/* The page size of the pages of a resident memfd @fd of @size bytes, mapped to look. */
static const char *page_of_memfd(int fd, size_t size)
{
	const char *page;
	char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die("mmap memfd");
	touch_read(p, size);
	page = page_of_mapping(p, size);
	munmap(p, size);
	return page;
}

/* The "vdmux-huge-blocks" of vdev @i: its 2 MiB blocks that PMD entries can map. */
static long huge_blocks(int i)
{
	char buf[1024];
	long n = -1;
	int fd = open_vdev(i, O_RDONLY);

	if (fd >= 0 && !read_fdinfo(fd, buf, sizeof(buf)))
		n = fdinfo_field(buf, "vdmux-huge-blocks:\t");
	if (fd >= 0)
		close(fd);
	return n;
}

static const char *shmem_enabled_path = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
static char shmem_enabled_saved[32];

/* Lets shmem allocate 2 MiB pages for MADV_HUGEPAGE mappings (1), or restores (0). */
static void shmem_thp(int on)
{
	char buf[128], *s, *e;

	if (on) {
		if (read_first_line(shmem_enabled_path, buf, sizeof(buf)))
			return;
		s = strchr(buf, '[');
		e = s ? strchr(s, ']') : NULL;
		if (s && e && e - s - 1 < (long)sizeof(shmem_enabled_saved)) {
			memcpy(shmem_enabled_saved, s + 1, e - s - 1);
			shmem_enabled_saved[e - s - 1] = 0;
		}
		write_text(shmem_enabled_path, "advise");
	} else if (shmem_enabled_saved[0]) {
		write_text(shmem_enabled_path, shmem_enabled_saved);
	}
}

/*
 * A memfd of @size bytes whose pages are all in the page cache: written
 * once through a mapping (with MADV_HUGEPAGE for @huge, which needs
 * shmem_thp(1)), then unmapped.
 */
static int resident_memfd(size_t size, int huge)
{
	int fd = memfd_create("bench", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, size))
		die("memfd");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap memfd");
	madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(p, 0x5a, size);
	munmap(p, size);
	return fd;
}

static int ctl_fd(void)
{
	int fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/vdmux");
	return fd;
}

/* Opens a section: whether VDMUX_BENCH_ONLY selects it. */
static double section_start;

static int section(const char *name, const char *title)
{
	const char *only = getenv("VDMUX_BENCH_ONLY");
	size_t len = strlen(name);
	const char *s;

	if (only && *only) {
		for (s = only; (s = strstr(s, name)); s += len)
			if ((s == only || s[-1] == ',') && (!s[len] || s[len] == ','))
				break;
		if (!s)
			return 0;
	}
	printf("#\n# == %s: %s (median of %d)\n", name, title, reps);
	fflush(stdout);
	section_start = now();
	return 1;
}

static void section_end(const char *name)
{
	double t = now() - section_start;

	printf("# (%s took %.1f s)\n", name, t);
	fflush(stdout);
	record("time", name, 0, NULL, t, "s");
}

/* --- first touch ---------------------------------------------------------- */

enum ft_kind {
	FT_VDMUX,
	FT_VDMUX_POPULATE,
	FT_MEMFD_FRESH,
	FT_MEMFD,
	FT_MEMFD_POPULATE,
	FT_ANON,
};

struct ft_result {
	double mib_s; /* NAN when n/a */
	const char *page;
	long faults; /* the faults of the last run, from ru_minflt */
	int err; /* the errno that made it n/a */
};

/*
 * Seconds for mmap (+ VDMUX_IOC_POPULATE) + one access per page of @size
 * bytes of a fresh mapping of @kind; @memfd for FT_MEMFD*. Sets @page to the
 * page size it was mapped with, as observed after the timing (smaps for
 * memfd and anonymous memory, page_of_pfn_mapping() for vdmux), @faults to
 * the faults the run took (ru_minflt), and @err to the errno of a failed
 * populate ioctl.
 */
static double first_touch_once(enum ft_kind kind, int memfd, size_t size, int write, int thp,
			       const char **page, long *faults, int *err)
{
	int fd = -1, flags = MAP_SHARED;
	double t0, t;
	long m0;
	char *p;

	*err = 0;
	switch (kind) {
	case FT_VDMUX:
	case FT_VDMUX_POPULATE:
		fd = open_vdev(0, O_RDWR);
		if (fd < 0)
			die("open vdmux0");
		break;
	case FT_MEMFD_FRESH:
		fd = memfd_create("bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, size))
			die("memfd");
		break;
	case FT_MEMFD_POPULATE:
		flags |= MAP_POPULATE;
		/* fall through */
	case FT_MEMFD:
		fd = memfd;
		break;
	case FT_ANON:
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	}
	m0 = minflt();
	t0 = now();
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	if (kind == FT_VDMUX_POPULATE) {
		struct vdmux_range r = { (uintptr_t)p, size };

		if (ioctl(fd, VDMUX_IOC_POPULATE, &r))
			*err = errno;
	}
	touch_as(p, size, write);
	t = now() - t0;
	*faults = minflt() - m0;
	if (kind == FT_VDMUX || kind == FT_VDMUX_POPULATE)
		*page = page_of_pfn_mapping(p, size);
	else
		*page = page_of_mapping(p, size);
	munmap(p, size);
	if (fd >= 0 && fd != memfd)
		close(fd);
	return t;
}

struct ft_contender {
	const char *name;
	const char *params; /* module parameters, NULL for a non-vdmux contender */
	int thp;	    /* 2 MiB pages allowed */
	enum ft_kind kind;
	int read_too;	    /* also measured with loads, at 64 MiB */
};

static const struct ft_contender ft_contenders[] = {
	{ "vdmux-4k-fa1", "fault_around_pages=1", 0, FT_VDMUX, 1 },
	{ "vdmux-4k", "", 0, FT_VDMUX, 1 },
	{ "vdmux-4k-populate", "", 0, FT_VDMUX_POPULATE, 0 },
	{ "vdmux-pmd", "", 1, FT_VDMUX, 1 },
	{ "vdmux-pmd-populate", "", 1, FT_VDMUX_POPULATE, 0 },
	{ "memfd-resident", NULL, 0, FT_MEMFD, 1 },
	{ "memfd-resident-populate", NULL, 0, FT_MEMFD_POPULATE, 0 },
	{ "memfd-resident-thp", NULL, 1, FT_MEMFD, 1 },
	{ "memfd-resident-thp-populate", NULL, 1, FT_MEMFD_POPULATE, 0 },
	{ "memfd-fresh", NULL, 0, FT_MEMFD_FRESH, 0 },
	{ "anon", NULL, 1, FT_ANON, 0 },
};
#define NR_FT ARRAY_SIZE(ft_contenders)

/* [contender][size index, or NR_SIZES for the 64 MiB loads] */
static struct ft_result ft[NR_FT][NR_SIZES + 1];

static double ft_val(const char *name, int loads)
{
	unsigned int k;

	for (k = 0; k < NR_FT; k++)
		if (!strcmp(ft_contenders[k].name, name))
			return ft[k][loads ? NR_SIZES : NR_SIZES - 1].mib_s;
	return NAN;
}

static const char *ft_err(const char *name, int loads)
{
	unsigned int k;

	for (k = 0; k < NR_FT; k++)
		if (!strcmp(ft_contenders[k].name, name)) {
			int err = ft[k][loads ? NR_SIZES : NR_SIZES - 1].err;

			return err ? errname(err) : NULL;
		}
	return NULL;
}

static void ft_ratio(const char *name, const char *num, const char *den, int loads)
{
	ratio_of("first_touch", name, ft_val(num, loads), ft_err(num, loads), ft_val(den, loads),
		 ft_err(den, loads));
}

static void ft_print(unsigned int k, size_t size, int write, struct ft_result *r)
{
	const char *bench = write ? "first_touch" : "first_touch_load";
	char why[64];

	if (r->err) {
		snprintf(why, sizeof(why), "%s", errname(r->err));
		printf("# %-10zu %-28s %-6s %-5s %12s n/a (%s)\n", size, ft_contenders[k].name, "-",
		       write ? "store" : "load", "", why);
		record_full(bench, ft_contenders[k].name, size, NULL, "-", NAN, "MiB/s", why);
		return;
	}
	printf("# %-10zu %-28s %-6s %-5s %12.3f %12.1f %8ld\n", size, ft_contenders[k].name,
	       r->page, write ? "store" : "load", size / r->mib_s / MIB * 1e3, r->mib_s, r->faults);
	record(bench, ft_contenders[k].name, size, r->page, r->mib_s, "MiB/s");
	record_full(bench, ft_contenders[k].name, size, "faults", r->page, r->faults, "", NULL);
}

/* Seconds of each run, [contender][size index, or NR_SIZES for loads][run]. */
static double ft_t[NR_FT][NR_SIZES + 1][MAX_REPS];

/*
 * Every contender runs once per round, at every size, in turns with the
 * others, so that drift of the host hits them all alike: a round loads
 * the module with fault_around_pages=1 for the one contender that wants
 * it, then again with the defaults for the others.
 */
static void bench_first_touch(void)
{
	static const char *const groups[] = { "fault_around_pages=1", "" };
	int memfd = -1, memfd_thp = -1, fd, i, g;
	unsigned int k, s;

	if (!section("first-touch", "mmap + first touch, one access per page"))
		return;
	printf("# %-10s %-28s %-6s %-5s %12s %12s %8s\n", "size", "contender", "page", "op", "ms",
	       "MiB/s", "faults");
	memfd = resident_memfd(MAX_SIZE, 0);
	shmem_thp(1);
	memfd_thp = resident_memfd(MAX_SIZE, 1);
	for (k = 0; k < NR_FT; k++)
		for (s = 0; s <= NR_SIZES; s++)
			ft[k][s] = (struct ft_result){ NAN, "?", 0, 0 };
	for (i = 0; i < reps; i++) {
		for (g = 0; g < 2; g++) {
			reload(groups[g]);
			for (s = 0; s <= NR_SIZES; s++) {
				size_t size = s < NR_SIZES ? sizes[s] : MAX_SIZE;

				resize(size);
				make_resident(size);
				for (k = 0; k < NR_FT; k++) {
					const struct ft_contender *c = &ft_contenders[k];
					struct ft_result *r = &ft[k][s];

					/* Non-vdmux contenders run in the default round. */
					if (strcmp(c->params ? c->params : "", groups[g]) ||
					    (s == NR_SIZES && !c->read_too) || r->err)
						continue;
					small_pages_only(!c->thp);
					fd = c->thp ? memfd_thp : memfd;
					ft_t[k][s][i] = first_touch_once(c->kind, fd, size, s < NR_SIZES,
									 c->thp, &r->page, &r->faults,
									 &r->err);
				}
			}
		}
	}
	small_pages_only(0);
	close(memfd);
	close(memfd_thp);
	shmem_thp(0);
	for (k = 0; k < NR_FT; k++)
		for (s = 0; s <= NR_SIZES; s++) {
			size_t size = s < NR_SIZES ? sizes[s] : MAX_SIZE;

			if (s == NR_SIZES && !ft_contenders[k].read_too)
				continue;
			if (!ft[k][s].err)
				ft[k][s].mib_s = size / median(ft_t[k][s], reps) / MIB;
			ft_print(k, size, s < NR_SIZES, &ft[k][s]);
		}

	printf("# 64 MiB, stores:\n");
	ft_ratio("64 MiB stores: vdmux 4 KiB pages vs resident memfd", "vdmux-4k", "memfd-resident", 0);
	ft_ratio("64 MiB stores: vdmux 4 KiB, 1 page per fault, vs resident memfd", "vdmux-4k-fa1",
		 "memfd-resident", 0);
	ft_ratio("64 MiB stores: vdmux+POPULATE vs resident memfd+MAP_POPULATE (4 KiB)",
		 "vdmux-4k-populate", "memfd-resident-populate", 0);
	ft_ratio("64 MiB stores: vdmux PMD vs resident memfd 4 KiB", "vdmux-pmd", "memfd-resident", 0);
	ft_ratio("64 MiB stores: vdmux PMD vs resident memfd 2 MiB", "vdmux-pmd", "memfd-resident-thp",
		 0);
	ft_ratio("64 MiB stores: vdmux PMD+POPULATE vs resident memfd 2 MiB", "vdmux-pmd-populate",
		 "memfd-resident-thp", 0);
	ft_ratio("64 MiB stores: vdmux PMD+POPULATE vs resident memfd 2 MiB+MAP_POPULATE",
		 "vdmux-pmd-populate", "memfd-resident-thp-populate", 0);
	printf("# 64 MiB, loads:\n");
	/* shmem maps read faults 16 pages at a time too (its own fault-around). */
	ft_ratio("64 MiB loads: vdmux 4 KiB pages vs resident memfd", "vdmux-4k", "memfd-resident", 1);
	ft_ratio("64 MiB loads: vdmux 4 KiB, 1 page per fault, vs resident memfd", "vdmux-4k-fa1",
		 "memfd-resident", 1);
	ft_ratio("64 MiB loads: vdmux PMD vs resident memfd 4 KiB", "vdmux-pmd", "memfd-resident", 1);
	ft_ratio("64 MiB loads: vdmux PMD vs resident memfd 2 MiB", "vdmux-pmd", "memfd-resident-thp",
		 1);
	/* A fresh memfd allocates and zeroes its pages inside the timing: not like for like. */
	printf("# 64 MiB stores against a fresh memfd (allocates and zeroes its pages):\n");
	ft_ratio("64 MiB stores: vdmux 4 KiB, 1 page per fault, vs fresh memfd", "vdmux-4k-fa1",
		 "memfd-fresh", 0);
	ft_ratio("64 MiB stores: vdmux 4 KiB pages vs fresh memfd", "vdmux-4k", "memfd-fresh", 0);
	ft_ratio("64 MiB stores: vdmux PMD vs fresh memfd", "vdmux-pmd", "memfd-fresh", 0);
	section_end("first-touch");
}

/* --- steady-state bandwidth ------------------------------------------------ */

/* Seconds for one @op (0: memset, 1: memcpy from @src) over MAX_SIZE bytes at @p. */
static double time_op(char *p, const char *src, int op, int rep)
{
	double t0 = now();

	if (op == 0)
		memset(p, rep, MAX_SIZE);
	else
		memcpy(p, src, MAX_SIZE);
	return now() - t0;
}

/*
 * Median MiB/s of @op over @a and over @b, mappings of MAX_SIZE bytes
 * already faulted in, timed in turns so that drift hits both alike.
 */
static void bandwidth(char *a, char *b, const char *src, int op, double *mib_a, double *mib_b)
{
	double ta[MAX_REPS], tb[MAX_REPS];
	int i;

	for (i = 0; i < reps; i++) {
		ta[i] = time_op(a, src, op, i);
		tb[i] = time_op(b, src, op, i);
	}
	*mib_a = MAX_SIZE / median(ta, reps) / MIB;
	*mib_b = MAX_SIZE / median(tb, reps) / MIB;
}

/* memcpy MiB/s into the PMD mapping: against write() in the copy section. */
static double bw_memcpy_pmd;

static void bench_bandwidth(void)
{
	static const char *const pagename[] = { "4 KiB", "2 MiB" };
	static const char *const opname[] = { "memset", "memcpy" };
	const char *page_anon, *page_map;
	double mib[2][2]; /* [op][vdmux] */
	char *anon, *src, *map, name[96];
	int fd, huge, op;

	if (!section("bandwidth", "steady-state bandwidth of a faulted 64 MiB mapping"))
		return;
	reload("");
	resize(MAX_SIZE);
	src = map_anon(MAX_SIZE, 0);
	memset(src, 0x5a, MAX_SIZE);
	printf("#   %-8s %-14s %-6s %10s\n", "op", "contender", "page", "MiB/s");
	for (huge = 0; huge < 2; huge++) {
		small_pages_only(!huge);
		fd = open_vdev(0, O_RDWR);
		if (fd < 0)
			die("open vdmux0");
		anon = map_anon(MAX_SIZE, huge);
		map = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			die("mmap vdmux0");
		touch(anon, MAX_SIZE);
		touch(map, MAX_SIZE);
		page_anon = page_of_mapping(anon, MAX_SIZE);
		/* memset (op 0), then memcpy (op 1). */
		for (op = 0; op < 2; op++)
			bandwidth(anon, map, src, op, &mib[op][0], &mib[op][1]);
		/* After the timing: the probe splits the mapping. */
		page_map = page_of_pfn_mapping(map, MAX_SIZE);
		for (op = 0; op < 2; op++) {
			printf("#   %-8s %-14s %-6s %10.1f\n", opname[op], "anon", page_anon,
			       mib[op][0]);
			printf("#   %-8s %-14s %-6s %10.1f\n", opname[op], "vdmux-mmap", page_map,
			       mib[op][1]);
			record(opname[op], huge ? "anon-2m" : "anon-4k", MAX_SIZE, page_anon, mib[op][0],
			       "MiB/s");
			record(opname[op], huge ? "vdmux-mmap-2m" : "vdmux-mmap-4k", MAX_SIZE, page_map,
			       mib[op][1], "MiB/s");
			snprintf(name, sizeof(name), "%s, %s pages: vdmux mapping vs anonymous memory",
				 opname[op], pagename[huge]);
			ratio("bandwidth", name, mib[op][1] / mib[op][0], NULL);
		}
		if (huge)
			bw_memcpy_pmd = mib[1][1];
		munmap(map, MAX_SIZE);
		munmap(anon, MAX_SIZE);
		close(fd);
	}
	small_pages_only(0);
	munmap(src, MAX_SIZE);
	section_end("bandwidth");
}

/* --- copy path ------------------------------------------------------------- */

/* Seconds for pread/pwrite of [0, MAX_SIZE) of @fd in requests of @req bytes. */
static double copy_once(int fd, char *buf, size_t req, int do_write)
{
	double t0 = now();
	size_t off;
	ssize_t n;

	for (off = 0; off < MAX_SIZE; off += req) {
		n = do_write ? pwrite(fd, buf, req, off) : pread(fd, buf, req, off);
		if (n != (ssize_t)req)
			die("copy path");
	}
	return now() - t0;
}

static double copy_mib_s[2][2][2]; /* [request 64 MiB][write][vdmux] */

static void bench_copy(void)
{
	const size_t reqs[] = { PAGE, MAX_SIZE };
	double t[2][2][2][MAX_REPS];
	int memfd, vfd, r, w, v, i;
	char *small, *big, name[128], both[2][16];
	const char *page[2][2], *cache; /* [request 64 MiB][memfd] */

	if (!section("copy", "pread/pwrite of 64 MiB: vdmux vs a resident memfd"))
		return;
	reload("");
	resize(MAX_SIZE);
	vfd = open_vdev(0, O_RDWR);
	if (vfd < 0)
		die("open vdmux0");
	memfd = resident_memfd(MAX_SIZE, 0);
	small = map_anon(PAGE, 0);
	big = map_anon(MAX_SIZE, 0);
	memset(small, 0x33, PAGE);
	memset(big, 0x44, MAX_SIZE);
	if (pwrite(vfd, big, MAX_SIZE, 0) != (ssize_t)MAX_SIZE)
		die("pwrite vdmux0");
	/* In turns: every contender sees the same drift. */
	for (i = 0; i < reps; i++)
		for (r = 0; r < 2; r++)
			for (w = 0; w < 2; w++)
				for (v = 1; v >= 0; v--)
					t[r][w][v][i] = copy_once(v ? vfd : memfd, r ? big : small,
								  reqs[r], w);
	/*
	 * The page size of a figure is its user buffer's, observed in smaps;
	 * for the memfd also its page cache's, when that differs.
	 */
	page[0][0] = page_of_mapping(small, PAGE);
	page[1][0] = page_of_mapping(big, MAX_SIZE);
	cache = page_of_memfd(memfd, MAX_SIZE);
	for (r = 0; r < 2; r++) {
		page[r][1] = page[r][0];
		if (strcmp(page[r][0], cache)) {
			snprintf(both[r], sizeof(both[r]), "%s/%s", page[r][0], cache);
			page[r][1] = both[r];
		}
	}
	printf("#   %-10s %-8s %-16s %-6s %10s\n", "request", "op", "contender", "page", "MiB/s");
	for (r = 0; r < 2; r++)
		for (w = 0; w < 2; w++) {
			for (v = 1; v >= 0; v--) {
				copy_mib_s[r][w][v] = MAX_SIZE / median(t[r][w][v], reps) / MIB;
				printf("#   %-10zu %-8s %-16s %-6s %10.1f\n", reqs[r], w ? "pwrite" : "pread",
				       v ? "vdmux" : "memfd-resident", page[r][!v], copy_mib_s[r][w][v]);
				record(w ? "pwrite" : "pread", v ? "vdmux" : "memfd-resident", reqs[r],
				       page[r][!v], copy_mib_s[r][w][v], "MiB/s");
			}
			snprintf(name, sizeof(name), "%s, %s requests over 64 MiB: vdmux vs resident memfd",
				 w ? "pwrite" : "pread", r ? "64 MiB" : "4 KiB");
			ratio("copy", name, copy_mib_s[r][w][1] / copy_mib_s[r][w][0], NULL);
		}
	if (bw_memcpy_pmd > 0) {
		/*
		 * Once a target (2x, against a read/write that copied twice
		 * through a bounce buffer); with one copy, write() comes close
		 * to a memcpy, which is what the copy-path targets ask.
		 */
		ratio("copy", "memcpy into a PMD mapping vs vdmux pwrite() of 64 MiB",
		      bw_memcpy_pmd / copy_mib_s[1][1][1], NULL);
		ratio("copy", "memcpy into a PMD mapping vs vdmux pread() of 64 MiB",
		      bw_memcpy_pmd / copy_mib_s[1][0][1], NULL);
	}
	munmap(small, PAGE);
	munmap(big, MAX_SIZE);
	close(memfd);
	close(vfd);
	section_end("copy");
}

/* --- fault scaling ----------------------------------------------------------- */

struct half {
	char *p;
	size_t len;
};

static void *touch_half(void *arg)
{
	struct half *h = arg;

	touch(h->p, h->len);
	return NULL;
}

/* Seconds to touch @h[0] and @h[1]: one thread after the other (1), or in parallel (2). */
static double touch_halves(struct half h[2], int threads)
{
	pthread_t th[2];
	double t0 = now();

	if (threads == 1) {
		touch_half(&h[0]);
		touch_half(&h[1]);
	} else {
		pthread_create(&th[0], NULL, touch_half, &h[0]);
		pthread_create(&th[1], NULL, touch_half, &h[1]);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
	}
	return now() - t0;
}

static void bench_scaling(void)
{
	static const char *const names[3] = { "vdmux-1-vdev", "vdmux-2-vdevs", "memfd-resident" };
	double t[3][2][MAX_REPS], one, two;
	int i, c, n, fd[2], memfd;
	const char *page[3][2] = { { "?", "?" }, { "?", "?" }, { "?", "?" } };
	long faults[3][2] = { { 0 } }, m0;
	struct half h[2];
	char *p, *q, name[128];
	static char wrote[1 << 20];
	size_t off;

	if (!section("scaling", "64 MiB of 4 KiB faults (stores, 1 page per fault), 1 vs 2 threads"))
		return;
	reload("fault_around_pages=1");
	small_pages_only(1);
	resize(MAX_SIZE);
	fd[0] = open_vdev(0, O_RDWR);
	fd[1] = open_vdev(1, O_RDWR);
	if (fd[0] < 0 || fd[1] < 0)
		die("open vdmux");
	/*
	 * Resident, as the memfd is: vdev 0's device memory and the 32 MiB of
	 * vdev 1's backing store that the runs touch are written whole
	 * before timing.
	 */
	make_resident(MAX_SIZE);
	memset(wrote, 0, sizeof(wrote));
	for (off = 0; off < MAX_SIZE / 2; off += sizeof(wrote))
		if (pwrite(fd[1], wrote, sizeof(wrote), off) != (ssize_t)sizeof(wrote))
			die("pwrite vdmux1");
	memfd = resident_memfd(MAX_SIZE, 0);
	for (i = 0; i < reps; i++) {
		for (c = 0; c < 3; c++) {
			for (n = 1; n <= 2; n++) {
				if (c == 1) {
					/* Half of vdev 0 and half of vdev 1: 64 MiB in all. */
					p = mmap(NULL, MAX_SIZE / 2, PROT_READ | PROT_WRITE, MAP_SHARED,
						 fd[0], 0);
					q = mmap(NULL, MAX_SIZE / 2, PROT_READ | PROT_WRITE, MAP_SHARED,
						 fd[1], 0);
				} else {
					p = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
						 c ? memfd : fd[0], 0);
					q = p + MAX_SIZE / 2;
				}
				if (p == MAP_FAILED || q == MAP_FAILED)
					die("mmap");
				h[0] = (struct half){ p, MAX_SIZE / 2 };
				h[1] = (struct half){ q, MAX_SIZE / 2 };
				m0 = minflt();
				t[c][n - 1][i] = touch_halves(h, n);
				faults[c][n - 1] = minflt() - m0;
				/* Observed after the timing (the probe splits vdmux mappings). */
				if (c == 2) {
					page[c][n - 1] = page_of_mapping(p, MAX_SIZE);
				} else {
					page[c][n - 1] = page_of_pfn_mapping(p, MAX_SIZE / 2);
					if (strcmp(page_of_pfn_mapping(q, MAX_SIZE / 2), page[c][n - 1]))
						page[c][n - 1] = "mixed";
				}
				if (c == 1) {
					munmap(p, MAX_SIZE / 2);
					munmap(q, MAX_SIZE / 2);
				} else {
					munmap(p, MAX_SIZE);
				}
			}
		}
	}
	close(fd[0]);
	close(fd[1]);
	close(memfd);
	small_pages_only(0);
	printf("#   %-16s %-6s %12s %12s %10s %14s\n", "contender", "page", "1 thread ms",
	       "2 threads ms", "speed-up", "faults 1/2 thr");
	for (c = 0; c < 3; c++) {
		/* The page size of both runs, or both, when they differ. */
		char pg[16];

		snprintf(pg, sizeof(pg), "%s", page[c][0]);
		if (strcmp(page[c][0], page[c][1]))
			snprintf(pg, sizeof(pg), "%s/%s", page[c][0], page[c][1]);
		one = median(t[c][0], reps);
		two = median(t[c][1], reps);
		printf("#   %-16s %-6s %12.3f %12.3f %9.2fx %6ld/%-6ld\n", names[c], pg, one * 1e3,
		       two * 1e3, one / two, faults[c][0], faults[c][1]);
		record("scaling", names[c], MAX_SIZE, pg, one * 1e3, "ms");
		record_full("scaling", names[c], MAX_SIZE, "2-threads", pg, two * 1e3, "ms", NULL);
		record_full("scaling", names[c], MAX_SIZE, "faults", pg, faults[c][0], "", NULL);
		record_full("scaling", names[c], MAX_SIZE, "faults-2-threads", pg, faults[c][1], "",
			    NULL);
		record("scaling_speedup", names[c], MAX_SIZE, pg, one / two, "x");
		snprintf(name, sizeof(name), "2-thread speed-up, %s", c == 0 ? "vdmux, halves of one vdev" :
			 c == 1 ? "vdmux, one vdev each" : "resident memfd, halves");
		ratio("scaling", name, one / two, NULL);
	}
	section_end("scaling");
}

/* --- SWITCH ------------------------------------------------------------------ */

/*
 * Mapper processes: each maps [0, size) of the vdevs in its mask, faults
 * them in, reports the seconds it took (a double) on its ready pipe, and
 * again each time it reads "g" from its go pipe; EOF on go ends it. On "p"
 * it reports instead the page size its mappings have (page_of_pfn_mapping(),
 * which splits them: the last thing asked of it), as a double: 4 for 4K,
 * 2048 for 2M, -1 otherwise.
 */
struct mapper {
	pid_t pid;
	int go, ready;
};

static void mapper_main(unsigned int mask, size_t size, int small, int go, int ready)
{
	char *map[DEFAULT_NR_VDEVS] = { NULL };
	double t0, t;
	unsigned int i;
	char c;
	int fd;

	prctl(PR_SET_THP_DISABLE, small, 0, 0, 0);
	for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
		if (!(mask & (1U << i)))
			continue;
		fd = open_vdev(i, O_RDWR);
		map[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || map[i] == MAP_FAILED)
			_exit(1);
		close(fd);
	}
	for (;;) {
		t0 = now();
		for (i = 0; i < DEFAULT_NR_VDEVS; i++)
			if (map[i])
				touch(map[i], size);
		t = now() - t0;
		if (write(ready, &t, sizeof(t)) != sizeof(t))
			_exit(1);
		if (read(go, &c, 1) != 1)
			_exit(0);
		if (c == 'p') {
			const char *page = NULL, *pg;

			for (i = 0; i < DEFAULT_NR_VDEVS; i++) {
				if (!map[i])
					continue;
				pg = page_of_pfn_mapping(map[i], size);
				page = !page || !strcmp(page, pg) ? pg : "mixed";
			}
			t = !page ? -1 : !strcmp(page, "4K") ? 4 : !strcmp(page, "2M") ? 2048 : -1;
			if (write(ready, &t, sizeof(t)) != sizeof(t))
				_exit(1);
			if (read(go, &c, 1) != 1)
				_exit(0);
		}
	}
}

/* The page size of mapper 0's mappings, observed by the mapper (it splits them). */
static const char *mapper_page(struct mapper *m)
{
	double code;

	if (write(m[0].go, "p", 1) != 1 || read(m[0].ready, &code, sizeof(code)) != sizeof(code))
		die("mapper");
	return code == 4 ? "4K" : code == 2048 ? "2M" : "?";
}

static void mappers_start(struct mapper *m, int n, unsigned int mask, size_t size, int small)
{
	int i, go[2], ready[2];

	for (i = 0; i < n; i++) {
		if (pipe(go) || pipe(ready))
			die("pipe");
		fflush(stdout);
		m[i].pid = fork();
		if (m[i].pid < 0)
			die("fork");
		if (!m[i].pid) {
			close(go[1]);
			close(ready[0]);
			mapper_main(mask, size, small, go[0], ready[1]);
		}
		close(go[0]);
		close(ready[1]);
		m[i].go = go[1];
		m[i].ready = ready[0];
	}
}

/* Waits until every mapper has faulted its mappings in; mapper 0's seconds. */
static double mappers_wait(struct mapper *m, int n)
{
	double t, first = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (read(m[i].ready, &t, sizeof(t)) != sizeof(t))
			die("mapper");
		if (!i)
			first = t;
	}
	return first;
}

static void mappers_go(struct mapper *m, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (write(m[i].go, "g", 1) != 1)
			die("mapper");
}

static void mappers_stop(struct mapper *m, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		kill(m[i].pid, SIGKILL);
		waitpid(m[i].pid, NULL, 0);
		close(m[i].go);
		close(m[i].ready);
	}
}

static const size_t switch_sizes[] = { 1UL << 20, 16UL << 20, 64UL << 20 };
#define NR_SWITCH_SIZES ARRAY_SIZE(switch_sizes)

/* Median SWITCH ms of the 0-mapper runs, [first, second position][size]. */
static double switch0_ms[2][NR_SWITCH_SIZES];

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define MAX_CPUS 8

/*
 * Seconds each CPU spent busy since boot, from the cpuN lines of /proc/stat
 * (tick-sampled: a tick the CPU did not get, because the host did not run
 * the vCPU, is not counted). Returns the number of CPUs read.
 */
static int cpus_busy(double busy[MAX_CPUS])
{
	unsigned long long v[8];
	double ticks = sysconf(_SC_CLK_TCK);
	char line[256];
	int cpu, n = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9 && cpu >= 0 && cpu < MAX_CPUS) {
			/* user nice system [idle iowait] irq softirq steal */
			busy[cpu] = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks;
			n = cpu + 1 > n ? cpu + 1 : n;
		}
	fclose(f);
	return n;
}

/*
 * Where the time of a SWITCH went, beyond its own CPU time: @own the CPU
 * time of the switching thread, @seen the busy time the ticks of its CPU
 * saw meanwhile, @other the busy time of the other CPUs.
 */
struct cpu_use {
	double own, seen, other, wall;
};

static void cpu_use_add(struct cpu_use *u, const double b0[MAX_CPUS], const double b1[MAX_CPUS],
			int ncpus, int cpu0, int cpu1, double own, double wall)
{
	int c;

	/* A switch that moved to another CPU tells nothing apart. */
	if (cpu0 != cpu1 || cpu0 < 0 || cpu0 >= ncpus)
		return;
	for (c = 0; c < ncpus; c++)
		if (c == cpu0)
			u->seen += b1[c] - b0[c];
		else
			u->other += b1[c] - b0[c];
	u->own += own;
	u->wall += wall;
}

/* What else the kernel was doing: a few /proc/vmstat counters. */
static const char *const vmstat_names[] = { "pgmigrate_success", "compact_daemon_wake",
					    "thp_collapse_alloc", "thp_split_pmd" };
#define NR_VMSTAT ARRAY_SIZE(vmstat_names)

static void vmstat_read(long v[NR_VMSTAT])
{
	char line[128], name[64];
	unsigned int i;
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	for (i = 0; i < NR_VMSTAT; i++)
		v[i] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", name, &val) == 2)
			for (i = 0; i < NR_VMSTAT; i++)
				if (!strcmp(name, vmstat_names[i]))
					v[i] = val;
	fclose(f);
}

/*
 * SWITCH of each size with @nmappers mapper processes mapping vdevs 0 and 1
 * (4 KiB pages when @small), timed in turns with its floor: 2 x pread of
 * the same size from a resident memfd into a resident buffer (and, as
 * before, a memcpy of twice the size). Also prints the CPU time the
 * switching thread spent in the ioctl, the slowest and fastest switch, and
 * the background activity of the kernel meanwhile: a SWITCH whose CPU time
 * is far below its wall time waited for something.
 */
static void switch_config(const char *name, int nmappers, int small, int position)
{
	double t[MAX_REPS], cpu[MAX_REPS], fl[MAX_REPS], mc[MAX_REPS], rt[MAX_REPS], t0, c0, sw,
		floor_ms, lo, hi, b0[MAX_CPUS], b1[MAX_CPUS], lost, other;
	struct cpu_use use;
	int ncpus, cpu0;
	struct fault_counts faults0, faults1;
	long vm0[NR_VMSTAT], vm1[NR_VMSTAT];
	struct mapper m[4];
	int ctl, vfd, memfd, i;
	char *buf, *src, *dst, label[128], page[8], floor_page[16];
	unsigned int s, k;

	reload("");
	memfd = resident_memfd(MAX_SIZE, 0);
	buf = map_anon(MAX_SIZE, 0);
	src = map_anon(2 * MAX_SIZE, 0);
	dst = map_anon(2 * MAX_SIZE, 0);
	memset(buf, 1, MAX_SIZE);
	memset(src, 1, 2 * MAX_SIZE);
	memset(dst, 2, 2 * MAX_SIZE);
	ctl = ctl_fd();
	/* The floor's pages: the memfd's page cache and the buffer read into. */
	snprintf(floor_page, sizeof(floor_page), "%s", page_of_memfd(memfd, MAX_SIZE));
	if (strcmp(floor_page, page_of_mapping(buf, MAX_SIZE)))
		snprintf(floor_page, sizeof(floor_page), "%s/%s", page_of_memfd(memfd, MAX_SIZE),
			 page_of_mapping(buf, MAX_SIZE));
	for (s = 0; s < NR_SWITCH_SIZES; s++) {
		size_t size = switch_sizes[s];

		resize(size);
		/*
		 * Both vdevs hold all their bytes before timing (stores are
		 * allocated by what touches them: an untouched vdev would have
		 * nothing to copy).
		 */
		fill_vdevs(2, buf, size);
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 1UL) || ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		vfd = open_vdev(0, O_RDONLY);
		if (vfd < 0)
			die("open vdmux0");
		faults0 = fault_counts(vfd);
		mappers_start(m, nmappers, 3, size, small);
		mappers_wait(m, nmappers);
		faults1 = fault_counts(vfd);
		snprintf(page, sizeof(page), "%s", nmappers ? page_of_faults(faults0, faults1, "?") : "-");
		faults0 = faults1;
		vmstat_read(vm0);
		lo = INFINITY;
		hi = 0;
		memset(&use, 0, sizeof(use));
		for (i = 0; i < reps; i++) {
			if (i) {
				/* The mappers fault their whole mappings in again. */
				mappers_go(m, nmappers);
				rt[i - 1] = mappers_wait(m, nmappers);
			}
			ncpus = cpus_busy(b0);
			cpu0 = sched_getcpu();
			c0 = thread_cpu();
			t0 = now();
			if (ioctl(ctl, VDMUX_IOC_SWITCH, (i % 2) ? 0UL : 1UL))
				die("SWITCH");
			t[i] = now() - t0;
			cpu[i] = thread_cpu() - c0;
			cpu_use_add(&use, b0, b1, cpus_busy(b1) < ncpus ? 0 : ncpus, cpu0,
				    sched_getcpu(), cpu[i], t[i]);
			lo = t[i] < lo ? t[i] : lo;
			hi = t[i] > hi ? t[i] : hi;
			t0 = now();
			if (pread(memfd, buf, size, 0) != (ssize_t)size ||
			    pread(memfd, buf, size, 0) != (ssize_t)size)
				die("pread memfd");
			fl[i] = now() - t0;
			t0 = now();
			memcpy(dst, src, 2 * size);
			mc[i] = now() - t0;
		}
		vmstat_read(vm1);
		if (nmappers) {
			mappers_go(m, nmappers);
			rt[reps - 1] = mappers_wait(m, nmappers);
		}
		/*
		 * Only the mappers map vdev 0: each of them faulted it in
		 * again before every switch after the first.
		 */
		faults1 = fault_counts(vfd);
		close(vfd);
		if (faults1.pages + faults1.huge - faults0.pages - faults0.huge <
		    (long)(reps - 1) * nmappers)
			die("mappers did not fault their mappings in between switches");
		/* The fdinfo counts said what the driver mapped; the page tables say what it is. */
		if (nmappers)
			snprintf(page, sizeof(page), "%s", mapper_page(m));
		mappers_stop(m, nmappers);
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		sw = median(t, reps) * 1e3;
		floor_ms = median(fl, reps) * 1e3;
		if (!nmappers)
			switch0_ms[position][s] = sw;
		printf("# %-4zu %-20s %-5s %10.3f %10.3f %11.3f %7.2fx %11.3f %7ld/%-3ld\n", size >> 20,
		       name, page, sw, median(cpu, reps) * 1e3, floor_ms, sw / floor_ms,
		       median(mc, reps) * 1e3, huge_blocks(0), huge_blocks(1));
		if (nmappers)
			printf("#      re-touch of both mappings by one mapper after a switch: %.3f ms\n",
			       median(rt, reps) * 1e3);
		/* Tick-sampled: meaningful once the switches add up to 0.2 s. */
		lost = use.own >= 0.2 ? 100 * (use.own - use.seen) / use.own : NAN;
		other = use.wall >= 0.2 ? 100 * use.other / use.wall : NAN;
		printf("#      switches %.3f to %.3f ms; of their CPU time, %.0f%% took no tick (vCPU "
		       "not run); other CPUs busy %.0f%% meanwhile;", lo * 1e3, hi * 1e3, lost, other);
		for (k = 0; k < NR_VMSTAT; k++)
			printf(" %s +%ld", vmstat_names[k], vm1[k] - vm0[k]);
		printf("\n");
		record("switch", name, size, page, sw, "ms");
		record("switch_cpu", name, size, page, median(cpu, reps) * 1e3, "ms");
		record("switch_no_tick", name, size, "-", lost, "%");
		record("switch_other_cpus", name, size, "-", other, "%");
		record("switch_max", name, size, page, hi * 1e3, "ms");
		record("switch_floor", name, size, floor_page, floor_ms, "ms");
		record("switch_memcpy", name, size, "-", median(mc, reps) * 1e3, "ms");
		if (nmappers)
			record("switch_retouch", name, size, page, median(rt, reps) * 1e3, "ms");
		snprintf(label, sizeof(label), "SWITCH %zu MiB, %s, vs 2 x pread", size >> 20, name);
		ratio("switch", label, sw / floor_ms, NULL);
		/* And against a user memcpy of the same bytes (twice the size). */
		snprintf(label, sizeof(label), "SWITCH %zu MiB, %s, vs memcpy of 2 x %zu MiB",
			 size >> 20, name, size >> 20);
		ratio("switch", label, sw / (median(mc, reps) * 1e3), NULL);
	}
	close(ctl);
	close(memfd);
	munmap(buf, MAX_SIZE);
	munmap(src, 2 * MAX_SIZE);
	munmap(dst, 2 * MAX_SIZE);
}

static void switch_header(void)
{
	printf("# %-4s %-20s %-5s %10s %10s %11s %8s %11s %s\n", "MiB", "mappers", "page",
	       "switch ms", "cpu ms", "2xpread ms", "/floor", "memcpy2x ms", "2M blocks vdev0/1");
}

static void bench_switch_first(void)
{
	if (!section("switch-first", "SWITCH with no mapper, first in the run"))
		return;
	switch_header();
	switch_config("0 mappers, first", 0, 0, 0);
	section_end("switch-first");
}

static void bench_switch_second(void)
{
	unsigned int s;
	char name[96];

	if (!section("switch-second", "SWITCH with no mapper, after copy and scaling"))
		return;
	switch_header();
	switch_config("0 mappers, second", 0, 0, 1);
	for (s = 0; s < NR_SWITCH_SIZES; s++) {
		if (!switch0_ms[0][s])
			continue;
		snprintf(name, sizeof(name), "SWITCH %zu MiB, 0 mappers: second position vs first",
			 switch_sizes[s] >> 20);
		ratio("switch", name, switch0_ms[1][s] / switch0_ms[0][s], NULL);
	}
	section_end("switch-second");
}

static void bench_switch_mappers(void)
{
	if (!section("switch-mappers", "SWITCH with mapper processes re-touching before each"))
		return;
	switch_header();
	switch_config("1 mapper, 4 KiB", 1, 1, 2);
	switch_config("1 mapper, 2 MiB", 1, 0, 2);
	switch_config("4 mappers, 4 KiB", 4, 1, 2);
	switch_config("4 mappers, 2 MiB", 4, 0, 2);
	section_end("switch-mappers");
}

/* --- fault latency under SWITCH ------------------------------------------------ */

#define LAT_SIZE (1UL << 20)
#define LAT_MAX_SAMPLES 20000
#define LAT_IDLE_SECONDS 2.0
#define LAT_BUSY_SECONDS 5.0
#define LAT_MAX_GAP_US 1000
#define LAT_MAX_SWITCHES 100000

struct switcher_shared {
	volatile int stop;
	volatile long n;
	double t[LAT_MAX_SWITCHES];
};

/* A process that switches vdevs 0 and 1 back to back until told to stop. */
static pid_t start_switcher(struct switcher_shared *sh)
{
	pid_t pid;
	double t0;
	int ctl;

	sh->stop = 0;
	sh->n = 0;
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	ctl = ctl_fd();
	while (!sh->stop) {
		t0 = now();
		if (ioctl(ctl, VDMUX_IOC_SWITCH, (sh->n % 2) ? 0UL : 1UL))
			_exit(1);
		if (sh->n < LAT_MAX_SWITCHES)
			sh->t[sh->n] = now() - t0;
		sh->n++;
	}
	if (sh->n % 2 && ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
		_exit(1);
	_exit(0);
}

/* The samples of one reader, idle [0] and while vdevs 0 and 1 switch [1]. */
static double lat[2][LAT_MAX_SAMPLES];
static double lat_sw[LAT_MAX_SWITCHES];

/*
 * Single-page read faults of a reader of vdev @vdev (fault_around_pages=1,
 * 4 KiB pages: every first load of a page of a fresh mapping is one
 * fault), one at a time, each after a random pause of up to
 * LAT_MAX_GAP_US (busy-waiting), so that the faults fall at random times
 * of the switching loop rather than in step with it. Samples into @out
 * for @seconds, or until @cap samples; returns the count, and adds the
 * faults the vdev served meanwhile to @faults.
 */
static size_t sample_faults(int vdev, double seconds, double *out, size_t cap, long *faults,
			    struct rng *rng)
{
	double start = now(), t0, until;
	struct fault_counts f0, f1;
	size_t n = 0, off;
	int fd = open_vdev(vdev, O_RDONLY);
	char *p;

	if (fd < 0)
		die("open vdev");
	f0 = fault_counts(fd);
	while (n < cap && now() - start < seconds) {
		p = mmap(NULL, LAT_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (off = 0; off < LAT_SIZE && n < cap; off += PAGE) {
			until = now() + rng_below(rng, LAT_MAX_GAP_US) * 1e-6;
			while (now() < until)
				;
			t0 = now();
			(void)*(volatile char *)(p + off);
			out[n++] = now() - t0;
		}
		munmap(p, LAT_SIZE);
	}
	f1 = fault_counts(fd);
	*faults += f1.pages - f0.pages;
	close(fd);
	return n;
}

/*
 * Each reader alternates idle windows and windows with a process switching
 * vdevs 0 and 1 back to back, @reps of each, so that drift hits both
 * alike; the percentiles are over all samples of each condition.
 */
static void bench_latency(void)
{
	static const int vdevs[2] = { 2, 0 };
	double p50[2][2], p99[2][2], pmax, swms[2] = { NAN, NAN }, bound;
	struct switcher_shared *sh;
	long faults[2], nsw, got = 0;
	size_t n[2], nswt;
	int vi, busy, status, i;
	struct rng rng;
	char name[160];
	pid_t pid;

	if (!section("latency", "single-page fault latency, 1 MiB, while vdevs 0 and 1 switch"))
		return;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap shared");
	reload("fault_around_pages=1");
	small_pages_only(1);
	resize(LAT_SIZE);
	/* Every vdev involved holds all its bytes before timing. */
	for (i = 0; i < 3; i++) {
		static char fill[LAT_SIZE];
		int wfd = open_vdev(i, O_RDWR);

		memset(fill, 0x5a + i, sizeof(fill));
		if (wfd < 0 || pwrite(wfd, fill, LAT_SIZE, 0) != (ssize_t)LAT_SIZE)
			die("fill vdev");
		close(wfd);
	}
	if (vdmux_ctl(VDMUX_IOC_SWITCH, 1) || vdmux_ctl(VDMUX_IOC_SWITCH, 0))
		die("SWITCH");
	rng_seed(&rng, 1);
	sample_faults(2, 0.05, lat[0], LAT_MAX_SAMPLES, &got, &rng);
	printf("#   %-46s %-5s %7s %7s %9s %9s %9s %10s %9s\n", "reader", "page", "samples", "faults",
	       "p50 us", "p99 us", "max us", "switch ms", "switches");
	for (vi = 0; vi < 2; vi++) {
		n[0] = n[1] = 0;
		faults[0] = faults[1] = 0;
		nsw = 0;
		nswt = 0;
		for (i = 0; i < reps; i++) {
			n[0] += sample_faults(vdevs[vi], LAT_IDLE_SECONDS / reps, lat[0] + n[0],
					      LAT_MAX_SAMPLES - n[0], &faults[0], &rng);
			pid = start_switcher(sh);
			while (sh->n < 2)
				usleep(1000);
			got = sh->n;
			n[1] += sample_faults(vdevs[vi], LAT_BUSY_SECONDS / reps, lat[1] + n[1],
					      LAT_MAX_SAMPLES - n[1], &faults[1], &rng);
			nsw += sh->n - got;
			sh->stop = 1;
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
				die("switcher");
			for (got = 0; got < sh->n && got < LAT_MAX_SWITCHES && nswt < LAT_MAX_SWITCHES;
			     got++)
				lat_sw[nswt++] = sh->t[got];
		}
		swms[vi] = median(lat_sw, nswt) * 1e3;
		for (busy = 0; busy < 2; busy++) {
			p50[vi][busy] = quantile(lat[busy], n[busy], 0.50) * 1e6;
			p99[vi][busy] = quantile(lat[busy], n[busy], 0.99) * 1e6;
			pmax = n[busy] ? lat[busy][n[busy] - 1] * 1e6 : NAN;
			snprintf(name, sizeof(name), "vdev %d reader, %s", vdevs[vi],
				 busy ? (vi ? "vdevs 0/1 switching (involved)" : "vdevs 0/1 switching") :
					"idle");
			printf("#   %-46s %-5s %7zu %7ld %9.1f %9.1f %9.1f", name, "4K", n[busy],
			       faults[busy], p50[vi][busy], p99[vi][busy], pmax);
			if (busy)
				printf(" %10.3f %9ld\n", swms[vi], nsw);
			else
				printf("\n");
			record_full("fault_latency", name, LAT_SIZE, "p50", "4K", p50[vi][busy], "us",
				    NULL);
			record_full("fault_latency", name, LAT_SIZE, "p99", "4K", p99[vi][busy], "us",
				    NULL);
			record_full("fault_latency", name, LAT_SIZE, "max", "4K", pmax, "us", NULL);
			record_full("fault_latency", name, LAT_SIZE, "samples", "4K", n[busy], "", NULL);
			record_full("fault_latency", name, LAT_SIZE, "faults", "4K", faults[busy], "",
				    NULL);
			if (busy) {
				record_full("fault_latency", name, LAT_SIZE, "switch", "-", swms[vi], "ms",
					    NULL);
				record_full("fault_latency", name, LAT_SIZE, "switches", "-", nsw, "",
					    NULL);
			}
		}
	}
	small_pages_only(0);
	munmap(sh, sizeof(*sh));
	printf("#   (loads timed one by one, each after a random pause of up to %d us; idle and\n"
	       "#   switching windows alternate, %d of each)\n", LAT_MAX_GAP_US, reps);
	ratio("latency", "fault p99, vdev 2 reader: vdevs 0/1 switching vs idle", p99[0][1] / p99[0][0], NULL);
	bound = swms[1] * 1e3 + p50[1][0];
	printf("#   one SWITCH + one fault: median SWITCH %.1f us + idle p50 fault %.1f us = %.1f us\n",
	       swms[1] * 1e3, p50[1][0], bound);
	record("fault_latency_bound", "one SWITCH + one fault", LAT_SIZE, "-", bound, "us");
	ratio("latency", "fault p99, vdev 0 reader, switching: vs one SWITCH + one fault",
	      p99[1][1] / bound, NULL);
	section_end("latency");
}

/* --- growth ---------------------------------------------------------------------- */

/* VDMUX_BENCH_CLOCK=instructions: the guest's clock counts instructions (ICOUNT=1). */
static int count_instructions;

#define GROW_START (32UL << 10)
#define GROW_MAX_SECONDS 30.0

static sigjmp_buf grow_env;

static void grow_sigbus(int sig)
{
	(void)sig;
	siglongjmp(grow_env, 1);
}

/* The reserved size, or 0. */
static uint64_t reserved_now(int ctl)
{
	uint64_t size = 0;

	if (ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &size))
		return 0;
	return size;
}

/* The page size and faults (ru_minflt) of the last fill, observed after its timing. */
static const char *grow_page = "?";
static long grow_faults;

/* Back to GROW_START bytes, with a backing store for vdevs 1..@nvdevs-1. */
static void grow_reset(int ctl, int nvdevs)
{
	uint64_t size = GROW_START;
	int i, fd;

	if (ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size))
		die("SET_RESERVED_SIZE");
	for (i = 1; i < nvdevs; i++) {
		fd = open_vdev(i, O_RDWR);
		if (fd < 0 || pwrite(fd, "x", 1, 0) != 1)
			die("pwrite vdev");
		close(fd);
	}
}

/* One store per page, or (@whole) every byte of it, page after page. */
static void grow_store(char *p, size_t off, int whole)
{
	if (whole)
		memset(p + off, 1, PAGE);
	else
		p[off] = 1;
}

/*
 * Seconds for SET_AUTOGROW + mmap of MAX_SIZE bytes + one store per page
 * (every byte of it if @whole), growing the buffer from GROW_START to
 * MAX_SIZE; NAN with @why when it cannot.
 */
static double autogrow_once(int ctl, int whole, char *why, size_t len)
{
	struct sigaction sa = { .sa_handler = grow_sigbus }, old;
	volatile size_t off = 0;
	double t0, t = NAN;
	long m0;
	int fd = open_vdev(0, O_RDWR);
	char *p = MAP_FAILED;

	if (fd < 0)
		die("open vdmux0");
	m0 = minflt();
	t0 = now();
	if (ioctl(fd, VDMUX_IOC_SET_AUTOGROW, 1UL)) {
		snprintf(why, len, "%s", errname(errno));
		goto out;
	}
	p = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(why, len, "mmap %s", errname(errno));
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(grow_env, 1)) {
		snprintf(why, len, "SIGBUS at %zu", (size_t)off);
		sigaction(SIGBUS, &old, NULL);
		goto out;
	}
	for (off = 0; off < MAX_SIZE; off += PAGE) {
		grow_store(p, off, whole);
		if (!(off & (256 * PAGE - 1)) && now() - t0 > GROW_MAX_SECONDS) {
			snprintf(why, len, "over %.0f s", GROW_MAX_SECONDS);
			sigaction(SIGBUS, &old, NULL);
			goto out;
		}
	}
	t = now() - t0;
	grow_faults = minflt() - m0;
	grow_page = page_of_pfn_mapping(p, MAX_SIZE);
	sigaction(SIGBUS, &old, NULL);
	if (reserved_now(ctl) != MAX_SIZE) {
		snprintf(why, len, "reserved size %llu, not 64 MiB",
			 (unsigned long long)reserved_now(ctl));
		t = NAN;
	}
out:
	if (p != MAP_FAILED)
		munmap(p, MAX_SIZE);
	close(fd);
	return t;
}

/*
 * Seconds for SET_RESERVED_SIZE to MAX_SIZE + mmap + one store per page
 * (every byte of it if @whole). With @allocated, the resize and a write of
 * the whole buffer, which allocates and zeroes every chunk, come before
 * the timing, which covers mmap + stores only: the bulk fill without its
 * allocation.
 */
static double bulk_grow_once(int ctl, int whole, int allocated)
{
	uint64_t size = MAX_SIZE;
	double t0, t;
	long m0;
	int fd = open_vdev(0, O_RDWR);
	size_t off;
	char *p;

	if (fd < 0)
		die("open vdmux0");
	if (allocated) {
		if (ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size))
			die("SET_RESERVED_SIZE");
		make_resident(MAX_SIZE);
	}
	m0 = minflt();
	t0 = now();
	if (!allocated && ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size))
		die("SET_RESERVED_SIZE");
	p = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (off = 0; off < MAX_SIZE; off += PAGE)
		grow_store(p, off, whole);
	t = now() - t0;
	grow_faults = minflt() - m0;
	grow_page = page_of_pfn_mapping(p, MAX_SIZE);
	munmap(p, MAX_SIZE);
	close(fd);
	return t;
}

static const size_t grow_sizes[] = { 1UL << 20, 2UL << 20, 4UL << 20, 8UL << 20, 16UL << 20,
				      32UL << 20, 64UL << 20 };
#define NR_GROW_SIZES ARRAY_SIZE(grow_sizes)

static void bench_growth(void)
{
	static const int nvdevs[2] = { 1, 4 };
	double ta[MAX_REPS], tb[MAX_REPS], tr[MAX_REPS], t0, t1, t2, grow_us[2][NR_GROW_SIZES];
	const char *page_a = "?", *page_b = "?", *page_r = "?";
	long faults_a = 0, faults_b = 0;
	char why[96], name[160], params[96], err[2][96];
	int ctl, c, i, nm, ok, whole;
	struct mapper m[4];
	unsigned int s;
	uint64_t size;

	if (!section("growth", "autogrow and one-page growth of the reserved size"))
		return;
	small_pages_only(1);
	printf("#   %-40s %-6s %12s %12s %8s\n", "fill 64 MiB from 32 KiB, stores", "page",
	       count_instructions ? "autogrow M" : "autogrow ms",
	       count_instructions ? "bulk M" : "bulk ms", "ratio");
	/*
	 * One store per page on both sides, where the faults are all there is
	 * to time; a writer that fills every byte (each page written whole, in
	 * order) too. Both sides allocate and zero the same chunks inside
	 * their timing: the bulk fill is also timed on chunks allocated
	 * beforehand, and the difference, that shared term, is taken out of
	 * both to give the fill's cost without it (autogrow_no_alloc against
	 * autogrow_bulk_no_alloc).
	 */
	for (whole = 0; whole < 2; whole++)
		for (c = 0; c < 2; c++) {
			const char *sfx = count_instructions ? "_instr" : "";
			const char *unit = count_instructions ? "M instructions" : "ms";
			char what[48], bulk[48];

			snprintf(what, sizeof(what), "%s%s", whole ? "autogrow_whole" : "autogrow",
				 sfx);
			snprintf(bulk, sizeof(bulk), "%s_bulk%s",
				 whole ? "autogrow_whole" : "autogrow", sfx);

			snprintf(params, sizeof(params), "nr_vdevs=%d max_reserved_size=%lu",
				 nvdevs[c], 2 * MAX_SIZE);
			reload(params);
			ctl = ctl_fd();
			why[0] = 0;
			ok = 1;
			for (i = 0; i < reps; i++) {
				grow_reset(ctl, nvdevs[c]);
				if (ok) {
					ta[i] = autogrow_once(ctl, whole, why, sizeof(why));
					ok = !isnan(ta[i]);
					page_a = grow_page;
					faults_a = grow_faults;
				}
				grow_reset(ctl, nvdevs[c]);
				tb[i] = bulk_grow_once(ctl, whole, 0);
				page_b = grow_page;
				faults_b = grow_faults;
				grow_reset(ctl, nvdevs[c]);
				tr[i] = bulk_grow_once(ctl, whole, 1);
				page_r = grow_page;
			}
			snprintf(name, sizeof(name), "%d vdev%s%s", nvdevs[c],
				 c ? "s, backing stores for 1..3" : "", whole ? ", every byte" : "");
			t0 = median(tb, reps) * 1e3;
			t1 = ok ? median(ta, reps) * 1e3 : NAN;
			t2 = median(tr, reps) * 1e3;
			if (ok) {
				printf("#   %-40s %-6s %12.3f %12.3f %7.2fx  faults %ld/%ld, bulk on "
				       "allocated chunks %.3f (%s)\n", name, page_a, t1, t0, t1 / t0,
				       faults_a, faults_b, t2, page_r);
				record(what, name, MAX_SIZE, page_a, t1, unit);
				record_full(what, name, MAX_SIZE, "faults", page_a, faults_a, "", NULL);
			} else {
				printf("#   %-40s %-6s %12s %12.3f   n/a (%s)\n", name, "?", "n/a", t0,
				       why);
				record_full(what, name, MAX_SIZE, NULL, "?", NAN, unit, why);
			}
			record(bulk, name, MAX_SIZE, page_b, t0, unit);
			record_full(bulk, name, MAX_SIZE, "faults", page_b, faults_b, "", NULL);
			snprintf(what, sizeof(what), "%s_no_alloc%s",
				 whole ? "autogrow_whole" : "autogrow", sfx);
			snprintf(bulk, sizeof(bulk), "%s_bulk_no_alloc%s",
				 whole ? "autogrow_whole" : "autogrow", sfx);
			/* The allocation both pay: bulk - bulk on allocated chunks. */
			record(what, name, MAX_SIZE, page_a, t1 - (t0 - t2), unit);
			record(bulk, name, MAX_SIZE, page_r, t2, unit);
			snprintf(name, sizeof(name), "autogrow fill of 64 MiB%s, %d vdev%s, vs bulk %s%s",
				 whole ? " writing every byte" : "", nvdevs[c], c ? "s with stores" : "",
				 whole ? "resize + the same writes" : "resize + touch",
				 count_instructions ? ", in instructions" : "");
			ratio("growth", name, t1 / t0, ok ? NULL : why);
			strcat(name, ", without the allocation both pay");
			ratio("growth", name, (t1 - (t0 - t2)) / t2, ok ? NULL : why);
			close(ctl);
		}
	small_pages_only(0);
	if (count_instructions) {
		section_end("growth");
		return;
	}

	/* One-page growths at each size, with 0 and 4 processes mapping vdev 0. */
	snprintf(params, sizeof(params), "max_reserved_size=%lu", 2 * MAX_SIZE);
	reload(params);
	ctl = ctl_fd();
	grow_reset(ctl, DEFAULT_NR_VDEVS);
	printf("#   %-10s %-22s %14s\n", "MiB", "one-page growth, mappers", "us per growth");
	err[0][0] = err[1][0] = 0;
	for (s = 0; s < NR_GROW_SIZES; s++) {
		for (nm = 0; nm <= 4; nm += 4) {
			size = grow_sizes[s];
			if (ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size))
				die("SET_RESERVED_SIZE");
			mappers_start(m, nm, 1, grow_sizes[s], 0);
			mappers_wait(m, nm);
			ok = 1;
			for (i = 0; i < reps && ok; i++) {
				size = grow_sizes[s] + (i + 1) * PAGE;
				t0 = now();
				if (ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size)) {
					snprintf(err[nm / 4], sizeof(err[0]), "%s", errname(errno));
					ok = 0;
				}
				ta[i] = now() - t0;
			}
			mappers_stop(m, nm);
			snprintf(name, sizeof(name), "%d mappers", nm);
			if (ok) {
				grow_us[nm / 4][s] = median(ta, reps) * 1e6;
				printf("#   %-10zu %-22s %14.1f\n", grow_sizes[s] >> 20, name,
				       grow_us[nm / 4][s]);
				record("grow_one_page", name, grow_sizes[s], "-", grow_us[nm / 4][s], "us");
			} else {
				grow_us[nm / 4][s] = NAN;
				printf("#   %-10zu %-22s %14s n/a (%s)\n", grow_sizes[s] >> 20, name, "n/a",
				       err[nm / 4]);
				record_full("grow_one_page", name, grow_sizes[s], NULL, "-", NAN, "us",
					    err[nm / 4]);
			}
		}
	}
	ratio_of("growth", "one-page growth while 4 processes map: 64 MiB vs 1 MiB (flat)",
		 grow_us[1][NR_GROW_SIZES - 1], err[1], grow_us[1][0], err[1]);
	ratio_of("growth", "one-page growth, nothing mapped: 64 MiB vs 1 MiB",
		 grow_us[0][NR_GROW_SIZES - 1], err[0], grow_us[0][0], err[0]);
	close(ctl);
	section_end("growth");
}

/* --- context management ----------------------------------------------------- */

/*
 * Device context management (VDMUX_IOC_SET_CTXMGT): two sharer processes,
 * each with a one-page mapping of its own vdev (0 and 1: a 4 KiB mapping
 * cannot hold a 2 MiB entry), storing there; with the mode on, a store of
 * the one whose vdev is in the background faults and makes it the
 * foreground. Every hand-over is one fault of the new holder's page,
 * counted by getrusage (ru_minflt + ru_majflt: the kernel counts a
 * fault once, when it completes, and one it retried as major), not by
 * the driver's counter.
 *
 *   hand-over   timeout 0, both storing in a loop: wall time per
 *               hand-over, against one ioctl SWITCH of the same size
 *               between the same two vdevs while both sharers map them;
 *   timeshare   a 10 ms hold, both storing in a loop for CTX_SHARE_S: the
 *               time each spends on the device is the wall time less its
 *               stores that waited (took longer than CTX_GAP_S);
 *   wait        a 10 ms hold, one process storing into its one-page
 *               mappings of vdevs 0 and 1 in turn, each store made at a
 *               random time inside the hold the one before started (at
 *               its completion); how long after that hold's end (the
 *               store before done, plus 10 ms) it completes, p99.
 */
#define CTX_NR_SIZES 3
#define CTX_HOLD_MS 10
#define CTX_SHARE_S 1.0
#define CTX_GAP_S 0.0005
#define CTX_WAIT_ROUNDS 200

static const size_t ctx_sizes[CTX_NR_SIZES] = { 32UL << 10, 2UL << 20, 16UL << 20 };

enum ctx_phase { CTX_IDLE, CTX_LOOP, CTX_EXIT };

struct ctx_shared {
	volatile int phase, gen, acked[2];
	double on_device[2];		/* CTX_LOOP: the wall time less the waits */
	long faults[2];			/* completed faults over the phase */
};

static double ctx_excess[CTX_WAIT_ROUNDS];

/* Completed faults of this process, minor and major (a retried one is major). */
static long ctx_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_minflt + ru.ru_majflt;
}

static struct ctx_shared *ctx_sh;

static void ctx_set(int ctl, unsigned int enable, unsigned int ms)
{
	struct vdmux_ctxmgt c = { enable, ms };

	if (ioctl(ctl, VDMUX_IOC_SET_CTXMGT, &c))
		die("SET_CTXMGT");
}

static void ctx_sharer(int v)
{
	volatile uint64_t *p;
	int fd = open_vdev(v, O_RDWR), gen = 0;
	uint64_t n = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd < 0)
		_exit(2);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(3);
	*p = v;
	for (;;) {
		while (ctx_sh->gen == gen)
			usleep(100);
		gen = ctx_sh->gen;
		if (ctx_sh->phase == CTX_EXIT)
			_exit(0);
		if (ctx_sh->phase == CTX_LOOP) {
			double t0 = now(), waited = 0, a, b;
			long f0 = ctx_faults();

			while (ctx_sh->gen == gen) {
				a = now();
				*p = ++n;
				b = now();
				if (b - a > CTX_GAP_S)
					waited += b - a;
			}
			ctx_sh->on_device[v] = now() - t0 - waited;
			ctx_sh->faults[v] = ctx_faults() - f0;
		}
		ctx_sh->acked[v] = gen;
	}
}

/* Starts phase @phase in both sharers (ending the one before). */
static void ctx_phase(enum ctx_phase phase)
{
	ctx_sh->phase = phase;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ctx_sh->gen++;
}

/* Waits until both sharers ended the phase before and took the new one. */
static void ctx_wait_acked(void)
{
	double give_up = now() + 120;

	while (ctx_sh->acked[0] != ctx_sh->gen || ctx_sh->acked[1] != ctx_sh->gen) {
		if (now() > give_up)
			die("the context management sharers did not answer in 120 s");
		usleep(200);
	}
}

/* Runs the sharers' store loops for @seconds; the hand-overs, by ru_minflt. */
static long ctx_loop(double seconds, double on_device[2])
{
	struct timespec d = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };

	ctx_phase(CTX_LOOP);
	nanosleep(&d, NULL);
	ctx_phase(CTX_IDLE);
	ctx_wait_acked();
	if (on_device) {
		on_device[0] = ctx_sh->on_device[0];
		on_device[1] = ctx_sh->on_device[1];
	}
	return ctx_sh->faults[0] + ctx_sh->faults[1];
}

/*
 * The wait: @rounds stores into @p[0] and @p[1] in turn (one-page
 * mappings of vdevs 0 and 1, the mode on with a CTX_HOLD_MS hold, vdev 0
 * just made the foreground by a SWITCH), each at a random time in the
 * first 80% of the hold the store before started, when it completed.
 * Into ctx_excess, how long after that hold's end each completed; returns
 * how many.
 */
static int ctx_wait_turns(volatile uint64_t *p[2], int rounds)
{
	double start = now(), hold_end, at, t0, t1;
	unsigned int seed = 1234;
	struct timespec d;
	int i, n = 0;

	for (i = 0; i < rounds; i++) {
		hold_end = start + CTX_HOLD_MS / 1e3;
		at = start + (rand_r(&seed) % 800) / 1e3 * CTX_HOLD_MS / 1e3;
		t0 = now();
		if (at > t0) {
			d.tv_sec = 0;
			d.tv_nsec = (long)((at - t0) * 1e9);
			nanosleep(&d, NULL);
		}
		t0 = now();
		*p[(i + 1) % 2] = i;
		t1 = now();
		if (t0 < hold_end)
			ctx_excess[n++] = t1 - hold_end;
		start = t1;
	}
	return n;
}

static long ctx_switches(void)
{
	char buf[32] = "";

	read_first_line("/sys/class/misc/vdmux/ctxmgt_switches", buf, sizeof(buf));
	return atol(buf);
}

static void bench_ctxmgt(void)
{
	double sw[MAX_REPS], ho[MAX_REPS], share[MAX_REPS], on[2], t0, sw_ms, ho_ms, share_ms;
	char *buf = map_anon(MAX_SIZE, 0);
	volatile uint64_t *wp[2];
	int ctl, i, k, nr_excess, pfd[2];
	pid_t pid[2];
	unsigned int s;

	if (!section("ctxmgt", "context management: hand-over, time-sharing, wait latency"))
		return;
	printf("# %-9s %12s %12s %10s %12s %10s %12s %12s %12s %8s\n", "size", "SWITCH ms",
	       "hand-over ms", "hand-overs", "(driver)", "x SWITCH", "share min %", "wait p50 ms",
	       "wait p99 ms", "samples");
	memset(buf, 3, MAX_SIZE);
	ctx_sh = mmap(NULL, sizeof(*ctx_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (ctx_sh == MAP_FAILED)
		die("mmap shared");
	for (s = 0; s < CTX_NR_SIZES; s++) {
		size_t size = ctx_sizes[s];
		long handovers = 0, drv0, drv;
		double p50, p99, ho_total = 0;

		reload("");
		ctl = ctl_fd();
		resize(size);
		/* Both vdevs hold all their bytes: each switch copies the size both ways. */
		fill_vdevs(2, buf, size);
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		memset(ctx_sh, 0, sizeof(*ctx_sh));
		for (k = 0; k < 2; k++) {
			pid[k] = fork();
			if (pid[k] < 0)
				die("fork");
			if (!pid[k])
				ctx_sharer(k);
		}
		/* The sharers map their page (the mode off: vdev 1's is its backing store's). */
		ctx_phase(CTX_IDLE);
		ctx_wait_acked();

		/* One ioctl SWITCH, both mapping: the floor. */
		for (i = 0; i < reps; i++) {
			t0 = now();
			if (ioctl(ctl, VDMUX_IOC_SWITCH, (i % 2) ? 0UL : 1UL))
				die("SWITCH");
			sw[i] = now() - t0;
		}
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		sw_ms = median(sw, reps) * 1e3;

		/* Hand-over: timeout 0, both storing. */
		ctx_set(ctl, 1, 0);
		drv0 = ctx_switches();
		for (i = 0; i < reps; i++) {
			double secs = sw_ms * 30 / 1e3 > 0.3 ? sw_ms * 30 / 1e3 : 0.3;
			long n;

			t0 = now();
			n = ctx_loop(secs, NULL);
			ho[i] = n > 0 ? (now() - t0) / n : NAN;
			ho_total += n;
		}
		drv = ctx_switches() - drv0;
		handovers = (long)ho_total;
		ho_ms = median(ho, reps) * 1e3;

		/* Time-sharing with a 10 ms hold. */
		ctx_set(ctl, 1, CTX_HOLD_MS);
		for (i = 0; i < reps; i++) {
			ctx_loop(CTX_SHARE_S, on);
			share[i] = (on[0] < on[1] ? on[0] : on[1]);
		}
		share_ms = median(share, reps) * 1e3;

		/*
		 * Wait latency: this process's stores into vdevs 0 and 1 in
		 * turn, inside a 10 ms hold each, from a SWITCH to vdev 0
		 * (which restarts its hold).
		 */
		for (k = 0; k < 2; k++) {
			pfd[k] = open_vdev(k, O_RDWR);
			wp[k] = pfd[k] < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
							       MAP_SHARED, pfd[k], 0);
			if (wp[k] == MAP_FAILED)
				die("map a vdev page");
		}
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		nr_excess = ctx_wait_turns(wp, CTX_WAIT_ROUNDS);
		for (k = 0; k < 2; k++) {
			munmap((void *)wp[k], PAGE);
			close(pfd[k]);
		}
		for (i = 0; i < nr_excess; i++)
			ctx_excess[i] *= 1e3;
		p50 = nr_excess ? quantile(ctx_excess, nr_excess, 0.50) : NAN;
		p99 = nr_excess ? quantile(ctx_excess, nr_excess, 0.99) : NAN;

		ctx_set(ctl, 0, 0);
		ctx_phase(CTX_EXIT);
		for (k = 0; k < 2; k++)
			waitpid(pid[k], NULL, 0);
		close(ctl);

		printf("# %-9zu %12.3f %12.3f %10ld %12ld %9.2fx %12.1f %12.3f %12.3f %8d\n", size,
		       sw_ms, ho_ms, handovers, drv, ho_ms / sw_ms,
		       100 * share_ms / (CTX_SHARE_S * 1e3), p50, p99, nr_excess);
		record("ctx_switch", "ioctl", size, "4K", sw_ms, "ms");
		record("ctx_handover", "timeout 0", size, "4K", ho_ms, "ms");
		record_full("ctx_handover", "timeout 0", size, "hand-overs", "4K", handovers, "", NULL);
		record_full("ctx_handover", "timeout 0", size, "driver-switches", "-", drv, "", NULL);
		record("ctx_timeshare", "on device, the lesser of two", size, "4K", share_ms, "ms");
		record("ctx_timeshare", "wall", size, "-", CTX_SHARE_S * 1e3, "ms");
		record_full("ctx_wait", "past the hold's end", size, "p50", "4K", p50, "ms", NULL);
		record_full("ctx_wait", "past the hold's end", size, "p99", "4K", p99, "ms",
			    nr_excess ? NULL : "no sample");
		record_full("ctx_wait", "past the hold's end", size, "samples", "4K",
			    nr_excess, "", NULL);
		ratio_of("ctxmgt", size == (32UL << 10) ? "hand-over vs SWITCH, 32 KiB" :
			 size == (2UL << 20) ? "hand-over vs SWITCH, 2 MiB" : "hand-over vs SWITCH, 16 MiB",
			 ho_ms, "no hand-over", sw_ms, NULL);
	}
	munmap(ctx_sh, sizeof(*ctx_sh));
	munmap(buf, MAX_SIZE);
	section_end("ctxmgt");
}

/* --- PCI BAR device memory ------------------------------------------------------ */

/*
 * The device memory in the BAR of the guest's ivshmem-plain device
 * (device_memory=pci) against RAM device memory (the default), both with
 * the same reserved size (the BAR's, at most 64 MiB) and default
 * fault-around. Each round loads the module in RAM mode, then in PCI mode
 * (a bind, which zeroes the BAR), and in each mode fills vdevs 0 and 1
 * (every store allocated, both through one SWITCH pair), then measures:
 *
 *   - first touch: mmap + one store per page of vdev 0, the foreground,
 *     with 4 KiB pages (PR_SET_THP_DISABLE) and with 2 MiB PMD entries
 *     where allowed, the page size observed from the fdinfo fault counts;
 *   - bandwidth: memset, memcpy into and memcpy out of a faulted mapping
 *     of the whole buffer, 4 KiB and 2 MiB pages;
 *   - SWITCH between vdevs 0 and 1 of 64, 16 and 1 MiB (shrinking, so that
 *     every store keeps all its bytes), nothing mapped: the mean of one
 *     switch each way.
 *
 * With no ivshmem device in the guest (qemu/run.sh without --ivshmem), or
 * one that vdmux does not bind, every figure is n/a with the reason.
 */
static const size_t bar_sizes[] = { 1UL << 20, 16UL << 20, 64UL << 20 };
#define NR_BAR_SIZES ARRAY_SIZE(bar_sizes)

enum { BAR_RAM, BAR_PCI, NR_BAR_MODES };
static const char *const bar_mode_params[NR_BAR_MODES] = { "", "device_memory=pci" };
static const char *const bar_mode_name[NR_BAR_MODES] = { "ram", "bar" };
/* [0]: 4 KiB pages only; [1]: 2 MiB PMD entries where allowed. */
static const char *const bar_page_name[2] = { "4k", "pmd" };
static const char *const bar_page_text[2] = { "4 KiB pages", "PMD where allowed" };
static const char *const bar_op_name[3] = { "memset", "memcpy", "memcpy-out" };

/* Seconds of each run, [mode][page kind][size or op][run]. */
static double bar_ft[NR_BAR_MODES][2][NR_BAR_SIZES][MAX_REPS];
static const char *bar_ft_page[NR_BAR_MODES][2][NR_BAR_SIZES];
static double bar_bw[NR_BAR_MODES][2][3][MAX_REPS];
static const char *bar_bw_page[NR_BAR_MODES][2];
static double bar_sw[NR_BAR_MODES][NR_BAR_SIZES][MAX_REPS];

/*
 * The first ivshmem-plain device in bus order into @bdf and the length of
 * its BAR 2 into @len: 0, or -1 with @why.
 */
static int bar_find_ivshmem(char *bdf, size_t bdf_len, unsigned long long *len, char *why,
			    size_t why_len)
{
	unsigned long long start;

	if (find_pci_device(IVSHMEM_VENDOR, IVSHMEM_DEVICE, bdf, bdf_len)) {
		snprintf(why, why_len,
			 "no ivshmem-plain device in the guest: boot it with qemu/run.sh --ivshmem SIZE");
		return -1;
	}
	if (pci_bar_range(bdf, 2, &start, len, NULL)) {
		snprintf(why, why_len, "ivshmem %s has no BAR 2", bdf);
		return -1;
	}
	return 0;
}

/* Whether vdmux is bound to PCI device @bdf and its nodes are there. */
static int bar_bound(const char *bdf)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/vdmux/%s", bdf);
	return !access(path, F_OK) && !access(CTL_PATH, F_OK);
}

/* Writes the first @size bytes of @src into vdev @i. */
static void bar_fill(int i, const char *src, size_t size)
{
	int fd = open_vdev(i, O_RDWR);

	if (fd < 0 || pwrite(fd, src, size, 0) != (ssize_t)size)
		die("fill vdev");
	close(fd);
}

/* One round in @mode: run @rep of every figure; -1 with @why if vdmux did not bind. */
static int bar_round(int mode, int rep, const char *bdf, size_t max, char *src, char *dst,
		     char *why, size_t why_len)
{
	struct fault_counts f0, f1;
	int pg, s, op, fd, ctl, err;
	long faults;
	double t0;
	char *map;

	reload(bar_mode_params[mode]);
	if (mode == BAR_PCI && !bar_bound(bdf)) {
		snprintf(why, why_len, "vdmux did not bind ivshmem %s", bdf);
		return -1;
	}
	resize(max);
	memset(src, 0x40 + rep, max);
	bar_fill(0, src, max);
	memset(src, 0x60 + rep, max);
	bar_fill(1, src, max);
	ctl = ctl_fd();
	if (ioctl(ctl, VDMUX_IOC_SWITCH, 1UL) || ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
		die("SWITCH");

	for (pg = 0; pg < 2; pg++) {
		small_pages_only(!pg);
		for (s = 0; s < (int)NR_BAR_SIZES; s++)
			if (bar_sizes[s] <= max)
				bar_ft[mode][pg][s][rep] =
					first_touch_once(FT_VDMUX, -1, bar_sizes[s], 1, pg,
							 &bar_ft_page[mode][pg][s], &faults, &err);
	}

	for (pg = 0; pg < 2; pg++) {
		small_pages_only(!pg);
		fd = open_vdev(0, O_RDWR);
		if (fd < 0)
			die("open vdmux0");
		map = mmap(NULL, max, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			die("mmap vdmux0");
		f0 = fault_counts(fd);
		touch(map, max);
		f1 = fault_counts(fd);
		bar_bw_page[mode][pg] = page_of_faults(f0, f1, "?");
		for (op = 0; op < 3; op++) {
			t0 = now();
			if (op == 0)
				memset(map, rep, max);
			else if (op == 1)
				memcpy(map, src, max);
			else
				memcpy(dst, map, max);
			bar_bw[mode][pg][op][rep] = now() - t0;
		}
		munmap(map, max);
		close(fd);
	}
	small_pages_only(0);

	/* Largest first: a shrink keeps every store's bytes below the new size. */
	for (s = NR_BAR_SIZES - 1; s >= 0; s--) {
		if (bar_sizes[s] > max)
			continue;
		resize(bar_sizes[s]);
		t0 = now();
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 1UL))
			die("SWITCH");
		if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
			die("SWITCH");
		bar_sw[mode][s][rep] = (now() - t0) / 2;
	}
	close(ctl);
	return 0;
}

static void bench_bar(void)
{
	double v[NR_BAR_MODES], ms[NR_BAR_MODES];
	char bdf[PCI_BDF_LEN], why[128] = "", name[128], contender[32];
	unsigned long long bar_len = 0;
	int mode, pg, s, op, i, ok;
	size_t max = 0, size;
	char *src = NULL, *dst = NULL;
	const char *e, *page;

	if (!section("bar", "device memory in the ivshmem BAR (device_memory=pci) vs RAM"))
		return;
	ok = !bar_find_ivshmem(bdf, sizeof(bdf), &bar_len, why, sizeof(why));
	if (ok) {
		max = bar_len < MAX_SIZE ? bar_len : MAX_SIZE;
		printf("#   ivshmem %s: BAR 2 of %llu MiB; reserved size %zu MiB in both modes\n",
		       bdf, bar_len >> 20, max >> 20);
		src = map_anon(max, 0);
		dst = map_anon(max, 0);
		memset(dst, 0, max);
		for (i = 0; i < reps && ok; i++)
			for (mode = 0; mode < NR_BAR_MODES && ok; mode++)
				ok = !bar_round(mode, i, bdf, max, src, dst, why, sizeof(why));
		munmap(src, max);
		munmap(dst, max);
		reload("");
	}
	if (!ok) {
		printf("#   n/a: %s\n", why);
		record_full("bar_device", "ivshmem", 0, NULL, "-", NAN, "MiB", why);
		section_end("bar");
		return;
	}
	record("bar_device", bdf, max, "-", (double)bar_len / MIB, "MiB");

	printf("#   %-22s %-8s %-10s %-6s %10s %10s\n", "first touch, stores", "MiB", "contender",
	       "page", "ms", "MiB/s");
	for (pg = 0; pg < 2; pg++) {
		for (s = 0; s < (int)NR_BAR_SIZES; s++) {
			size = bar_sizes[s];
			e = size > max ? "larger than the BAR" : NULL;
			for (mode = 0; mode < NR_BAR_MODES; mode++) {
				page = e ? "-" : bar_ft_page[mode][pg][s];
				v[mode] = e ? NAN : size / median(bar_ft[mode][pg][s], reps) / MIB;
				snprintf(contender, sizeof(contender), "%s-%s", bar_mode_name[mode],
					 bar_page_name[pg]);
				if (e)
					printf("#   %-22s %-8zu %-10s %-6s n/a (%s)\n",
					       bar_page_text[pg], size >> 20, contender, page, e);
				else
					printf("#   %-22s %-8zu %-10s %-6s %10.3f %10.1f\n",
					       bar_page_text[pg], size >> 20, contender, page,
					       size / v[mode] / MIB * 1e3, v[mode]);
				record_full("bar_first_touch", contender, size, NULL, page, v[mode],
					    "MiB/s", e);
			}
			if (size != MAX_SIZE)
				continue;
			snprintf(name, sizeof(name), "first touch 64 MiB, stores, %s: BAR vs RAM",
				 bar_page_text[pg]);
			ratio_of("bar", name, v[BAR_PCI], e, v[BAR_RAM], e);
		}
	}

	printf("#   %-22s %-8s %-10s %-6s %10s\n", "bandwidth", "MiB", "contender", "page",
	       "MiB/s");
	for (pg = 0; pg < 2; pg++) {
		for (op = 0; op < 3; op++) {
			for (mode = 0; mode < NR_BAR_MODES; mode++) {
				page = bar_bw_page[mode][pg];
				v[mode] = max / median(bar_bw[mode][pg][op], reps) / MIB;
				snprintf(contender, sizeof(contender), "%s-%s", bar_mode_name[mode],
					 bar_page_name[pg]);
				printf("#   %-22s %-8zu %-10s %-6s %10.1f\n", bar_op_name[op],
				       max >> 20, contender, page, v[mode]);
				record_full("bar_bandwidth", contender, max, bar_op_name[op], page,
					    v[mode], "MiB/s", NULL);
			}
			snprintf(name, sizeof(name), "%s, %s: BAR vs RAM mapping", bar_op_name[op],
				 bar_page_text[pg]);
			ratio("bar", name, v[BAR_PCI] / v[BAR_RAM], NULL);
		}
	}

	printf("#   %-22s %-8s %12s %12s\n", "SWITCH, nothing mapped", "MiB", "RAM ms", "BAR ms");
	for (s = 0; s < (int)NR_BAR_SIZES; s++) {
		e = bar_sizes[s] > max ? "larger than the BAR" : NULL;
		for (mode = 0; mode < NR_BAR_MODES; mode++) {
			ms[mode] = e ? NAN : median(bar_sw[mode][s], reps) * 1e3;
			record_full("bar_switch", bar_mode_name[mode], bar_sizes[s], NULL, "-",
				    ms[mode], "ms", e);
		}
		if (e)
			printf("#   %-22s %-8zu n/a (%s)\n", "", bar_sizes[s] >> 20, e);
		else
			printf("#   %-22s %-8zu %12.3f %12.3f\n", "", bar_sizes[s] >> 20,
			       ms[BAR_RAM], ms[BAR_PCI]);
		snprintf(name, sizeof(name), "SWITCH %zu MiB, nothing mapped: BAR vs RAM, time",
			 bar_sizes[s] >> 20);
		ratio_of("bar", name, ms[BAR_PCI], e, ms[BAR_RAM], e);
	}
	section_end("bar");
}

int main(void)
{
	char clocksource[64] = "unknown", kernel[128] = "unknown";
	const char *env = getenv("VDMUX_BENCH_REPS");
	const char *clock = getenv("VDMUX_BENCH_CLOCK");
	double start = now();
	FILE *f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env && atoi(env) > 0)
		reps = atoi(env) < MAX_REPS ? atoi(env) : MAX_REPS;
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(clocksource, sizeof(clocksource), f))
			clocksource[strcspn(clocksource, "\n")] = 0;
		fclose(f);
	}
	read_first_line("/proc/sys/kernel/osrelease", kernel, sizeof(kernel));
	count_instructions = clock && !strcmp(clock, "instructions");
	printf("# clocksource: %s, kernel %s, %d runs per figure%s\n", clocksource, kernel, reps,
	       count_instructions ? ", the clock counting instructions" : "");
	if (strstr(clocksource, "jiffies")) {
		printf("Bail out! clocksource %s is too coarse for timings\n", clocksource);
		return 1;
	}
	json = open_memstream(&json_buf, &json_len);
	json_ratios = open_memstream(&ratios_buf, &ratios_len);
	if (!json || !json_ratios)
		die("open_memstream");

	bench_switch_first();
	bench_first_touch();
	bench_bandwidth();
	bench_copy();
	bench_scaling();
	bench_switch_second();
	bench_switch_mappers();
	bench_latency();
	bench_growth();
	bench_ctxmgt();
	bench_bar();
	reload("");
	record("time", "total", 0, NULL, now() - start, "s");
	printf("# total %.1f s\n", now() - start);

	fclose(json);
	fclose(json_ratios);
	printf("# vdmux-json-begin\n{\"clocksource\":\"%s\",\"kernel\":\"%s\",\"reps\":%d,"
	       "\"clock\":\"%s\",\"results\":[\n%s\n],\n\"ratios\":[\n%s\n]}\n# vdmux-json-end\n",
	       clocksource, kernel, reps, count_instructions ? "instructions" : "time", json_buf,
	       ratios_buf);
	return 0;
}
