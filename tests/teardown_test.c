// SPDX-License-Identifier: GPL-2.0
/*
 * Teardown orderings: a mapping that outlives its file, munmap racing a
 * switch, a mapping whose creator exits, an eject while a thread faults,
 * a resize racing mmap, module unload against the last mapping, and a
 * process killed in the middle of a long POPULATE.
 */
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define SIZE DEFAULT_RESERVED
#define NR_VDEVS DEFAULT_NR_VDEVS

FIXTURE(td)
{
	int ctl;
};

FIXTURE_SETUP(td)
{
	ASSERT_EQ(0, reset_device());
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
}

FIXTURE_TEARDOWN(td)
{
	if (self->ctl >= 0)
		close(self->ctl);
	reset_device();
}

/*
 * Nothing is mapped any more: the size can shrink (and is restored); while
 * anything is mapped it may only grow, so a shrink is EBUSY.
 */
static int nothing_mapped(void)
{
	int ret = set_reserved(SIZE - PAGE);

	return ret ? ret : set_reserved(SIZE);
}

TEST_F(td, close_before_munmap)
{
	char got[SIZE], want[SIZE];
	char *p, c;
	int fd = open_vdev(1, O_RDWR);

	memset(got, 0, sizeof(got));
	memset(want, 0, sizeof(want));

	ASSERT_LE(0, fd);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));

	/* Faults, a switch, an eject and an insert all work through a closed file. */
	fill_pattern(p, SIZE, 31);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(has_pattern(p, SIZE, 31));
	fill_pattern(p, PAGE, 32);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_TRUE(has_pattern(p, PAGE, 32));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(SIGBUS, probe_read(p + PAGE, &c));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 1));
	fill_pattern(want, SIZE, 31);
	fill_pattern(want, PAGE, 32);
	EXPECT_EQ(0, memcmp(want, p, SIZE));

	fd = open_vdev(1, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(SIZE, pread(fd, got, SIZE, 0));
	EXPECT_EQ(0, memcmp(want, got, SIZE));
	close(fd);
	EXPECT_EQ(-EBUSY, nothing_mapped());
	EXPECT_EQ(0, munmap(p, SIZE));
	EXPECT_EQ(0, nothing_mapped());
}

/*
 * Threads map, write, check and unmap pages of vdevs 1 and 2 in a loop
 * while the main thread switches among all vdevs. Each thread owns one
 * page and finds there what it wrote before its last munmap.
 */
struct mapper {
	pthread_t tid;
	int fd, page;
	double deadline;
	uint64_t rounds, lost, errors;
	uint64_t last;
};

static void *map_loop(void *arg)
{
	struct mapper *m = arg;
	volatile uint64_t *w;
	char *p;

	while (now_s() < m->deadline) {
		p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
		if (p == MAP_FAILED) {
			m->errors++;
			break;
		}
		w = (volatile uint64_t *)(p + m->page * PAGE);
		if (w[0] != m->last || w[PAGE / 8 - 1] != m->last)
			m->lost++;
		m->last = ((uint64_t)m->page << 48) | ++m->rounds;
		w[0] = m->last;
		w[PAGE / 8 - 1] = m->last;
		if (w[0] != m->last)
			m->lost++;
		if (munmap(p, SIZE))
			m->errors++;
	}
	return NULL;
}

TEST_F(td, munmap_during_switch)
{
	struct mapper m[4];
	uint64_t switches = 0, rounds = 0, got;
	double deadline = now_s() + 3;
	int fd[2], i;

	for (i = 0; i < 2; i++) {
		fd[i] = open_vdev(1 + i, O_RDWR);
		ASSERT_LE(0, fd[i]);
	}
	for (i = 0; i < 4; i++) {
		m[i] = (struct mapper){ .fd = fd[i % 2], .page = i, .deadline = deadline };
		ASSERT_EQ(0, pthread_create(&m[i].tid, NULL, map_loop, &m[i]));
	}
	while (now_s() < deadline) {
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, switches % NR_VDEVS));
		switches++;
	}
	for (i = 0; i < 4; i++) {
		pthread_join(m[i].tid, NULL);
		rounds += m[i].rounds;
		EXPECT_EQ(0, m[i].lost);
		EXPECT_EQ(0, m[i].errors);
		/* And read(2) agrees with each thread's last write. */
		ASSERT_EQ(8, pread(fd[i % 2], &got, 8, i * PAGE));
		EXPECT_EQ(m[i].last, got);
	}
	ksft_print_msg("munmap_during_switch: %llu switches, %llu map/write/unmap rounds\n",
		       (unsigned long long)switches, (unsigned long long)rounds);
	EXPECT_LT(0, rounds);
	close(fd[0]);
	close(fd[1]);
	EXPECT_EQ(0, nothing_mapped());
}

static int read_byte(int fd, char *c)
{
	return read(fd, c, 1) == 1 ? 0 : -1;
}

/*
 * A process maps vdev 2, forks and exits at once: its child, reparented
 * to us, keeps the mapping through a switch, an eject and an insert.
 */
TEST_F(td, parent_exits_while_child_maps)
{
	int up[2], down[2], status;
	pid_t mid, child = 0;
	char c;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	mid = fork();
	ASSERT_LE(0, mid);
	if (mid == 0) {
		int dead[2], fd = open_vdev(2, O_RDWR);
		char *p;
		pid_t pid;

		p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED || pipe(dead))
			_exit(2);
		close(fd);
		fill_pattern(p, SIZE, 41);
		pid = fork();
		if (pid < 0)
			_exit(3);
		if (pid == 0) {
			int ok = 1;

			/* EOF on this pipe: the parent is gone. */
			close(dead[1]);
			if (read(dead[0], &c, 1) != 0)
				_exit(4);
			ok &= has_pattern(p, SIZE, 41);
			fill_pattern(p, SIZE, 42);
			/* Tell the test; it switches, then ejects. */
			if (write(up[1], ok ? "a" : "A", 1) != 1 || read_byte(down[0], &c))
				_exit(5);
			ok &= probe_read(p, &c) == SIGBUS;
			if (write(up[1], ok ? "b" : "B", 1) != 1 || read_byte(down[0], &c))
				_exit(5);
			ok &= has_pattern(p, SIZE, 42);
			_exit(ok ? 0 : 1);
		}
		/* Exit with the mapping still there, its child holding it too. */
		if (write(up[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(6);
		_exit(0);
	}
	ASSERT_EQ(sizeof(child), read(up[0], &child, sizeof(child)));
	ASSERT_EQ(mid, waitpid(mid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(1, read(up[0], &c, 1));
	EXPECT_EQ('a', c);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 2));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, 2));
	ASSERT_EQ(1, write(down[1], "e", 1));
	ASSERT_EQ(1, read(up[0], &c, 1));
	EXPECT_EQ('b', c);
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, 2));
	ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(1, write(down[1], "i", 1));
	/* The orphan is ours to reap, as we are its subreaper. */
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	EXPECT_TRUE(vdev_has_pattern(2, SIZE, 42));
	EXPECT_EQ(0, nothing_mapped());
}

/*
 * A thread faults in a tight loop while the main thread ejects the vdev at
 * a random moment: each pass maps the vdev afresh over its mapping
 * (MAP_FIXED, which unmaps the old entries: MADV_DONTNEED is refused on
 * VM_PFNMAP) and reads every word of every page, so that every pass takes
 * a fault, which the thread's page-fault count (getrusage) must show. The
 * round ends when the vdev is removed: a SIGBUS in the mapping, or the
 * fresh mmap refused with ENODEV; no read or mmap begun after the EJECT
 * returned may succeed; after the insert the mapping shows the vdev's
 * bytes again. Some passes must have been under way while the EJECT ran,
 * or the race was not tested.
 */
/* 256 pages: 16 faults of a fault-around block each per pass. */
#define EJ_LEN (1UL << 20)

struct faulter {
	int fd;
	char *map;
	pthread_barrier_t start, stopped;
	volatile int quit;
	int pattern;
	int vdev;	/* the vdev f->map maps: its tagged pattern is checked */
	volatile uint64_t ejecting;	/* odd while the main thread is in EJECT */
	uint64_t passes, faultless, sigbus, enodev, overlapped, after_eject, bad;
};

static __thread sigjmp_buf fault_env;
static __thread char *fault_map;
static __thread volatile sig_atomic_t fault_sig;

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* Only a SIGBUS inside this thread's mapping is the expected one. */
	fault_sig = sig == SIGBUS && (char *)si->si_addr >= fault_map &&
		    (char *)si->si_addr < fault_map + EJ_LEN ? SIGBUS : -sig;
	siglongjmp(fault_env, 1);
}

/* A barrier wait whose failure counts as bad. */
static void faulter_wait(struct faulter *f, pthread_barrier_t *b)
{
	int ret = pthread_barrier_wait(b);

	if (ret && ret != PTHREAD_BARRIER_SERIAL_THREAD)
		f->bad++;
}

static void *fault_loop(void *arg)
{
	struct faulter *f = arg;
	struct vdmux_status st;
	int mmap_err;
	size_t i;

	for (;;) {
		volatile uint64_t e0 = 0, base, first;

		faulter_wait(f, &f->start);
		if (f->quit)
			break;
		/* ejecting is base + 2 once this round's EJECT has returned. */
		base = f->ejecting;
		first = pattern_word(f->vdev, f->pattern, 0);
		fault_map = f->map;
		fault_sig = 0;
		mmap_err = 0;
		if (!sigsetjmp(fault_env, 1)) {
			for (;;) {
				volatile char *map;
				long t0, t1;

				e0 = f->ejecting;
				map = mmap(f->map, EJ_LEN, PROT_READ, MAP_SHARED | MAP_FIXED, f->fd, 0);
				if (map == MAP_FAILED) {
					mmap_err = errno;
					break;
				}
				/* An mmap begun once the EJECT had returned must fail. */
				f->after_eject += e0 >= base + 2;
				if (map != f->map)
					f->bad++;
				t0 = thread_faults();
				/*
				 * Every word of every page: its vdev's, at its offset;
				 * before each page, the first word again, mapped by
				 * then. A read that worked although the EJECT had
				 * returned before it began was not revoked.
				 */
				for (i = 0; i < EJ_LEN; i += PAGE) {
					int returned = f->ejecting >= base + 2;

					if (*(volatile uint64_t *)map != first)
						f->bad++;
					f->after_eject += returned;
					if (!has_tagged(map + i, PAGE, f->vdev, f->pattern, i))
						f->bad++;
					f->after_eject += returned;
				}
				t1 = thread_faults();
				f->faultless += t0 < 0 || t1 == t0;
				f->passes++;
				f->overlapped += (e0 & 1) || f->ejecting != e0;
			}
		} else {
			/* The SIGBUS ended a pass that began at e0. */
			f->overlapped += (e0 & 1) || f->ejecting != e0;
		}
		if (get_status(f->fd, &st) || st.state != VDMUX_STATE_REMOVED)
			f->bad++;
		else if (fault_sig == SIGBUS && !mmap_err)
			f->sigbus++;
		else if (!fault_sig && mmap_err == ENODEV)
			f->enodev++;
		else
			f->bad++;
		faulter_wait(f, &f->stopped);
	}
	return NULL;
}

TEST_F(td, eject_while_faulting)
{
	struct sigaction sa = { .sa_sigaction = fault_handler, .sa_flags = SA_SIGINFO };
	static char buf[EJ_LEN];
	struct faulter f = { .pattern = 51 };
	struct rng r;
	pthread_t tid;
	int fd[2], round, rounds = 60;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	rng_seed(&r, getpid());
	ASSERT_EQ(0, set_reserved(EJ_LEN));
	/* vdev 0 is the foreground, vdev 1 a background one: eject both kinds. */
	for (round = 0; round < 2; round++) {
		fill_tagged(buf, EJ_LEN, round, f.pattern, 0);
		fd[round] = open_vdev(round, O_RDWR);
		ASSERT_LE(0, fd[round]);
		ASSERT_EQ(EJ_LEN, pwrite(fd[round], buf, EJ_LEN, 0));
	}
	ASSERT_EQ(0, pthread_barrier_init(&f.start, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&f.stopped, NULL, 2));
	for (round = 0; round < rounds; round++) {
		int v = round % 2, ret;
		double until;

		/* A fresh mapping of this round's vdev; the barrier publishes it. */
		if (f.map)
			ASSERT_EQ(0, munmap(f.map, EJ_LEN));
		f.fd = fd[v];
		f.vdev = v;
		f.map = mmap(NULL, EJ_LEN, PROT_READ, MAP_SHARED, fd[v], 0);
		ASSERT_NE(MAP_FAILED, f.map);
		if (round == 0)
			ASSERT_EQ(0, pthread_create(&tid, NULL, fault_loop, &f));
		ret = pthread_barrier_wait(&f.start);
		ASSERT_TRUE(ret == 0 || ret == PTHREAD_BARRIER_SERIAL_THREAD);
		/* Land the eject at a random point of the fault loop. */
		for (until = now_s() + rng_below(&r, 20000) * 1e-6; now_s() < until;)
			;
		__atomic_add_fetch(&f.ejecting, 1, __ATOMIC_SEQ_CST);
		ret = vdmux_ioc(self->ctl, VDMUX_IOC_EJECT, v);
		__atomic_add_fetch(&f.ejecting, 1, __ATOMIC_SEQ_CST);
		ASSERT_EQ(0, ret);
		ret = pthread_barrier_wait(&f.stopped);
		ASSERT_TRUE(ret == 0 || ret == PTHREAD_BARRIER_SERIAL_THREAD);
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_INSERT, v));
		if (v == 0)
			ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SWITCH, 0));
		/* Every byte is the vdev's again (the mapping may be a hole after ENODEV). */
		f.map = mmap(f.map, EJ_LEN, PROT_READ, MAP_SHARED | MAP_FIXED, fd[v], 0);
		ASSERT_NE(MAP_FAILED, f.map);
		if (!has_tagged(f.map, EJ_LEN, v, f.pattern, 0))
			f.bad++;
	}
	f.quit = 1;
	pthread_barrier_wait(&f.start);
	ASSERT_EQ(0, pthread_join(tid, NULL));
	ksft_print_msg("eject_while_faulting: %d rounds, %llu passes (%llu without a fault), "
		       "%llu ended by SIGBUS, %llu by ENODEV from mmap, %llu while the EJECT ran; "
		       "%llu accesses worked after it returned\n",
		       rounds, (unsigned long long)f.passes, (unsigned long long)f.faultless,
		       (unsigned long long)f.sigbus, (unsigned long long)f.enodev,
		       (unsigned long long)f.overlapped, (unsigned long long)f.after_eject);
	EXPECT_EQ(rounds, f.sigbus + f.enodev);
	EXPECT_EQ(0, f.faultless);
	EXPECT_EQ(0, f.after_eject);
	EXPECT_EQ(0, f.bad);
	EXPECT_LT(0, f.sigbus);
	EXPECT_LT(0, f.overlapped) TH_LOG("no pass was under way while an EJECT ran");
	EXPECT_TRUE(has_tagged(f.map, EJ_LEN, f.vdev, f.pattern, 0));
	EXPECT_EQ(0, munmap(f.map, EJ_LEN));
	close(fd[0]);
	close(fd[1]);
	EXPECT_EQ(0, nothing_mapped());
}

/*
 * One thread resizes between SIZE and 2 * SIZE (32 and 64 KiB with 4 KiB
 * pages), another maps SIZE or 2 * SIZE.
 * A shrink while anything is mapped must be EBUSY (a growth is not
 * refused); a mapping past the size ENOMEM; and a mapping that was made
 * stays whole: the size does not shrink under it, no page of it faults
 * SIGBUS, and its bytes are the vdev's.
 */
struct resizer {
	double deadline;
	volatile int done;
	uint64_t ok, busy, errors;
};

static void *resize_loop(void *arg)
{
	struct resizer *r = arg;
	int fd = open(CTL_PATH, O_RDWR);
	uint64_t n = 0, size;
	int ret;

	if (fd < 0) {
		r->errors++;
		return NULL;
	}
	while (!r->done && now_s() < r->deadline) {
		size = (1 + n++ % 2) * SIZE;
		ret = vdmux_ioc(fd, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&size);
		if (ret == 0)
			r->ok++;
		else if (ret == -EBUSY)
			r->busy++;
		else
			r->errors++;
	}
	close(fd);
	return NULL;
}

TEST_F(td, resize_racing_mmap)
{
	struct resizer rz = { .deadline = now_s() + 8 };
	uint64_t maps = 0, enomem = 0, torn = 0, bad = 0, size, after;
	char buf[SIZE];
	pthread_t tid;
	int fd, n;
	char *p, c;

	memset(buf, 0, sizeof(buf));

	fd = open_vdev(3, O_RDWR);
	ASSERT_LE(0, fd);
	fill_pattern(buf, SIZE, 61);
	ASSERT_EQ(SIZE, pwrite(fd, buf, SIZE, 0));
	ASSERT_EQ(0, pthread_create(&tid, NULL, resize_loop, &rz));
	/* Run until each side has seen the other win a few times. */
	for (n = 0; now_s() < rz.deadline && (n < 200 || !rz.busy || !enomem || !rz.ok); n++) {
		size_t len = (1 + n % 2) * SIZE, i;

		p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			/* Only a mapping of 2 * SIZE can be past the size. */
			if (errno == ENOMEM && len == 2 * SIZE)
				enomem++;
			else
				bad++;
			continue;
		}
		maps++;
		if (ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size) || size < len)
			torn++;
		for (i = 0; i < len; i += PAGE)
			if (probe_read(p + i, &c))
				torn++;
		if (!has_pattern(p, SIZE, 61) || (len > SIZE && !all_zero(p + SIZE, SIZE)))
			torn++;
		/* It may grow while mapped, never shrink below the mapping. */
		if (ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &after) || after < len)
			torn++;
		munmap(p, len);
	}
	rz.done = 1;
	pthread_join(tid, NULL);
	ksft_print_msg("resize_racing_mmap: %llu resizes, %llu EBUSY; %llu mappings, %llu ENOMEM\n",
		       (unsigned long long)rz.ok, (unsigned long long)rz.busy,
		       (unsigned long long)maps, (unsigned long long)enomem);
	EXPECT_EQ(0, torn);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, rz.errors);
	EXPECT_LT(0, rz.ok);
	EXPECT_LT(0, rz.busy);
	EXPECT_LT(0, maps);
	EXPECT_LT(0, enomem);
	close(fd);
	ASSERT_EQ(0, set_reserved(SIZE));
	EXPECT_TRUE(vdev_has_pattern(3, SIZE, 61));
}

/*
 * The last file is closed, but mappings remain: split by mprotect, moved
 * by mremap, inherited by a child. Unloading is refused until the very
 * last piece is unmapped, then accepted.
 */
TEST_F(td, rmmod_waits_for_the_last_mapping)
{
	int fd = open_vdev(3, O_RDWR), to_child[2], from_child[2], status;
	char buf[SIZE];
	char *p, *moved, c;
	pid_t pid;

	memset(buf, 0, sizeof(buf));

	ASSERT_LE(0, fd);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	close(self->ctl);
	self->ctl = -1;
	fill_pattern(p, SIZE, 71);
	fill_pattern(buf, SIZE, 71);
	/* Three VMAs, then a fourth somewhere else. */
	ASSERT_EQ(0, mprotect(p + PAGE, PAGE, PROT_READ));
	moved = mremap(p + SIZE - 2 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		       p + 4 * SIZE);
	ASSERT_EQ(p + 4 * SIZE, moved);
	EXPECT_EQ(0, memcmp(moved, buf + SIZE - 2 * PAGE, 2 * PAGE));

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(from_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child's copies of every piece: it unmaps three, exits with one. */
		if (read_byte(to_child[0], &c) || munmap(p, SIZE - 2 * PAGE))
			_exit(2);
		if (write(from_child[1], "1", 1) != 1 || read_byte(to_child[0], &c))
			_exit(2);
		_exit(memcmp(moved, buf + SIZE - 2 * PAGE, 2 * PAGE) ? 1 : 0);
	}
	EXPECT_EQ(0, munmap(p, SIZE - 2 * PAGE));
	EXPECT_EQ(0, munmap(moved, 2 * PAGE));
	EXPECT_EQ(-EWOULDBLOCK, unload_module());

	ASSERT_EQ(1, write(to_child[1], "u", 1));
	ASSERT_EQ(1, read(from_child[0], &c, 1));
	/* The child still has the moved piece. */
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	EXPECT_TRUE(module_loaded());
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
}

/*
 * POPULATE is killable: a child maps the largest reserved size 1024 times
 * side by side and POPULATEs the whole 64 GiB range in one call; SIGKILL
 * 100 ms later must reap it within 2 s, not once the call has mapped all
 * of it: the OOM reaper skips VM_PFNMAP, so nothing else can stop it. The
 * device memory's chunks are allocated beforehand, so the call only maps.
 * The kill must land while the call runs: the child has not returned from
 * it (a flag it sets after the ioctl, in shared memory), and it spent
 * system time between the moment it said it was about to call and the
 * kill (its stime in /proc/PID/stat; the pagemap and smaps walks skip
 * VM_PFNMAP, so they cannot see what the call has mapped).
 */
#define POP_MAPS 1024
#define POP_MAP DEFAULT_MAX_RESERVED
#define BLOCK PMD_BLOCK

struct pop_child {
	volatile int started, returned, ret;
};

static void populate_child(int fd, struct pop_child *c)
{
	size_t len = (size_t)POP_MAPS * POP_MAP;
	char *region, *base;
	int i;

	region = mmap(NULL, len + BLOCK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	if (region == MAP_FAILED)
		_exit(2);
	/* PMD aligned, as a program that wants PMD entries maps it. */
	base = (char *)(((uintptr_t)region + BLOCK - 1) & ~(BLOCK - 1));
	for (i = 0; i < POP_MAPS; i++)
		if (mmap(base + (size_t)i * POP_MAP, POP_MAP, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
			_exit(3);
	__atomic_store_n(&c->started, 1, __ATOMIC_SEQ_CST);
	c->ret = populate(fd, base, len);
	__atomic_store_n(&c->returned, 1, __ATOMIC_SEQ_CST);
	_exit(0);
}

/* The system time of @pid so far, in clock ticks (/proc/PID/stat's stime); -1 on error. */
static long stime_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	long stime = -1;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_first_line(path, buf, sizeof(buf)))
		return -1;
	/* Fields after the command's closing parenthesis: state is 3, stime 15. */
	p = strrchr(buf, ')');
	for (i = 2; p && i < 15; i++)
		p = strchr(p + 1, ' ');
	if (p)
		stime = strtol(p + 1, NULL, 10);
	return stime;
}

/* Without the signal check the whole call takes about 30 s on the debug kernel under TCG. */
TEST_F_TIMEOUT(td, sigkill_stops_a_long_populate, 180)
{
	struct pop_child *c;
	long stime_before, stime_at_kill;
	int fd, status, in_call;
	double t, reaped_in = -1;
	pid_t pid;

	ASSERT_EQ(0, set_reserved(POP_MAP));
	fd = open_vdev(0, O_RDWR);
	ASSERT_LE(0, fd);
	/* Every chunk allocated first: the call under test only maps. */
	ASSERT_EQ(0, fill_vdev(fd, 0, 52, POP_MAP));
	c = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		populate_child(fd, c);
	for (t = now_s() + 30; !__atomic_load_n(&c->started, __ATOMIC_SEQ_CST) && now_s() < t;)
		usleep(1000);
	ASSERT_TRUE(c->started) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	stime_before = stime_of(pid);
	usleep(100 * 1000);
	stime_at_kill = stime_of(pid);
	in_call = !__atomic_load_n(&c->returned, __ATOMIC_SEQ_CST);
	t = now_s();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	while (now_s() < t + 2) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			reaped_in = now_s() - t;
			break;
		}
		usleep(1000);
	}
	if (reaped_in < 0) {
		/* Not reaped in time: wait for it anyway, to say how long it took. */
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		TH_LOG("reaped %.1f s after SIGKILL", now_s() - t);
	}
	ksft_print_msg("sigkill_stops_a_long_populate: %s at the kill, %ld ticks of system time "
		       "in it; reaped in %.3f s\n", in_call ? "POPULATE not returned" :
		       "POPULATE returned", stime_at_kill - stime_before, reaped_in);
	EXPECT_TRUE(in_call) TH_LOG("POPULATE returned %d before the kill: nothing tested",
				    c->ret);
	EXPECT_LE(0, stime_before);
	EXPECT_LT(stime_before, stime_at_kill);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_LE(0, reaped_in) TH_LOG("not reaped within 2 s of SIGKILL");
	munmap(c, PAGE);
	close(fd);
	EXPECT_EQ(0, nothing_mapped());
}

/* On a busy 2-core host under TCG, resize_racing_mmap took 3.4 s. */
VDMUX_HARNESS_MAIN(30)
