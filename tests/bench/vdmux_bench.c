// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux benchmarks, run inside the guest by `make bench`.
 *
 * Every figure is the median of several runs, and every comparison is made
 * against a baseline measured in the same boot:
 *   1. first-touch fault throughput: vdmux (4 KiB faults, fault-around and
 *      2 MiB PMD mappings) against a memfd (shmem) MAP_SHARED mapping and
 *      anonymous memory;
 *   2. steady-state bandwidth of a faulted mapping (memset, memcpy) against
 *      anonymous memory, and against vdmux's own read()/write() copy path;
 *   3. SWITCH latency with 1 and 4 mapping processes, next to a memcpy of
 *      twice the size (the floor for save + load), and the re-touch cost;
 *   4. fault scaling with 1 and 2 threads faulting disjoint halves.
 *
 * Prints a table, then the results as JSON between "# vdmux-json-begin"
 * and "# vdmux-json-end" lines, which the host turns into bench/.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "../vdmux_test.h"

#define PAGE 4096UL
#define REPS 9
#define MAX_SIZE (64UL << 20)

static const size_t sizes[] = { 32UL << 10, 256UL << 10, 1UL << 20, 4UL << 20, 16UL << 20,
				 64UL << 20 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static FILE *json;
static int json_first = 1;

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
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One JSON record: {"bench": ..., "contender": ..., "size": ..., "value": ..., "unit": ...} */
static void record(const char *bench, const char *contender, size_t size, double value,
		   const char *unit)
{
	fprintf(json, "%s{\"bench\":\"%s\",\"contender\":\"%s\",\"size\":%zu,\"value\":%.6g,\"unit\":\"%s\"}",
		json_first ? "" : ",\n", bench, contender, size, value, unit);
	json_first = 0;
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

/* Writes one byte per page: each page takes a first-touch fault. */
static void touch(volatile char *p, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += PAGE)
		p[off] = 1;
}

/* Seconds to first-touch @size bytes of a fresh mapping of @kind. */
static double first_touch_once(const char *kind, size_t size)
{
	double t0, t;
	char *p;
	int fd = -1;

	if (!strcmp(kind, "anon")) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else if (!strcmp(kind, "memfd")) {
		fd = memfd_create("bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, size))
			die("memfd");
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		fd = open_vdev(0, O_RDWR);
		if (fd < 0)
			die("open vdmux0");
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	if (p == MAP_FAILED)
		die("mmap");
	t0 = now();
	touch(p, size);
	t = now() - t0;
	munmap(p, size);
	if (fd >= 0)
		close(fd);
	return t;
}

static double first_touch(const char *kind, size_t size)
{
	double t[REPS];
	int i;

	for (i = 0; i < REPS; i++)
		t[i] = first_touch_once(kind, size);
	return median(t, REPS);
}

/* 4 KiB faults only (1) or 2 MiB mappings where possible (0), for this process. */
static void small_pages_only(int on)
{
	if (prctl(PR_SET_THP_DISABLE, on, 0, 0, 0))
		die("PR_SET_THP_DISABLE");
}

static void bench_first_touch(void)
{
	static const char *const kinds[] = { "vdmux-4k", "vdmux-fault-around", "vdmux-pmd",
					     "memfd", "anon" };
	unsigned int s, k;
	double t;

	printf("# 1. first-touch fault throughput (one write per page, median of %d)\n", REPS);
	printf("# %-10s %-20s %12s %12s %10s\n", "size", "contender", "ms", "MiB/s", "faults/s");
	for (k = 0; k < 5; k++) {
		if (k == 0)
			reload("fault_around_pages=1");
		else if (k == 1)
			reload("fault_around_pages=16");
		small_pages_only(k < 2);
		for (s = 0; s < NR_SIZES; s++) {
			if (k < 3)
				resize(sizes[s]);
			t = first_touch(k < 3 ? "vdmux" : kinds[k], sizes[s]);
			printf("# %-10zu %-20s %12.3f %12.1f %10.0f\n", sizes[s], kinds[k], t * 1e3,
			       sizes[s] / t / (1 << 20), sizes[s] / PAGE / t);
			record("first_touch", kinds[k], sizes[s], sizes[s] / t / (1 << 20), "MiB/s");
		}
	}
}

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
	double ta[REPS], tb[REPS];
	int i;

	for (i = 0; i < REPS; i++) {
		ta[i] = time_op(a, src, op, i);
		tb[i] = time_op(b, src, op, i);
	}
	*mib_a = MAX_SIZE / median(ta, REPS) / (1 << 20);
	*mib_b = MAX_SIZE / median(tb, REPS) / (1 << 20);
}

static double copy_path(int fd, char *buf, int do_write)
{
	double t[REPS], t0;
	ssize_t n;
	int i;

	for (i = 0; i < REPS; i++) {
		t0 = now();
		n = do_write ? pwrite(fd, buf, MAX_SIZE, 0) : pread(fd, buf, MAX_SIZE, 0);
		t[i] = now() - t0;
		if (n != (ssize_t)MAX_SIZE)
			die("copy path");
	}
	return MAX_SIZE / median(t, REPS) / (1 << 20);
}

static void report_bandwidth(const char *op, const char *contender, double mib_s)
{
	printf("#   %-8s %-14s %10.1f MiB/s\n", op, contender, mib_s);
	record(op, contender, MAX_SIZE, mib_s, "MiB/s");
}

static void bench_bandwidth(void)
{
	double mib_anon, mib_map;
	char *anon, *src, *map;
	int fd;

	reload("");
	resize(MAX_SIZE);
	fd = open_vdev(0, O_RDWR);
	anon = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	map = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd < 0 || anon == MAP_FAILED || src == MAP_FAILED || map == MAP_FAILED)
		die("bandwidth set-up");
	memset(src, 0x5a, MAX_SIZE);
	touch(anon, MAX_SIZE);
	touch(map, MAX_SIZE);

	printf("# 2. steady-state bandwidth, %lu MiB, median of %d\n", MAX_SIZE >> 20, REPS);
	bandwidth(anon, map, src, 0, &mib_anon, &mib_map);
	report_bandwidth("memset", "anon", mib_anon);
	report_bandwidth("memset", "vdmux-mmap", mib_map);
	bandwidth(anon, map, src, 1, &mib_anon, &mib_map);
	report_bandwidth("memcpy", "anon", mib_anon);
	report_bandwidth("memcpy", "vdmux-mmap", mib_map);
	report_bandwidth("memcpy", "vdmux-write", copy_path(fd, src, 1));
	report_bandwidth("memcpy", "vdmux-read", copy_path(fd, anon, 0));
	munmap(map, MAX_SIZE);
	munmap(anon, MAX_SIZE);
	munmap(src, MAX_SIZE);
	close(fd);
}

/*
 * A process that maps vdevs 0 and 1 whole and faults them in, then again
 * each time it reads a byte from @go: every SWITCH it is timed against has
 * the whole of both mappings to zap.
 */
static pid_t start_mapper(size_t size, int go, int ready)
{
	pid_t pid = fork();
	char *a, *b, c;
	int fa, fb;

	if (pid)
		return pid;
	fa = open_vdev(0, O_RDWR);
	fb = open_vdev(1, O_RDWR);
	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0);
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		_exit(1);
	for (;;) {
		touch(a, size);
		touch(b, size);
		if (write(ready, "r", 1) != 1)
			_exit(1);
		if (read(go, &c, 1) != 1)
			_exit(0);
	}
}

static void bench_switch(void)
{
	static const int mappers[] = { 1, 4 };
	double t[REPS], floor_t[REPS], retouch[REPS], t0;
	unsigned int s, m;
	int i, j, ctl, vfd, fds[2], go[4][2];
	struct fault_counts faults0, faults1;
	pid_t pids[4];
	char *src, *dst, *map, c;

	src = mmap(NULL, 2 * MAX_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, 2 * MAX_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("switch set-up");
	memset(src, 1, 2 * MAX_SIZE);
	memset(dst, 2, 2 * MAX_SIZE);

	printf("# 3. SWITCH latency (ioctl round trip, median of %d)\n", REPS);
	printf("# %-10s %-8s %12s %16s %14s\n", "size", "mappers", "switch ms", "memcpy 2x ms", "retouch ms");
	reload("");
	for (m = 0; m < 2; m++) {
		for (s = 0; s < NR_SIZES; s++) {
			resize(sizes[s]);
			/* The backing stores of both vdevs exist before timing. */
			if (vdmux_ctl(VDMUX_IOC_SWITCH, 1) || vdmux_ctl(VDMUX_IOC_SWITCH, 0))
				die("SWITCH");
			if (pipe(fds))
				die("pipe");
			for (i = 0; i < mappers[m]; i++) {
				if (pipe(go[i]))
					die("pipe");
				pids[i] = start_mapper(sizes[s], go[i][0], fds[1]);
			}
			for (i = 0; i < mappers[m]; i++)
				if (read(fds[0], &c, 1) != 1)
					die("mapper");
			ctl = open(CTL_PATH, O_RDWR);
			vfd = open_vdev(1, O_RDWR);
			map = mmap(NULL, sizes[s], PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
			close(vfd);
			if (ctl < 0 || map == MAP_FAILED)
				die("switch open");
			vfd = open_vdev(0, O_RDONLY);
			if (vfd < 0)
				die("switch open");
			faults0 = fault_counts(vfd);
			for (i = 0; i < REPS; i++) {
				/* The mappers fault their whole mappings in again. */
				for (j = 0; i && j < mappers[m]; j++)
					if (write(go[j][1], "g", 1) != 1)
						die("mapper");
				for (j = 0; i && j < mappers[m]; j++)
					if (read(fds[0], &c, 1) != 1)
						die("mapper");
				touch(map, sizes[s]);
				t0 = now();
				if (ioctl(ctl, VDMUX_IOC_SWITCH, (i % 2) ? 0UL : 1UL))
					die("SWITCH");
				t[i] = now() - t0;
				t0 = now();
				touch(map, sizes[s]);
				retouch[i] = now() - t0;
				t0 = now();
				memcpy(dst, src, 2 * sizes[s]);
				floor_t[i] = now() - t0;
			}
			/*
			 * Only the mappers map vdev 0: each of them faulted it in
			 * again before every switch after the first.
			 */
			faults1 = fault_counts(vfd);
			close(vfd);
			if (faults1.pages + faults1.huge - faults0.pages - faults0.huge <
			    (long)(REPS - 1) * mappers[m])
				die("mappers did not fault their mappings in between switches");
			for (i = 0; i < mappers[m]; i++) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], NULL, 0);
				close(go[i][0]);
				close(go[i][1]);
			}
			munmap(map, sizes[s]);
			close(fds[0]);
			close(fds[1]);
			if (ioctl(ctl, VDMUX_IOC_SWITCH, 0UL))
				die("SWITCH");
			close(ctl);
			printf("# %-10zu %-8d %12.3f %16.3f %14.3f\n", sizes[s], mappers[m],
			       median(t, REPS) * 1e3, median(floor_t, REPS) * 1e3,
			       median(retouch, REPS) * 1e3);
			record("switch", mappers[m] == 1 ? "switch-1-mapper" : "switch-4-mappers",
			       sizes[s], median(t, REPS) * 1e3, "ms");
			if (m == 0) {
				record("switch", "memcpy-2x", sizes[s], median(floor_t, REPS) * 1e3, "ms");
				record("switch", "retouch", sizes[s], median(retouch, REPS) * 1e3, "ms");
			}
		}
	}
	munmap(src, 2 * MAX_SIZE);
	munmap(dst, 2 * MAX_SIZE);
}

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

static void bench_scaling(void)
{
	double t1[REPS], t2[REPS], t0;
	struct half h[2];
	pthread_t th[2];
	int i, j, fd;
	char *p;

	printf("# 4. fault scaling, %lu MiB, 4 KiB faults, median of %d\n", MAX_SIZE >> 20, REPS);
	reload("fault_around_pages=1");
	small_pages_only(1);
	resize(MAX_SIZE);
	fd = open_vdev(0, O_RDWR);
	for (i = 0; i < REPS; i++) {
		for (j = 1; j <= 2; j++) {
			p = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED)
				die("mmap");
			h[0] = (struct half){ p, MAX_SIZE / j };
			h[1] = (struct half){ p + MAX_SIZE / 2, MAX_SIZE / 2 };
			t0 = now();
			if (j == 1) {
				touch_half(&h[0]);
			} else {
				pthread_create(&th[0], NULL, touch_half, &h[0]);
				pthread_create(&th[1], NULL, touch_half, &h[1]);
				pthread_join(th[0], NULL);
				pthread_join(th[1], NULL);
			}
			(j == 1 ? t1 : t2)[i] = now() - t0;
			munmap(p, MAX_SIZE);
		}
	}
	close(fd);
	small_pages_only(0);
	printf("#   1 thread   %10.3f ms\n", median(t1, REPS) * 1e3);
	printf("#   2 threads  %10.3f ms (speed-up %.2fx)\n", median(t2, REPS) * 1e3,
	       median(t1, REPS) / median(t2, REPS));
	record("scaling", "1-thread", MAX_SIZE, median(t1, REPS) * 1e3, "ms");
	record("scaling", "2-threads", MAX_SIZE, median(t2, REPS) * 1e3, "ms");
}

int main(void)
{
	char clocksource[64] = "unknown";
	static char json_buf[1 << 16];
	FILE *f;

	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(clocksource, sizeof(clocksource), f))
			clocksource[strcspn(clocksource, "\n")] = 0;
		fclose(f);
	}
	printf("# clocksource: %s\n", clocksource);
	if (strstr(clocksource, "jiffies")) {
		printf("Bail out! clocksource %s is too coarse for timings\n", clocksource);
		return 1;
	}
	json = fmemopen(json_buf, sizeof(json_buf), "w");
	if (!json)
		die("fmemopen");

	bench_first_touch();
	bench_bandwidth();
	bench_switch();
	bench_scaling();
	reload("");

	fclose(json);
	printf("# vdmux-json-begin\n{\"clocksource\":\"%s\",\"reps\":%d,\"results\":[\n%s\n]}\n"
	       "# vdmux-json-end\n", clocksource, REPS, json_buf);
	return 0;
}
