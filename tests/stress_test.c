// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation stress: for every virtual device, several processes with
 * several threads each map it and write words that carry the vdev's own
 * signature, while a controller switches, ejects and inserts at random.
 *
 * Every 8-byte word of vdev V at word index I is
 *
 *	MAGIC << 56 | V << 52 | writer << 48 | I << 24 | sequence
 *
 * and each writer owns a block of words. A writer checks that its block
 * still holds its last write, fills it with a new sequence number, reads it
 * back (it must be exactly that write) and reads every other word of the
 * vdev (each must be V's signature for that very word, written by the
 * word's owner, and a word's sequence number never goes back). A SIGBUS is
 * accepted only when the vdev was removed at some point between the status
 * the writer took before the chunk of 512 words it was accessing and the
 * signal: the controller logs the state of each vdev at every generation,
 * so the writer can tell.
 *
 * Every writer also populates its block (VDMUX_IOC_POPULATE) at the start
 * of its first pass and every fourth after: it must succeed, or fail with
 * ENODEV only when the vdev was removed around the call. (With PMD
 * blocks only the first writer of each vdev does: page entries in part of
 * a block leave its slot a page table, which no PMD entry can take.)
 *
 * Growth: in each round, once the writers have faulted their mappings, a
 * grower process maps the next bytes past the reserved size of one vdev
 * (16 pages; with PMD blocks, the next block) with an autogrow mapping
 * and stores signatures into the last page of each of its parts (16 of a
 * page; 2 of half a block), in order, each store growing the device under the
 * writers' feet; it checks each page it stored and that the size reached
 * that page's end, and re-checks them until the round ends (SIGBUS judged
 * as the writers'). Meanwhile the controller grows the size while mapped
 * with SET_RESERVED_SIZE now and then (success, or EBUSY only when the size
 * had reached the one asked) and tries shrinks (EBUSY). At the round's end
 * the size is exactly the grower's last page's end, and the grown bytes of
 * every vdev are the grower's signatures where it stored and zero elsewhere.
 *
 * The run is split in rounds. Between rounds every worker unmaps, the
 * final content of each vdev is compared with what its writers last wrote,
 * and the reserved size is changed (growing once while a page is mapped,
 * refused to shrink while it is) and restored.
 *
 * Two variants: "pages" with a reserved size of 8 pages (32 KiB with 4 KiB
 * pages), mapped with single pages, and "blocks" with one PMD block (the
 * driver's pmd_size), which every writer maps with one PMD entry (the test
 * checks that such faults were served); "blocks" skips where a store's
 * chunks hold no PMD block (16 and 64 KiB pages).
 *
 *	stress_test [--seconds N]	(or VDMUX_STRESS_SECONDS; default 10: 7 s
 *					 for pages and 3 s for blocks)
 */
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define MAX_VDEVS 8
#define PROCS 2			/* worker processes per vdev */
#define THREADS 2		/* threads per worker process */
#define WRITERS (PROCS * THREADS)
#define MAGIC 0xa7ULL
#define INIT_WRITER 0xfU	/* the round's initial content */
#define GROWER 0xeU		/* the writer field of the grower's words */
#define CHUNK 512		/* words accessed between two GET_STATUS of a writer */
#define RING 65536		/* generations of state history kept per vdev */

static unsigned long opt_seconds = 10;

/* The reserved size of the run and its number of 8-byte words. */
static size_t size, words;

static inline uint64_t sig(unsigned int v, unsigned int w, size_t idx, uint32_t seq)
{
	return MAGIC << 56 | (uint64_t)(v & 0xf) << 52 | (uint64_t)(w & 0xf) << 48 |
	       (uint64_t)(idx & 0xffffff) << 24 | (seq & 0xffffff);
}

static inline unsigned int sig_magic(uint64_t val) { return val >> 56; }
static inline unsigned int sig_vdev(uint64_t val) { return (val >> 52) & 0xf; }
static inline unsigned int sig_writer(uint64_t val) { return (val >> 48) & 0xf; }
static inline size_t sig_index(uint64_t val) { return (val >> 24) & 0xffffff; }
static inline uint32_t sig_seq(uint64_t val) { return val & 0xffffff; }

static inline unsigned int owner(size_t word)
{
	return word / (words / WRITERS);
}

/* What the controller publishes about one vdev: its state at every generation. */
struct vlog {
	uint64_t published;	/* the newest generation whose state is logged */
	uint8_t state[RING];	/* the state at generation g, at [g % RING] */
};

/* What a writer or the grower made of its signals and waits. */
struct signal_counts {
	uint64_t sigbus;	/* SIGBUS while the vdev was removed */
	uint64_t bad_sigbus;	/* SIGBUS with no removal to explain it */
	uint64_t bad_signal;	/* any other signal, a fault outside the mapping, a setup failure */
	uint64_t timeouts;	/* waits that hit their deadline */
};

/* One writer's counters, read by the controller after the round. */
struct wstat {
	uint64_t seq;		/* sequence of its last complete pass */
	uint64_t passes;
	uint64_t bytes;		/* bytes read and checked */
	struct signal_counts sig;
	uint64_t cross;		/* words of another vdev */
	uint64_t corrupt;	/* words that are no signature, or the wrong writer's */
	uint64_t misplaced;	/* words of this vdev that carry another word's index */
	uint64_t lost;		/* own word not equal to its last write */
	uint64_t stale;		/* a word's sequence went back */
	uint64_t populates;	/* VDMUX_IOC_POPULATE of its block that succeeded */
	uint64_t populate_enodev;	/* ENODEV with the vdev removed around the call */
	uint64_t bad_populate;	/* any other result */
};

/* The grower's counters, for one round. */
struct gstat {
	uint64_t stores;	/* stores that grew (or found grown) the device */
	uint64_t checked;	/* bytes of its pages checked */
	struct signal_counts sig;
	uint64_t short_size;	/* the size short of the page just stored */
	uint64_t lost;		/* a stored word not read back */
	uint64_t done;		/* every step stored */
};

struct shared {
	int stop;
	uint32_t inserted;	/* bumped (and woken) after every INSERT */
	int nr_pids;
	pid_t pids[MAX_VDEVS * PROCS];
	struct vlog log[MAX_VDEVS];
	struct wstat w[MAX_VDEVS][WRITERS];
	struct gstat g;
	uint32_t grow_go;	/* set (and woken) when the grower may start */
	uint64_t minflt;
};

static struct shared *sh;
static int nr_vdevs;

/* The switches made by accesses, from the control node's fdinfo; -1 on error. */
static long ctl_switches(int ctl)
{
	char buf[1024];

	if (read_fdinfo(ctl, buf, sizeof(buf)))
		return -1;
	return fdinfo_field(buf, "vdmux-ctxmgt-switches:\t");
}
/* The bytes the round's grower adds past the reserved size, in how many stores. */
static size_t grow;
static unsigned int steps;
/* Context management is on: the writers' accesses switch too. */
static int ctxmgt;
/* The variant maps PMD blocks with PMD entries. */
static int huge;

static void futex_wait(uint32_t *addr, uint32_t val, long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake_all(uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Workers                                                            */

struct writer {
	unsigned int v, w;
	int fd, ready;
	double deadline;
};

static __thread sigjmp_buf tls_env;
static __thread volatile sig_atomic_t tls_armed;
static __thread volatile sig_atomic_t tls_sig;
static __thread char *volatile tls_map;
static __thread size_t tls_len;

static void worker_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!tls_armed)
		abort();
	/* A fault must be on this thread's own mapping. */
	tls_sig = ((char *)si->si_addr >= tls_map &&
		   (char *)si->si_addr < tls_map + tls_len) ? sig : -sig;
	siglongjmp(tls_env, 1);
}

/* Whether vdev @v was REMOVED at some generation in [g1, g2]. */
static int removed_between(unsigned int v, uint64_t g1, uint64_t g2, double deadline)
{
	struct vlog *log = &sh->log[v];
	uint64_t g;

	/* The controller logs a change right after its ioctl returns. */
	while (__atomic_load_n(&log->published, __ATOMIC_ACQUIRE) < g2) {
		if (now_s() > deadline)
			return -1;
		sched_yield();
	}
	if (g2 - g1 >= RING)
		return -1;
	for (g = g1; g <= g2; g++)
		if (log->state[g % RING] == VDMUX_STATE_REMOVED)
			return 1;
	return 0;
}

/*
 * After the signal tls_sig in an access of vdev @v (open as @fd) that began
 * at generation @gen: counts it in @c (a SIGBUS that a removal in between
 * explains, one that none does, or a state log that did not catch up in
 * time), then waits until the vdev is inserted again (the controller
 * inserts every vdev before it stops). 0 to resume; -1 to give up, on any
 * other signal, a status that cannot be read, or at @deadline.
 */
static int after_signal(struct signal_counts *c, unsigned int v, int fd, uint64_t gen,
			double deadline)
{
	struct vdmux_status s;

	if (tls_sig != SIGBUS || get_status(fd, &s)) {
		c->bad_signal++;
		return -1;
	}
	switch (removed_between(v, gen, s.generation, now_s() + 10)) {
	case 1:
		c->sigbus++;
		break;
	case 0:
		c->bad_sigbus++;
		break;
	default:
		c->timeouts++;
	}
	for (;;) {
		uint32_t ins = __atomic_load_n(&sh->inserted, __ATOMIC_ACQUIRE);

		if (get_status(fd, &s) || s.state != VDMUX_STATE_REMOVED)
			return 0;
		if (now_s() > deadline) {
			c->timeouts++;
			return -1;
		}
		futex_wait(&sh->inserted, ins, 100);
	}
}

static void *writer_thread(void *arg)
{
	struct writer *wr = arg;
	struct wstat *st = &sh->w[wr->v][wr->w];
	const size_t lo = wr->w * (words / WRITERS), hi = lo + words / WRITERS;
	volatile uint64_t *m;
	uint32_t *seen;
	struct vdmux_status s;
	volatile uint64_t gen = 0;
	volatile uint32_t seq = 0, pending = 0;
	volatile size_t i;
	volatile int phase;
	uint64_t val;
	size_t j;

	seen = calloc(words, sizeof(*seen));
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, wr->fd, 0);
	if (m == MAP_FAILED || !seen) {
		st->sig.bad_signal++;
		if (write(wr->ready, "E", 1) != 1)
			abort();
		return NULL;
	}
	tls_map = (char *)m;
	tls_len = size;
	if (write(wr->ready, "r", 1) != 1)
		abort();

	i = lo;
	/* 0: start a pass, 4: check own (the last pass's writes), 1: write, 2: check own, 3: others */
	phase = 0;
	if (sigsetjmp(tls_env, 1)) {
		tls_armed = 0;
		if (after_signal(&st->sig, wr->v, wr->fd, gen, wr->deadline))
			goto out;
		/* A write pass resumes where it stopped, the checks start over. */
		if (phase == 2 || phase == 4)
			i = lo;
		if (phase == 3)
			phase = 0;
	}
	for (;;) {
		if (phase == 0) {
			if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
				break;
			i = lo;
			phase = 4;
			if (st->passes % 4 == 0 && (!huge || wr->w == 0)) {
				/* Populate the block: 0, or ENODEV while removed. */
				uint64_t g1;
				int ret;

				if (get_status(wr->fd, &s)) {
					st->sig.bad_signal++;
					break;
				}
				g1 = s.generation;
				ret = populate(wr->fd, m + lo, (hi - lo) * 8);
				if (get_status(wr->fd, &s)) {
					st->sig.bad_signal++;
					break;
				}
				if (!ret)
					st->populates++;
				else if (ret == -ENODEV &&
					 removed_between(wr->v, g1, s.generation, now_s() + 10) == 1)
					st->populate_enodev++;
				else
					st->bad_populate++;
			}
		}
/* The generation before any access of a chunk: SIGBUS in it is judged from there. */
#define NEW_CHUNK(k)                                           \
		do {                                           \
			if ((k) % CHUNK == 0) {                \
				if (get_status(wr->fd, &s)) {  \
					st->sig.bad_signal++;      \
					goto out;              \
				}                              \
				gen = s.generation;            \
			}                                      \
		} while (0)
		if (get_status(wr->fd, &s)) {
			st->sig.bad_signal++;
			break;
		}
		gen = s.generation;
		tls_armed = 1;
		if (phase == 4) {
			/* Its block still holds its last pass: no write lost since the read-back. */
			for (; i < hi; i++) {
				uint64_t want = seq ? sig(wr->v, wr->w, i, seq) : sig(wr->v, INIT_WRITER, i, 0);

				NEW_CHUNK(i);
				val = m[i];
				if (val == want)
					continue;
				if (sig_magic(val) == MAGIC && sig_vdev(val) != wr->v)
					st->cross++;
				else
					st->lost++;
			}
			st->bytes += (hi - lo) * 8;
			pending = seq + 1;
			i = lo;
			phase = 1;
		}
		if (phase == 1) {
			for (; i < hi; i++) {
				NEW_CHUNK(i);
				m[i] = sig(wr->v, wr->w, i, pending);
			}
			seq = pending;
			__atomic_store_n(&st->seq, seq, __ATOMIC_RELEASE);
			i = lo;
			phase = 2;
		}
		if (phase == 2) {
			for (; i < hi; i++) {
				NEW_CHUNK(i);
				val = m[i];
				if (val == sig(wr->v, wr->w, i, seq))
					continue;
				if (sig_magic(val) == MAGIC && sig_vdev(val) != wr->v)
					st->cross++;
				else
					st->lost++;
			}
			st->bytes += (hi - lo) * 8;
			phase = 3;
		}
		for (j = 0; j < words; j++) {
			unsigned int vv, ww;
			uint32_t sq;

			if (j == lo) {
				j = hi - 1;
				continue;
			}
			NEW_CHUNK(j);
			val = m[j];
			vv = sig_vdev(val);
			ww = sig_writer(val);
			sq = sig_seq(val);
			if (sig_magic(val) != MAGIC) {
				st->corrupt++;
			} else if (vv != wr->v) {
				st->cross++;
			} else if (sig_index(val) != j) {
				st->misplaced++;
			} else if (ww == INIT_WRITER) {
				if (sq || seen[j])
					st->stale++;
			} else if (ww != owner(j)) {
				st->corrupt++;
			} else if (sq < seen[j]) {
				st->stale++;
			} else {
				seen[j] = sq;
			}
		}
		tls_armed = 0;
		st->bytes += (words - (hi - lo)) * 8;
		st->passes++;
		phase = 0;
	}
out:
	tls_armed = 0;
	munmap((void *)m, size);
	free(seen);
	return NULL;
}

/* One worker process: THREADS writers on vdev @v, each with its own mapping. */
static void worker_process(unsigned int v, unsigned int p, int ready, double deadline)
{
	struct sigaction sa = { .sa_sigaction = worker_signal, .sa_flags = SA_SIGINFO };
	struct writer wr[THREADS];
	pthread_t tid[THREADS];
	struct rusage ru;
	int fd, t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * Sixteen busy writers would starve the controller on a small guest:
	 * they run at the lowest priority, so that it changes state often.
	 */
	if (setpriority(PRIO_PROCESS, 0, 19))
		_exit(5);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	fd = open_vdev(v, O_RDWR);
	if (fd < 0)
		_exit(3);
	for (t = 0; t < THREADS; t++) {
		wr[t] = (struct writer){ .v = v, .w = p * THREADS + t, .fd = fd,
					 .ready = ready, .deadline = deadline };
		if (pthread_create(&tid[t], NULL, writer_thread, &wr[t]))
			_exit(4);
	}
	for (t = 0; t < THREADS; t++)
		pthread_join(tid[t], NULL);
	getrusage(RUSAGE_SELF, &ru);
	__atomic_add_fetch(&sh->minflt, ru.ru_minflt, __ATOMIC_RELAXED);
	_exit(0);
}

/*
 * The grower: vdev @v's next @grow bytes past the reserved size, mapped
 * with autogrow; the last page of each of its `steps` parts stored in
 * order (each store grows the device to that page's end), read back, and
 * re-checked until the round stops. SIGBUS is judged as for the writers;
 * after one, the step is done again once the vdev is back.
 */
static void grower_process(unsigned int v, int ready, double deadline)
{
	struct sigaction sa = { .sa_sigaction = worker_signal, .sa_flags = SA_SIGINFO };
	const size_t step = grow / steps, base = size / 8;
	struct gstat *g = &sh->g;
	volatile uint64_t *m;
	volatile uint64_t gen = 0;
	volatile unsigned int k = 0;
	struct vdmux_status s;
	uint64_t got;
	size_t first, j;
	unsigned int c;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setpriority(PRIO_PROCESS, 0, 19))
		_exit(5);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	fd = open_vdev(v, O_RDWR);
	m = MAP_FAILED;
	if (fd >= 0 && !set_autogrow(fd, 1))
		m = mmap(NULL, grow, PROT_READ | PROT_WRITE, MAP_SHARED, fd, size);
	if (m == MAP_FAILED) {
		g->sig.bad_signal++;
		if (write(ready, "E", 1) != 1)
			abort();
		_exit(3);
	}
	tls_map = (char *)m;
	tls_len = grow;
	if (write(ready, "r", 1) != 1)
		abort();
	/* The controller lets it start once the writers have faulted their mappings. */
	while (!__atomic_load_n(&sh->grow_go, __ATOMIC_ACQUIRE)) {
		if (now_s() > deadline) {
			g->sig.timeouts++;
			_exit(0);
		}
		futex_wait(&sh->grow_go, 0, 100);
	}

	if (sigsetjmp(tls_env, 1)) {
		tls_armed = 0;
		if (after_signal(&g->sig, v, fd, gen, deadline))
			_exit(0);
	}
	/* The steps, and after them re-checks until the round stops. */
	for (;;) {
		if (k >= steps && __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
			break;
		if (now_s() > deadline) {
			g->sig.timeouts++;
			break;
		}
		if (get_status(fd, &s)) {
			g->sig.bad_signal++;
			break;
		}
		gen = s.generation;
		tls_armed = 1;
		if (k < steps) {
			first = ((k + 1) * step - PAGE) / 8;
			for (j = first; j < first + PAGE / 8; j++)
				m[j] = sig(v, GROWER, base + j, 1);
		}
		for (c = 0; c < steps && c <= k; c++) {
			first = ((c + 1) * step - PAGE) / 8;
			for (j = first; j < first + PAGE / 8; j++)
				g->lost += m[j] != sig(v, GROWER, base + j, 1);
			g->checked += PAGE;
		}
		tls_armed = 0;
		if (k < steps) {
			if (ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &got) ||
			    got < size + (k + 1) * step)
				g->short_size++;
			g->stores++;
			k++;
		}
	}
	tls_armed = 0;
	g->done = k >= steps;
	munmap((void *)m, grow);
	_exit(0);
}

/* ------------------------------------------------------------------ */
/* Controller                                                         */

struct totals {
	uint64_t switches, ejects, inserts, refused, resizes, busy, rounds;
	uint64_t grows;		/* SET_RESERVED_SIZE that grew while mapped */
	uint64_t grown_bad;	/* rounds whose grown bytes or size were wrong */
	uint64_t grower_stores, grower_checked;
	uint64_t model_errors;	/* an ioctl result or status the model did not predict */
	uint64_t final_bytes, final_lost, io_cross, io_misplaced;
	double busy_s;		/* time spent with workers running */
};

struct model {
	int *fd;		/* an open file of each vdev, for GET_STATUS */
	uint32_t state[MAX_VDEVS];
	uint64_t gen[MAX_VDEVS];
	uint32_t fg;
};

static void log_state(unsigned int v, uint64_t gen, uint32_t state)
{
	sh->log[v].state[gen % RING] = state;
	__atomic_store_n(&sh->log[v].published, gen, __ATOMIC_RELEASE);
}

/* Reads every vdev's state into the model and the log. */
static int model_load(struct model *md, int *fd)
{
	struct vdmux_status st;
	int v;

	md->fd = fd;
	for (v = 0; v < nr_vdevs; v++) {
		if (get_status(fd[v], &st))
			return -1;
		md->state[v] = st.state;
		md->gen[v] = st.generation;
		md->fg = st.foreground;
		log_state(v, st.generation, st.state);
	}
	return 0;
}

/*
 * With context management on, the writers' accesses switch as well: the
 * generations of @v since the model's are read, and logged; only the
 * controller ejects and inserts, and logs its own changes right away, so
 * every generation in between that it did not log is one of a vdev that
 * was not removed.
 */
static void model_sync(struct model *md, unsigned int v, struct totals *tt)
{
	struct vdmux_status st;
	uint64_t g;

	if (get_status(md->fd[v], &st) || st.generation < md->gen[v]) {
		tt->model_errors++;
		return;
	}
	for (g = md->gen[v] + 1; g < st.generation; g++)
		sh->log[v].state[g % RING] = VDMUX_STATE_BACKGROUND;
	md->gen[v] = st.generation;
	md->state[v] = st.state;
	if (st.state == VDMUX_STATE_FOREGROUND)
		md->fg = v;
	else if (md->fg == v)
		md->fg = VDMUX_NONE;
	log_state(v, st.generation, st.state);
}

static void model_sync_all(struct model *md, struct totals *tt)
{
	int v;

	for (v = 0; v < nr_vdevs; v++)
		model_sync(md, v, tt);
}

/* The model that wait_workers() keeps in step while the writers switch. */
static struct model *syncing;
static struct totals *syncing_tt;

/*
 * One state change of @v made by the controller: bump, check, log. With
 * context management on, an access may have switched @v since: it must only
 * be removed when the change removed it, and not otherwise.
 */
static void model_change(struct model *md, unsigned int v, uint32_t state, struct totals *tt)
{
	struct vdmux_status st;

	if (ctxmgt) {
		model_sync(md, v, tt);
		if ((md->state[v] == VDMUX_STATE_REMOVED) != (state == VDMUX_STATE_REMOVED))
			tt->model_errors++;
		if (state == VDMUX_STATE_BACKGROUND) {
			__atomic_add_fetch(&sh->inserted, 1, __ATOMIC_RELEASE);
			futex_wake_all(&sh->inserted);
		}
		return;
	}
	md->state[v] = state;
	md->gen[v]++;
	if (get_status(md->fd[v], &st) || st.state != state || st.generation != md->gen[v])
		tt->model_errors++;
	log_state(v, md->gen[v], state);
	if (state == VDMUX_STATE_BACKGROUND) {
		__atomic_add_fetch(&sh->inserted, 1, __ATOMIC_RELEASE);
		futex_wake_all(&sh->inserted);
	}
}

/*
 * A random SWITCH, EJECT or INSERT, checked against the model: half are
 * switches, a quarter ejects, a quarter inserts (mostly of a removed vdev,
 * so that SIGBUS windows stay short); the refused ones must fail with the
 * documented errno.
 */
static void random_op(int ctl, struct rng *r, struct model *md, struct totals *tt)
{
	unsigned int v = rng_below(r, nr_vdevs), k, nremoved = 0, removed[MAX_VDEVS];
	uint32_t op = rng_below(r, 8);
	int ret, want;

	for (k = 0; k < (unsigned int)nr_vdevs; k++)
		if (md->state[k] == VDMUX_STATE_REMOVED)
			removed[nremoved++] = k;
	if (op == 6 && nremoved)
		v = removed[rng_below(r, nremoved)];
	if (op < 4) {
		want = md->state[v] == VDMUX_STATE_REMOVED ? -ENODEV : 0;
		ret = vdmux_ioc(ctl, VDMUX_IOC_SWITCH, v);
		if (ret != want) {
			tt->model_errors++;
		} else if (ret) {
			tt->refused++;
		} else if (ctxmgt) {
			/* Both vdevs of the switch, and whatever accesses switched. */
			model_sync_all(md, tt);
			if (md->state[v] == VDMUX_STATE_REMOVED)
				tt->model_errors++;
			tt->switches++;
		} else if (md->state[v] != VDMUX_STATE_FOREGROUND) {
			/* (a switch to the foreground is a no-op: no generation moves) */
			if (md->fg != VDMUX_NONE)
				model_change(md, md->fg, VDMUX_STATE_BACKGROUND, tt);
			model_change(md, v, VDMUX_STATE_FOREGROUND, tt);
			md->fg = v;
			tt->switches++;
		}
	} else if (op < 6) {
		want = md->state[v] == VDMUX_STATE_REMOVED ? -EINVAL : 0;
		ret = vdmux_ioc(ctl, VDMUX_IOC_EJECT, v);
		if (ret != want) {
			tt->model_errors++;
		} else if (ret) {
			tt->refused++;
		} else {
			if (md->fg == v)
				md->fg = VDMUX_NONE;
			model_change(md, v, VDMUX_STATE_REMOVED, tt);
			tt->ejects++;
		}
	} else {
		want = md->state[v] == VDMUX_STATE_REMOVED ? 0 : -EINVAL;
		ret = vdmux_ioc(ctl, VDMUX_IOC_INSERT, v);
		if (ret != want) {
			tt->model_errors++;
		} else if (ret) {
			tt->refused++;
		} else {
			model_change(md, v, VDMUX_STATE_BACKGROUND, tt);
			tt->inserts++;
		}
	}
}

/*
 * While the round's mappings exist: SET_RESERVED_SIZE one page larger (up
 * to the grower's end, never past it), which must succeed, or fail with
 * EBUSY only when a growth had already reached that size; or a shrink below
 * the round's size, always EBUSY.
 */
static void resize_while_mapped(int ctl, struct rng *r, struct totals *tt)
{
	uint64_t cur = 0, target, after = 0;
	int ret;

	if (rng_below(r, 2)) {
		target = size - PAGE * (1 + rng_below(r, 4));
		ret = vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&target);
		if (ret != -EBUSY)
			tt->model_errors++;
		else
			tt->busy++;
		return;
	}
	if (ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &cur) || cur < size) {
		tt->model_errors++;
		return;
	}
	if (cur >= size + grow)
		return;
	target = cur + PAGE;
	ret = vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&target);
	if (ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &after))
		tt->model_errors++;
	else if (ret ? !(ret == -EBUSY && after >= target) : after < target)
		tt->model_errors++;
	else if (!ret)
		tt->grows++;
}

/*
 * After the round, nothing mapped: the size is exactly the grower's end,
 * and past the round's size vdev @gv holds the grower's pages and zeroes,
 * every other vdev zeroes. Then the size goes back to the round's.
 */
static void check_grown(int ctl, int *fd, unsigned int gv, char *buf, struct totals *tt)
{
	const size_t step = grow / steps;
	uint64_t got = 0, *w = (uint64_t *)buf;
	size_t k, j;
	int v, bad = 0;

	if (ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &got) || got != size + grow)
		bad++;
	for (v = 0; v < nr_vdevs && !bad; v++) {
		if (pread(fd[v], buf, grow, size) != (ssize_t)grow) {
			bad++;
			break;
		}
		for (k = 0; k < grow / 8; k++) {
			j = k * 8 % step;
			if ((unsigned int)v == gv && j >= step - PAGE) {
				if (w[k] != sig(v, GROWER, size / 8 + k, 1))
					bad++;
			} else if (w[k]) {
				bad++;
			}
		}
		tt->final_bytes += grow;
	}
	tt->grown_bad += !!bad;
	if (set_reserved(size))
		tt->model_errors++;
}

static void insert_all(int ctl, struct model *md, struct totals *tt)
{
	int v;

	for (v = 0; v < nr_vdevs; v++) {
		if (md->state[v] != VDMUX_STATE_REMOVED)
			continue;
		if (vdmux_ioc(ctl, VDMUX_IOC_INSERT, v)) {
			tt->model_errors++;
			continue;
		}
		model_change(md, v, VDMUX_STATE_BACKGROUND, tt);
		tt->inserts++;
	}
}

/*
 * read(2) path: ENODEV exactly when the model says the vdev is removed (the
 * controller alone changes states), else a random window that carries only
 * the vdev's signatures, each for its own word.
 */
static void check_by_read(int *fd, struct rng *r, const struct model *md, struct totals *tt)
{
	static uint64_t buf[512];
	unsigned int v = rng_below(r, nr_vdevs);
	size_t first = rng_below(r, words - 512), k;
	ssize_t n = pread(fd[v], buf, sizeof(buf), first * 8);

	if (md->state[v] == VDMUX_STATE_REMOVED) {
		if (n != -1 || errno != ENODEV)
			tt->model_errors++;
		return;
	}
	if (n != sizeof(buf)) {
		tt->model_errors++;
		return;
	}
	for (k = 0; k < 512; k++)
		if (sig_magic(buf[k]) != MAGIC || sig_vdev(buf[k]) != v)
			tt->io_cross++;
		else if (sig_index(buf[k]) != first + k)
			tt->io_misplaced++;
}

/* Gives every vdev the round's initial content; @buf holds @size bytes. */
static int init_content(int *fd, uint64_t *buf)
{
	int v;
	size_t k;

	for (v = 0; v < nr_vdevs; v++) {
		for (k = 0; k < words; k++)
			buf[k] = sig(v, INIT_WRITER, k, 0);
		if (pwrite(fd[v], buf, size, 0) != (ssize_t)size)
			return -1;
	}
	return 0;
}

/* What vdev @v must hold now: each writer's last complete pass. */
static void expected_content(unsigned int v, uint64_t *buf)
{
	size_t k;

	for (k = 0; k < words; k++) {
		uint64_t seq = sh->w[v][owner(k)].seq;

		buf[k] = seq ? sig(v, owner(k), k, seq) : sig(v, INIT_WRITER, k, 0);
	}
}

/*
 * Compares @len bytes of every vdev at offset 0 with its expected words in
 * @exp, zero past @keep; @buf holds @len bytes.
 */
static uint64_t verify_all(int *fd, const uint64_t *exp, size_t len, size_t keep, char *buf,
			   struct totals *tt)
{
	uint64_t bad = 0;
	int v;

	for (v = 0; v < nr_vdevs; v++) {
		memset(buf, 0x5a, len);
		if (pread(fd[v], buf, len, 0) != (ssize_t)len) {
			bad++;
			continue;
		}
		if (memcmp(buf, exp + v * words, keep < len ? keep : len))
			bad++;
		if (len > keep && !all_zero(buf + keep, len - keep))
			bad++;
		tt->final_bytes += len;
	}
	return bad;
}

/*
 * Between rounds, with nothing mapped: SET_RESERVED_SIZE is refused while
 * one mapping exists, then changes the size (keeping every vdev's bytes up
 * to the smaller size, also those of a removed vdev) and restores it.
 */
static void resize_phase(int ctl, int *fd, struct rng *r, struct model *md,
			 struct totals *tt, const uint64_t *exp, char *buf)
{
	uint64_t other = (1 + rng_below(r, 16)) * PAGE, def = size, got = 0;
	uint64_t smaller = size - (1 + rng_below(r, 4)) * PAGE, larger = size + PAGE;
	unsigned int victim = rng_below(r, nr_vdevs);
	size_t keep = other < size ? other : size;
	char *p;

	/* While a page is mapped: no shrink, but a growth, which keeps every byte. */
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd[rng_below(r, nr_vdevs)], 0);
	if (p == MAP_FAILED || vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE,
					 (unsigned long)&smaller) != -EBUSY)
		tt->model_errors++;
	else
		tt->busy++;
	if (p == MAP_FAILED || vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE,
					 (unsigned long)&larger))
		tt->model_errors++;
	else
		tt->resizes++;
	tt->final_lost += verify_all(fd, exp, larger, size, buf, tt);
	if (p != MAP_FAILED)
		munmap(p, PAGE);

	/* A removed vdev's bytes are resized too. */
	if (!vdmux_ioc(ctl, VDMUX_IOC_EJECT, victim)) {
		if (md->fg == victim)
			md->fg = VDMUX_NONE;
		model_change(md, victim, VDMUX_STATE_REMOVED, tt);
		tt->ejects++;
	} else {
		tt->model_errors++;
	}
	if (vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&other))
		tt->model_errors++;
	/* (nothing is mapped: the shrink works) */
	ioctl(ctl, VDMUX_IOC_GET_RESERVED_SIZE, &got);
	if (got != other)
		tt->model_errors++;
	insert_all(ctl, md, tt);
	tt->final_lost += verify_all(fd, exp, other, keep, buf, tt);

	if (vdmux_ioc(ctl, VDMUX_IOC_SET_RESERVED_SIZE, (unsigned long)&def))
		tt->model_errors++;
	tt->final_lost += verify_all(fd, exp, size, keep, buf, tt);
	tt->resizes += 2;
}

/* Reaps the workers; one still running at @deadline is killed and counted. */
static int wait_workers(double deadline)
{
	int i, status, bad = 0;

	for (i = 0; i < sh->nr_pids; i++) {
		int pidfd = syscall(SYS_pidfd_open, sh->pids[i], 0);
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		double left = deadline - now_s();

		/*
		 * With context management on, the writers' last accesses
		 * switch still: their generations are logged meanwhile, for a
		 * writer that judges a SIGBUS.
		 */
		while (ctxmgt && syncing && pidfd >= 0 && left > 0.05 &&
		       poll(&pfd, 1, 50) == 0) {
			model_sync_all(syncing, syncing_tt);
			left = deadline - now_s();
		}
		if (pidfd < 0 || poll(&pfd, 1, left > 0 ? (int)(left * 1000) : 0) != 1) {
			kill(sh->pids[i], SIGKILL);
			bad++;
		}
		if (pidfd >= 0)
			close(pidfd);
		if (waitpid(sh->pids[i], &status, 0) != sh->pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	sh->nr_pids = 0;
	return bad;
}

static void add_signal_counts(struct signal_counts *total, const struct signal_counts *c)
{
	total->sigbus += c->sigbus;
	total->bad_sigbus += c->bad_sigbus;
	total->bad_signal += c->bad_signal;
	total->timeouts += c->timeouts;
}

static void add_stats(struct wstat *total, const struct wstat *s)
{
	total->passes += s->passes;
	total->bytes += s->bytes;
	add_signal_counts(&total->sig, &s->sig);
	total->cross += s->cross;
	total->corrupt += s->corrupt;
	total->misplaced += s->misplaced;
	total->lost += s->lost;
	total->stale += s->stale;
	total->populates += s->populates;
	total->populate_enodev += s->populate_enodev;
	total->bad_populate += s->bad_populate;
}

static void sum_stats(struct wstat *sum)
{
	int v, w;

	memset(sum, 0, sizeof(*sum));
	for (v = 0; v < nr_vdevs; v++)
		for (w = 0; w < WRITERS; w++)
			add_stats(sum, &sh->w[v][w]);
}

/* Adds the round's grower to the writers' totals, and its own counts to @tt. */
static void add_grower(struct wstat *total, struct totals *tt)
{
	const struct gstat *g = &sh->g;

	add_signal_counts(&total->sig, &g->sig);
	total->sig.bad_signal += !g->done;
	total->lost += g->lost;
	tt->grown_bad += g->short_size;
	tt->grower_stores += g->stores;
	tt->grower_checked += g->checked;
}

FIXTURE(stress)
{
	int ctl;
	int fd[MAX_VDEVS];
};

FIXTURE_VARIANT(stress)
{
	/*
	 * The reserved size of the run and what the grower adds past it in a
	 * round follow from huge: 8 and 16 pages, or one PMD block each.
	 */
	unsigned int steps;	/* in so many stores (each growing the device) */
	double share;		/* of the run's seconds */
	int huge;		/* every writer maps one PMD block with a PMD entry */
	int ctxmgt;		/* context management on, with this hold plus 1 ms */
};

FIXTURE_VARIANT_ADD(stress, pages)
{
	.steps = 16,
	.share = 0.7,
};

/* As pages, with context management on and no hold. */
FIXTURE_VARIANT_ADD(stress, pages_ctxmgt)
{
	.steps = 16,
	.share = 0.4,
	.ctxmgt = 1,
};

/* As pages, with context management on and a hold of 3 ms. */
FIXTURE_VARIANT_ADD(stress, pages_ctxmgt_hold)
{
	.steps = 16,
	.share = 0.4,
	.ctxmgt = 4,
};

/* The grower completes a second PMD block, in two growths of half a block. */
FIXTURE_VARIANT_ADD(stress, blocks)
{
	.steps = 2,
	.share = 0.3,
	.huge = 1,
};

FIXTURE_SETUP(stress)
{
	struct vdmux_status st;
	int v;

	self->ctl = -1;
	ASSERT_EQ(0, reset_device());
	if (variant->huge && !chunks_hold_pmd())
		SKIP(return, NO_PMD_CHUNKS_FMT, NO_PMD_CHUNKS_ARGS);
	/* 32 KiB and 64 KiB with 4 KiB pages. */
	size = variant->huge ? PMD_BLOCK : 8 * PAGE;
	grow = variant->huge ? PMD_BLOCK : 16 * PAGE;
	steps = variant->steps;
	huge = variant->huge;
	ctxmgt = variant->ctxmgt;
	words = size / 8;
	ASSERT_EQ(0, set_reserved(size));
	ASSERT_EQ(0, status_of(-1, &st));
	ASSERT_LE(st.nr_vdevs, MAX_VDEVS);
	nr_vdevs = st.nr_vdevs;
	self->ctl = open(CTL_PATH, O_RDWR);
	ASSERT_LE(0, self->ctl);
	for (v = 0; v < nr_vdevs; v++) {
		self->fd[v] = open_vdev(v, O_RDWR);
		ASSERT_LE(0, self->fd[v]);
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
}

FIXTURE_TEARDOWN(stress)
{
	int v;

	if (!sh || sh == MAP_FAILED)
		return;
	/* After a failed assertion: stop and reap the workers first. */
	syncing = NULL;
	if (sh->nr_pids) {
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
		for (v = 0; v < nr_vdevs; v++)
			vdmux_ctl(VDMUX_IOC_INSERT, v);
		__atomic_add_fetch(&sh->inserted, 1, __ATOMIC_RELEASE);
		futex_wake_all(&sh->inserted);
		__atomic_store_n(&sh->grow_go, 1, __ATOMIC_RELEASE);
		futex_wake_all(&sh->grow_go);
		wait_workers(now_s() + 30);
	}

	close(self->ctl);
	for (v = 0; v < nr_vdevs; v++)
		close(self->fd[v]);
	munmap(sh, sizeof(*sh));
	reset_device();
}

TEST_F(stress, isolation)
{
	const double seconds = opt_seconds * variant->share;
	const double start = now_s(), end = start + seconds;
	const double round_len = seconds < 8 ? 2 : seconds / 4.0 < 5 ? seconds / 4.0 : 5;
	uint64_t *exp = calloc(MAX_VDEVS * words, sizeof(*exp));
	/* Room for the run's size plus a page, for resize_phase()'s, and the growth. */
	char *buf = malloc((size > 16 * PAGE ? size : 16 * PAGE) + grow + PAGE);
	struct fault_counts faults[2];
	long access_switches[2] = { 0, 0 };
	struct totals tt = { 0 };
	struct wstat ws = { 0 }, round;
	struct model md;
	struct rng r;
	uint64_t seed = (uint64_t)getpid() << 32 ^ (uint64_t)(start * 1e6);
	int ready[2], v, p;
	char c;

	ASSERT_NE(NULL, exp);
	ASSERT_NE(NULL, buf);
	rng_seed(&r, seed);
	ksft_print_msg("stress: controller seed %#llx\n", (unsigned long long)seed);
	ASSERT_EQ(0, model_load(&md, self->fd));
	if (ctxmgt) {
		struct vdmux_ctxmgt cm = { .enable = 1, .timeout_ms = variant->ctxmgt - 1 };

		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_CTXMGT, (unsigned long)&cm));
		access_switches[0] = ctl_switches(self->ctl);
		syncing = &md;
		syncing_tt = &tt;
	}
	faults[0] = fault_counts(self->fd[0]);
	while (now_s() < end) {
		unsigned int gv = tt.rounds % nr_vdevs;
		double round_end, t0, grow_at;
		int got = 0;
		pid_t gpid;

		ASSERT_EQ(0, init_content(self->fd, (uint64_t *)buf));
		memset(sh->w, 0, sizeof(sh->w));
		memset(&sh->g, 0, sizeof(sh->g));
		__atomic_store_n(&sh->grow_go, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&sh->stop, 0, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pipe(ready));
		fflush(stdout);
		fflush(stderr);
		for (v = 0; v < nr_vdevs; v++)
			for (p = 0; p < PROCS; p++) {
				pid_t pid = fork();

				ASSERT_LE(0, pid);
				if (pid == 0) {
					close(ready[0]);
					worker_process(v, p, ready[1], end + 60);
				}
				sh->pids[sh->nr_pids++] = pid;
			}
		gpid = fork();
		ASSERT_LE(0, gpid);
		if (gpid == 0) {
			close(ready[0]);
			grower_process(gv, ready[1], end + 60);
		}
		sh->pids[sh->nr_pids++] = gpid;
		close(ready[1]);
		/* Every thread and the grower have mapped before the first state change. */
		while (got < nr_vdevs * PROCS * THREADS + 1) {
			struct pollfd pfd = { .fd = ready[0], .events = POLLIN };

			ASSERT_EQ(1, poll(&pfd, 1, 30000));
			ASSERT_EQ(1, read(ready[0], &c, 1));
			ASSERT_EQ('r', c);
			got++;
		}
		close(ready[0]);

		/* The round's time counts from when every writer is running. */
		t0 = now_s();
		round_end = t0 + round_len;
		/* Growth starts half way: the writers' first faults met whole PMD blocks. */
		grow_at = t0 + round_len / 2;
		while (now_s() < round_end) {
			double pause = rng_below(&r, 300) * 1e-6;

			if (!sh->grow_go && now_s() >= grow_at) {
				__atomic_store_n(&sh->grow_go, 1, __ATOMIC_RELEASE);
				futex_wake_all(&sh->grow_go);
			}
			random_op(self->ctl, &r, &md, &tt);
			if (ctxmgt)
				model_sync_all(&md, &tt);
			if (rng_below(&r, 8) == 0)
				check_by_read(self->fd, &r, &md, &tt);
			if (sh->grow_go && rng_below(&r, 64) == 0)
				resize_while_mapped(self->ctl, &r, &tt);
			/*
			 * Random spacing, so that changes land at every point
			 * of a pass; spun rather than slept, as a wakeup can
			 * wait for the next tick on a busy guest.
			 */
			for (pause += now_s(); now_s() < pause;)
				;
		}
		insert_all(self->ctl, &md, &tt);
		/* (a round too short to reach grow_at still grows, after the changes) */
		__atomic_store_n(&sh->grow_go, 1, __ATOMIC_RELEASE);
		futex_wake_all(&sh->grow_go);
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
		EXPECT_EQ(0, wait_workers(now_s() + 60));
		tt.busy_s += now_s() - t0;

		/* No write lost: each vdev holds what its writers wrote last. */
		for (v = 0; v < nr_vdevs; v++)
			expected_content(v, exp + v * words);
		tt.final_lost += verify_all(self->fd, exp, size, size, buf, &tt);
		sum_stats(&round);
		add_stats(&ws, &round);
		add_grower(&ws, &tt);
		check_grown(self->ctl, self->fd, gv, buf, &tt);
		resize_phase(self->ctl, self->fd, &r, &md, &tt, exp, buf);
		tt.rounds++;
	}
	faults[1] = fault_counts(self->fd[0]);
	if (ctxmgt) {
		struct vdmux_ctxmgt off = { 0 };

		access_switches[1] = ctl_switches(self->ctl);
		ASSERT_EQ(0, vdmux_ioc(self->ctl, VDMUX_IOC_SET_CTXMGT, (unsigned long)&off));
		syncing = NULL;
		ksft_print_msg("context management: hold %d ms, %ld switches by accesses\n",
			       variant->ctxmgt - 1, access_switches[1] - access_switches[0]);
		EXPECT_LT(0, access_switches[1] - access_switches[0]);
	}

	ksft_print_msg("stress: %.1f s, %llu rounds, %d vdevs x %d processes x %d threads\n",
		       now_s() - start, (unsigned long long)tt.rounds, nr_vdevs, PROCS, THREADS);
	ksft_print_msg("state changes: %llu switches, %llu ejects, %llu inserts: %.0f/s while mapped; %llu refused as predicted\n",
		       (unsigned long long)tt.switches, (unsigned long long)tt.ejects,
		       (unsigned long long)tt.inserts,
		       (tt.switches + tt.ejects + tt.inserts) / (tt.busy_s > 0 ? tt.busy_s : 1),
		       (unsigned long long)tt.refused);
	ksft_print_msg("resizes: %llu, of which grew while mapped: %llu, EBUSY while mapped: %llu\n",
		       (unsigned long long)tt.resizes, (unsigned long long)tt.grows,
		       (unsigned long long)tt.busy);
	ksft_print_msg("growth: %llu autogrow stores by the growers, %llu bytes of theirs checked, %llu wrong rounds\n",
		       (unsigned long long)tt.grower_stores, (unsigned long long)tt.grower_checked,
		       (unsigned long long)tt.grown_bad);
	ksft_print_msg("populates: %llu, ENODEV while removed: %llu, wrong: %llu\n",
		       (unsigned long long)ws.populates, (unsigned long long)ws.populate_enodev,
		       (unsigned long long)ws.bad_populate);
	ksft_print_msg("writer passes: %llu, page faults (minflt): %llu, SIGBUS while removed: %llu\n",
		       (unsigned long long)ws.passes, (unsigned long long)sh->minflt,
		       (unsigned long long)ws.sig.sigbus);
	ksft_print_msg("vdev 0 faults served: %ld with single pages, %ld with PMD entries\n",
		       faults[1].pages - faults[0].pages, faults[1].huge - faults[0].huge);
	ksft_print_msg("bytes verified: %llu through mappings, %llu through read(2)\n",
		       (unsigned long long)ws.bytes, (unsigned long long)tt.final_bytes);
	ksft_print_msg("cross-vdev reads: %llu (read(2): %llu), corrupt words: %llu, stale words: %llu\n",
		       (unsigned long long)ws.cross, (unsigned long long)tt.io_cross,
		       (unsigned long long)ws.corrupt, (unsigned long long)ws.stale);
	ksft_print_msg("misplaced words: %llu (read(2): %llu)\n",
		       (unsigned long long)ws.misplaced, (unsigned long long)tt.io_misplaced);
	ksft_print_msg("lost writes: %llu in flight, %llu wrong final contents\n",
		       (unsigned long long)ws.lost, (unsigned long long)tt.final_lost);
	ksft_print_msg("unexplained SIGBUS: %llu, other signals: %llu, wait timeouts: %llu, model errors: %llu\n",
		       (unsigned long long)ws.sig.bad_sigbus, (unsigned long long)ws.sig.bad_signal,
		       (unsigned long long)ws.sig.timeouts, (unsigned long long)tt.model_errors);

	EXPECT_LT(0, tt.switches);
	EXPECT_LT(0, tt.ejects);
	EXPECT_LT(0, ws.passes);
	EXPECT_EQ(0, ws.cross);
	EXPECT_EQ(0, tt.io_cross);
	EXPECT_EQ(0, ws.corrupt);
	EXPECT_EQ(0, ws.misplaced);
	EXPECT_EQ(0, tt.io_misplaced);
	EXPECT_EQ(0, ws.lost);
	EXPECT_EQ(0, ws.stale);
	EXPECT_EQ(0, tt.final_lost);
	EXPECT_EQ(0, ws.sig.bad_sigbus);
	EXPECT_EQ(0, ws.sig.bad_signal);
	EXPECT_EQ(0, ws.sig.timeouts);
	EXPECT_EQ(0, tt.model_errors);
	EXPECT_EQ(0, tt.grown_bad);
	EXPECT_EQ(0, ws.bad_populate);
	EXPECT_LT(0, ws.populates);
	EXPECT_LE(tt.rounds * steps, tt.grower_stores);
	/* The blocks variant maps with PMD entries, the pages variant cannot. */
	EXPECT_EQ(variant->huge, faults[1].huge - faults[0].huge > 0);
	free(exp);
	free(buf);
}

int main(int argc, char **argv)
{
	opt_seconds = take_option(&argc, argv, "--seconds", "VDMUX_STRESS_SECONDS", 10);
	set_test_timeouts(opt_seconds + 120);
	return test_harness_run(argc, argv);
}
