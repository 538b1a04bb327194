// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded syscall fuzzer: random sequences of open, ioctl, mmap, munmap,
 * mremap, mprotect, madvise, memory accesses, read, write, lseek, fork and
 * close on every vdmux node, with random and hostile arguments, from
 * several processes while another one changes states. It passes when the
 * kernel log stays clean (the harness checks it), no call fails with an
 * errno the call cannot return, and afterwards the module unloads and the
 * device passes a functional check.
 *
 * Each fuzzing process draws its choices from seed + its index, so
 * "--seed S --procs 1 --control 0" replays one sequence exactly.
 *
 *	fuzz_test [--seed S] [--count N] [--seconds T] [--procs P] [--control 0|1]
 *	(or VDMUX_FUZZ_SEED, _COUNT, _SECONDS, _PROCS; defaults: random seed,
 *	 150000 syscalls, 12 s, 2 processes, control on)
 */
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define PAGE 4096UL
#define MAX_PROCS 8
#define NFDS 24
#define NMAPS 48
#define SLOT (2UL << 20)		/* one arena slot: room for any mapping we make */
#define ARENA (NMAPS * SLOT)	/* plus one slot that stays PROT_NONE, past which */
				/* no pointer we hand the kernel can reach */
#define SCRATCH (64 * 1024)
#define KERNEL_ADDR 0xffffffff81000000UL

static unsigned long long opt_seed, opt_count = 150000, opt_seconds = 12;
static unsigned long long opt_procs = 2, opt_control = 1;

/* Per fuzzing process, in shared memory so the parent can add them up. */
struct fstat_ {
	uint64_t syscalls, accesses, sigbus, sigsegv, forks, races;
	uint64_t violations;
	char first_violation[160];
};

struct shared {
	struct fstat_ f[MAX_PROCS + 1];	/* the last one is the controller's */
	int stop;
};

static struct shared *sh;
static int nr_vdevs;
static const char *alias_vdev = "/tmp/fuzz-vdmux1", *alias_ctl = "/tmp/fuzz-vdmux";

/* ------------------------------------------------------------------ */
/* One fuzzing process                                                */

enum kind { K_CTL, K_VDEV };

struct fd_slot {
	int fd;
	enum kind kind;
	int vdev;
	int rdwr;
};

struct map_slot {
	char *addr;	/* NULL when free */
	size_t len;
};

struct fuzzer {
	struct rng r;
	struct fstat_ *st;
	struct fd_slot fds[NFDS];
	struct map_slot maps[NMAPS];
	char *arena;
	char *scratch;		/* valid user memory the kernel may write */
	char *ro_page;		/* valid, read-only */
	int mem_fd;		/* /proc/self/mem */
	int pipe[2];
	int in_child;
};

static __thread sigjmp_buf tls_env;
static __thread volatile sig_atomic_t tls_armed, tls_sig;

static void fuzz_signal(int sig)
{
	if (!tls_armed) {
		/* A signal outside a probe: report it as what it is. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	tls_sig = sig;
	siglongjmp(tls_env, 1);
}

static void violation_st(struct fstat_ *st, const char *what, long ret, int err)
{
	if (!st->violations++)
		snprintf(st->first_violation, sizeof(st->first_violation),
			 "%s returned %ld errno %d (%s)", what, ret, err, strerror(err));
}

#define violation(fz, what, ret, err) violation_st((fz)->st, what, ret, err)

/* Whether @err is one of the zero-terminated @ok. */
static int errno_in(int err, const int *ok)
{
	for (; *ok; ok++)
		if (*ok == err)
			return 1;
	return 0;
}

/* A failed call must have failed with one of the listed errnos. */
#define CHECK_ERRNO_ST(st, what, ret, ...) do {					\
	static const int __ok[] = { __VA_ARGS__, 0 };				\
	if ((ret) < 0 && !errno_in(errno, __ok))				\
		violation_st(st, what, (long)(ret), errno);			\
} while (0)
#define CHECK_ERRNO(fz, what, ret, ...) CHECK_ERRNO_ST((fz)->st, what, ret, __VA_ARGS__)

#define SYSCALL(fz, expr) ({ (fz)->st->syscalls++; (expr); })

static uint64_t pick(struct rng *r, const uint64_t *v, size_t n)
{
	return v[rng_below(r, n)];
}

#define PICK(r, ...) ({ static const uint64_t __v[] = { __VA_ARGS__ };		\
	pick(r, __v, sizeof(__v) / sizeof(__v[0])); })

/* One of the open files, now and then none (to try a closed number). */
static struct fd_slot *any_fd(struct fuzzer *fz)
{
	unsigned int i, n = 0, k;

	for (i = 0; i < NFDS; i++)
		n += fz->fds[i].fd >= 0;
	if (!n || rng_below(&fz->r, 32) == 0)
		return NULL;
	k = rng_below(&fz->r, n);
	for (i = 0; i < NFDS; i++)
		if (fz->fds[i].fd >= 0 && !k--)
			return &fz->fds[i];
	return NULL;
}

/* One of the live mappings, now and then none (to try a hole). */
static struct map_slot *any_map(struct fuzzer *fz)
{
	unsigned int i, n = 0, k;

	for (i = 0; i < NMAPS; i++)
		n += !!fz->maps[i].addr;
	if (!n || rng_below(&fz->r, 32) == 0)
		return NULL;
	k = rng_below(&fz->r, n);
	for (i = 0; i < NMAPS; i++)
		if (fz->maps[i].addr && !k--)
			return &fz->maps[i];
	return NULL;
}

/* Puts PROT_NONE back over an arena range, so nothing else lands there. */
static void arena_reserve(struct fuzzer *fz, char *addr, size_t len)
{
	SYSCALL(fz, mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			 MAP_NORESERVE, -1, 0));
}

/*
 * A user pointer for the kernel to read or write @len bytes at: hostile
 * ones, or memory that is ours to lose (scratch, the arena, a mapping).
 */
static char *any_ptr(struct fuzzer *fz, size_t len)
{
	struct map_slot *m;

	switch (rng_below(&fz->r, 10)) {
	case 0:
		return NULL;
	case 1:
		return (char *)KERNEL_ADDR;
	case 2:
		return (char *)PICK(&fz->r, 1, 4095, 0x800000000000UL, -1UL, -4096UL,
				    0xffff888000000000UL, 0x7ffffffff000UL);
	case 3:
		return fz->ro_page;
	case 4:
		return fz->arena + rng_below(&fz->r, ARENA / PAGE) * PAGE;
	case 5:
	case 6:
		m = any_map(fz);
		if (m)
			return m->addr + rng_below(&fz->r, m->len);
		/* fall through */
	default:
		return len <= SCRATCH ? fz->scratch + rng_below(&fz->r, SCRATCH - len + 1)
				      : fz->arena;
	}
}

static size_t any_len(struct rng *r)
{
	return PICK(r, 0, 1, 7, 8, 100, 4095, 4096, 4097, 8192, 32768, 32769, 65536);
}

static off_t any_off(struct rng *r)
{
	return PICK(r, 0, 0, 1, 8, 4095, 4096, 12288, 32760, 32768, 32769, 65536,
		    1UL << 20, 1UL << 40, (uint64_t)INT64_MAX, -1UL, -4096UL);
}

static void op_open(struct fuzzer *fz)
{
	struct fd_slot *s = &fz->fds[rng_below(&fz->r, NFDS)];
	static const char *const extra[] = { "/tmp/fuzz-vdmux1", "/tmp/fuzz-vdmux",
					     "/dev/vdmux64", "/dev/vdmux-1" };
	int which = rng_below(&fz->r, nr_vdevs + 3), flags, fd;
	const char *path;
	char buf[32];

	if (s->fd >= 0) {
		SYSCALL(fz, close(s->fd));
		s->fd = -1;
	}
	if (which < nr_vdevs) {
		snprintf(buf, sizeof(buf), "/dev/vdmux%d", which);
		path = buf;
	} else if (which == nr_vdevs) {
		path = CTL_PATH;
	} else {
		which = rng_below(&fz->r, 4);
		path = extra[which];
	}
	flags = PICK(&fz->r, O_RDONLY, O_RDWR, O_RDWR, O_WRONLY, O_RDWR | O_NONBLOCK,
		     O_RDONLY | O_APPEND, O_RDWR | O_TRUNC, O_RDWR | O_DIRECTORY);
	fd = SYSCALL(fz, open(path, flags | O_CLOEXEC));
	CHECK_ERRNO(fz, "open", fd, ENOENT, ENOTDIR, ENODEV);
	if (fd < 0)
		return;
	s->fd = fd;
	s->rdwr = (flags & O_ACCMODE) == O_RDWR;
	if (!strcmp(path, CTL_PATH) || !strcmp(path, alias_ctl)) {
		s->kind = K_CTL;
		s->vdev = -1;
	} else {
		s->kind = K_VDEV;
		s->vdev = !strcmp(path, alias_vdev) ? 1 : which;
	}
}

static void op_close(struct fuzzer *fz)
{
	struct fd_slot *s = any_fd(fz);
	int ret;

	if (!s)
		return;
	if (rng_below(&fz->r, 4) == 0) {
		/* dup2 over it: the old file is closed under the same number. */
		struct fd_slot *o = any_fd(fz);

		if (o) {
			ret = SYSCALL(fz, dup2(o->fd, s->fd));
			CHECK_ERRNO(fz, "dup2", ret, EBADF);
			if (ret >= 0 && o != s) {
				s->kind = o->kind;
				s->vdev = o->vdev;
				s->rdwr = o->rdwr;
			}
			return;
		}
	}
	ret = SYSCALL(fz, close(s->fd));
	CHECK_ERRNO(fz, "close", ret, EBADF);
	s->fd = -1;
}

static void op_ioctl(struct fuzzer *fz)
{
	static const unsigned long cmds[] = {
		VDMUX_IOC_GET_RESERVED_SIZE, VDMUX_IOC_SET_RESERVED_SIZE, VDMUX_IOC_SWITCH,
		VDMUX_IOC_EJECT, VDMUX_IOC_INSERT, VDMUX_IOC_GET_STATUS,
		/* wrong size, direction, number or type */
		_IOR(VDMUX_IOC_MAGIC, 0x05, __u64), _IOW(VDMUX_IOC_MAGIC, 0x05, struct vdmux_status),
		_IO(VDMUX_IOC_MAGIC, 0x7f), _IO(VDMUX_IOC_MAGIC, 0xff), _IOR('x', 0x00, __u64),
		0, 0xffffffffUL, FIONREAD, TCGETS,
	};
	struct fd_slot *s = any_fd(fz);
	unsigned int ci = rng_below(&fz->r, sizeof(cmds) / sizeof(cmds[0]));
	unsigned long cmd = cmds[ci], arg;
	struct vdmux_status *st = (void *)fz->scratch;
	int ret, err, fd = s ? s->fd : (int)PICK(&fz->r, -1, 1000);
	int by_value = cmd == VDMUX_IOC_SWITCH || cmd == VDMUX_IOC_EJECT || cmd == VDMUX_IOC_INSERT;
	uint64_t size;

	memset(st, 0xa5, sizeof(*st));
	if (by_value) {
		arg = PICK(&fz->r, 0, 1, 2, 3, 4, 63, 64, 0xffffffffUL, 0x100000000UL, -1UL,
			   KERNEL_ADDR);
	} else if (cmd == VDMUX_IOC_SET_RESERVED_SIZE && rng_below(&fz->r, 2)) {
		/* A real size; big ones are rare, they cost a lot of copying. */
		size = PICK(&fz->r, 0, 1, 4096, 5000, 8192, 32768, 32768, 65536, 1UL << 20,
			    2UL << 20, DEFAULT_MAX_RESERVED + 1, -1UL);
		memcpy(fz->scratch, &size, sizeof(size));
		arg = (unsigned long)fz->scratch;
	} else {
		arg = (unsigned long)any_ptr(fz, sizeof(struct vdmux_status));
	}
	ret = SYSCALL(fz, ioctl(fd, cmd, arg));
	err = errno;

	/* The rules that hold whatever the state: */
	if (!s) {
		if (!(ret == -1 && (err == EBADF || err == ENOTTY)))
			violation(fz, "ioctl on a bad fd", ret, err);
		return;
	}
	if (ci >= 6) {
		if (!(ret == -1 && err == ENOTTY))
			violation(fz, "unknown ioctl", ret, err);
		return;
	}
	if (s->kind == K_VDEV && (by_value || cmd == VDMUX_IOC_SET_RESERVED_SIZE)) {
		if (!(ret == -1 && err == ENOTTY))
			violation(fz, "control ioctl on a vdev", ret, err);
		return;
	}
	if ((cmd == VDMUX_IOC_GET_STATUS || cmd == VDMUX_IOC_GET_RESERVED_SIZE) &&
	    arg >= 0x800000000000UL && !(ret == -1 && err == EFAULT))
		violation(fz, "GET_* to a kernel or non-canonical address", ret, err);
	if (cmd == VDMUX_IOC_GET_STATUS && arg == (unsigned long)fz->scratch && ret == 0 &&
	    (st->nr_vdevs != (uint32_t)nr_vdevs || st->state > VDMUX_STATE_CONTROL ||
	     st->reserved_size % PAGE || !st->reserved_size ||
	     st->index != (s->kind == K_CTL ? VDMUX_CONTROL : (uint32_t)s->vdev)))
		violation(fz, "GET_STATUS contents", st->index, st->state);
	if (by_value && arg >= (uint64_t)nr_vdevs && !(ret == -1 && err == EINVAL))
		violation(fz, "control ioctl with a bad index", ret, err);
	CHECK_ERRNO(fz, "ioctl", ret, EFAULT, EINVAL, ENODEV, EBUSY, ENOMEM);
}

static void op_mmap(struct fuzzer *fz)
{
	unsigned int slot = rng_below(&fz->r, NMAPS);
	struct map_slot *m = &fz->maps[slot];
	struct fd_slot *s = any_fd(fz);
	char *want = fz->arena + slot * SLOT, *p;
	size_t len;
	off_t off;
	int prot, flags, fd = s ? s->fd : -1;

	if (rng_below(&fz->r, 4)) {
		/* Mostly mappings that can succeed, so there is something to work on. */
		len = (1 + rng_below(&fz->r, 8)) * PAGE;
		off = rng_below(&fz->r, 9 - len / PAGE) * PAGE;
		if (!rng_below(&fz->r, 8)) {
			/* A whole 2 MiB block: one PMD entry when the buffer has it. */
			len = SLOT;
			off = 0;
		}
		prot = PICK(&fz->r, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
			    PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE);
		flags = PICK(&fz->r, MAP_SHARED, MAP_SHARED, MAP_SHARED, MAP_SHARED_VALIDATE,
			     MAP_SHARED | MAP_POPULATE, MAP_SHARED | MAP_LOCKED,
			     MAP_SHARED | MAP_NORESERVE);
	} else {
		len = PICK(&fz->r, 0, 100, PAGE + 1, 9 * PAGE, 17 * PAGE, 1UL << 20, SLOT,
			   1UL << 40);
		off = (off_t)PICK(&fz->r, 0, 1, 8 * PAGE, 1UL << 20, 1UL << 44, -PAGE,
				  INT64_MAX & ~(PAGE - 1));
		prot = PICK(&fz->r, PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
			    PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC);
		flags = PICK(&fz->r, MAP_SHARED, MAP_PRIVATE, MAP_PRIVATE | MAP_ANONYMOUS,
			     MAP_SHARED_VALIDATE | MAP_SYNC, MAP_SHARED_VALIDATE | 0x40000000,
			     MAP_SHARED | MAP_FIXED_NOREPLACE, MAP_SHARED | MAP_GROWSDOWN,
			     MAP_SHARED | MAP_HUGETLB);
	}
	if (!(flags & MAP_FIXED_NOREPLACE))
		flags |= MAP_FIXED;
	if (len > SLOT) {
		/* Too big for a slot: only where the kernel must refuse it. */
		flags &= ~MAP_FIXED;
		want = NULL;
	}
	p = SYSCALL(fz, mmap(want, len, prot, flags, fd, off));
	if (p == MAP_FAILED) {
		CHECK_ERRNO(fz, "mmap", -1, EINVAL, EACCES, ENOMEM, ENODEV, EBADF, EEXIST,
			    EOPNOTSUPP, EOVERFLOW, EPERM, ENOENT);
		if (flags & MAP_FIXED && len && len <= SLOT) {
			/* A failed MAP_FIXED may have unmapped the slot. */
			arena_reserve(fz, want, SLOT);
			m->addr = NULL;
		}
		return;
	}
	if (!want) {
		/* Only an anonymous mapping can be that big. */
		if (!(flags & MAP_ANONYMOUS))
			violation(fz, "mmap of more than a slot", len, 0);
		SYSCALL(fz, munmap(p, len));
		return;
	}
	if (flags & MAP_ANONYMOUS) {
		/* An anonymous mapping (the fd is ignored): nothing of ours. */
		arena_reserve(fz, want, SLOT);
		m->addr = NULL;
		return;
	}
	if (s && s->kind == K_CTL)
		violation(fz, "mmap of the control node", 0, 0);
	if ((flags & MAP_TYPE) == MAP_PRIVATE)
		violation(fz, "private mmap", prot, flags);
	if (prot & PROT_EXEC)
		violation(fz, "executable mmap", prot, flags);
	m->addr = p;
	m->len = len;
}

static void op_munmap(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	size_t first, n;
	int ret;

	if (!m)
		return;
	/* The whole mapping, or some pages of it (splitting the VMA). */
	first = rng_below(&fz->r, 2) ? 0 : rng_below(&fz->r, m->len / PAGE);
	n = first ? 1 + rng_below(&fz->r, m->len / PAGE - first) : m->len / PAGE;
	ret = SYSCALL(fz, munmap(m->addr + first * PAGE, n * PAGE));
	CHECK_ERRNO(fz, "munmap", ret, EINVAL);
	arena_reserve(fz, m->addr + first * PAGE, n * PAGE);
	if (!first)
		m->addr = NULL;
}

static void op_mremap(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz), *to;
	unsigned int slot = rng_below(&fz->r, NMAPS);
	char *p;

	if (!m)
		return;
	to = &fz->maps[slot];
	switch (rng_below(&fz->r, 4)) {
	case 0: /* shrink */
		if (m->len <= PAGE)
			return;
		p = SYSCALL(fz, mremap(m->addr, m->len, m->len - PAGE, 0));
		if (p == MAP_FAILED) {
			CHECK_ERRNO(fz, "mremap shrink", -1, EFAULT, EINVAL);
			return;
		}
		arena_reserve(fz, m->addr + m->len - PAGE, PAGE);
		m->len -= PAGE;
		return;
	case 1: /* grow: refused, the VMA cannot expand */
		p = SYSCALL(fz, mremap(m->addr, m->len, m->len + PAGE, MREMAP_MAYMOVE));
		if (p != MAP_FAILED) {
			violation(fz, "mremap grew a mapping", 0, 0);
			return;
		}
		CHECK_ERRNO(fz, "mremap grow", -1, EFAULT, EINVAL, ENOMEM);
		return;
	case 2: /* move to another slot */
		if (to == m)
			return;
		p = SYSCALL(fz, mremap(m->addr, m->len, m->len, MREMAP_MAYMOVE | MREMAP_FIXED,
				       fz->arena + slot * SLOT));
		if (p == MAP_FAILED) {
			CHECK_ERRNO(fz, "mremap move", -1, EFAULT, EINVAL, ENOMEM);
			return;
		}
		arena_reserve(fz, m->addr, m->len);
		*to = (struct map_slot){ p, m->len };
		m->addr = NULL;
		return;
	default:
		p = SYSCALL(fz, mremap(m->addr, m->len, m->len,
				       MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
				       fz->arena + slot * SLOT));
		if (p != MAP_FAILED && to != m) {
			/* Not expected for this VMA, but keep track if it happens. */
			*to = (struct map_slot){ p, m->len };
			return;
		}
		CHECK_ERRNO(fz, "mremap dontunmap", -1, EFAULT, EINVAL, ENOMEM);
	}
}

static void op_mprotect(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	size_t first, n;
	int prot, ret;

	if (!m)
		return;
	first = rng_below(&fz->r, m->len / PAGE);
	n = 1 + rng_below(&fz->r, m->len / PAGE - first);
	prot = PICK(&fz->r, PROT_NONE, PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE,
		    PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC);
	ret = SYSCALL(fz, mprotect(m->addr + first * PAGE, n * PAGE, prot));
	CHECK_ERRNO(fz, "mprotect", ret, EACCES, EINVAL, ENOMEM);
}

static void op_madvise(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	size_t first, n;
	int advice, ret;

	if (!m)
		return;
	first = rng_below(&fz->r, m->len / PAGE);
	n = 1 + rng_below(&fz->r, m->len / PAGE - first);
	/* Never MADV_HWPOISON or MADV_SOFT_OFFLINE: they poison real pages. */
	advice = PICK(&fz->r, MADV_DONTNEED, MADV_DONTNEED, MADV_DONTFORK, MADV_DOFORK,
		      MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_REMOVE, MADV_POPULATE_READ,
		      MADV_POPULATE_WRITE, MADV_FREE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT,
		      MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_MERGEABLE, MADV_HUGEPAGE,
		      MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, 24 /* DONTNEED_LOCKED */,
		      25 /* COLLAPSE */, 102 /* GUARD_INSTALL */, 103 /* GUARD_REMOVE */, 77);
	ret = SYSCALL(fz, madvise(m->addr + first * PAGE, n * PAGE, advice));
	/*
	 * POPULATE_* fail with EFAULT on a removed vdev (the fault is
	 * SIGBUS) and EPERM or ENOMEM on a page without the access; REMOVE
	 * is ENODEV on a character device (vfs_fallocate); WILLNEED is EBADF
	 * where the range reaches the anonymous memory around our mappings.
	 */
	CHECK_ERRNO(fz, "madvise", ret, EINVAL, EFAULT, ENOMEM, EPERM, EOPNOTSUPP, EAGAIN,
		    EBUSY, ENOSYS, EIO, EACCES, EHWPOISON, ENODEV, EBADF);
}

/* A read or write of one byte of a mapping (or of a hole in the arena). */
static void op_access(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	volatile char *p = m ? m->addr + rng_below(&fz->r, m->len)
			     : fz->arena + rng_below(&fz->r, ARENA);
	int write = rng_below(&fz->r, 2);
	char c;

	fz->st->accesses++;
	tls_sig = 0;
	if (!sigsetjmp(tls_env, 0)) {
		tls_armed = 1;
		if (write)
			*p = (char)rng_next(&fz->r);
		else
			c = *p;
		(void)c;
	}
	tls_armed = 0;
	if (tls_sig == SIGBUS)
		fz->st->sigbus++;
	else if (tls_sig == SIGSEGV)
		fz->st->sigsegv++;
}

static void op_rw(struct fuzzer *fz)
{
	struct fd_slot *s = any_fd(fz);
	size_t len = any_len(&fz->r);
	char *buf = any_ptr(fz, len);
	off_t off = any_off(&fz->r);
	ssize_t ret;
	int fd = s ? s->fd : -1;

	switch (rng_below(&fz->r, 5)) {
	case 0:
		ret = SYSCALL(fz, read(fd, buf, len));
		break;
	case 1:
		ret = SYSCALL(fz, pread(fd, buf, len, off));
		break;
	case 2:
		ret = SYSCALL(fz, write(fd, buf, len));
		break;
	case 3:
		ret = SYSCALL(fz, pwrite(fd, buf, len, off));
		break;
	default: {
		struct iovec iov[3] = { { buf, len / 2 }, { fz->scratch, 16 },
					{ any_ptr(fz, 64), 64 } };

		ret = SYSCALL(fz, rng_below(&fz->r, 2) ? preadv(fd, iov, 3, off)
						       : pwritev(fd, iov, 3, off));
	}
	}
	if (ret >= 0 && s && s->kind == K_CTL)
		violation(fz, "read/write of the control node", ret, 0);
	CHECK_ERRNO(fz, "read/write", ret, EBADF, EFAULT, EINVAL, ENODEV, ENOSPC, EAGAIN);
}

static void op_lseek(struct fuzzer *fz)
{
	struct fd_slot *s = any_fd(fz);
	off_t ret;
	int whence;

	if (!s)
		return;
	whence = PICK(&fz->r, SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, 7);

	ret = SYSCALL(fz, lseek(s->fd, any_off(&fz->r), whence));
	/* (the VFS refuses an unknown whence before the driver sees it) */
	if (s->kind == K_CTL && whence <= SEEK_HOLE && !(ret == -1 && errno == ESPIPE))
		violation(fz, "lseek of the control node", ret, errno);
	CHECK_ERRNO(fz, "lseek", ret, EINVAL, ESPIPE, ENXIO, EOVERFLOW);
}

/*
 * GUP paths: /proc/self/mem (FOLL_FORCE), process_vm_*, vmsplice. Where
 * the driver maps special PTEs, GUP finds no page to take: EEXIST.
 */
static void op_remote(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	size_t len;
	char *addr;
	ssize_t ret;

	if (!m)
		return;
	addr = m->addr + rng_below(&fz->r, m->len);
	len = 1 + rng_below(&fz->r, m->len - (addr - m->addr));
	if (len > SCRATCH)
		len = SCRATCH;
	switch (rng_below(&fz->r, 5)) {
	case 0:
		ret = SYSCALL(fz, pread(fz->mem_fd, fz->scratch, len, (off_t)addr));
		CHECK_ERRNO(fz, "read /proc/self/mem", ret, EIO, EFAULT);
		break;
	case 1:
		ret = SYSCALL(fz, pwrite(fz->mem_fd, fz->scratch, len, (off_t)addr));
		CHECK_ERRNO(fz, "write /proc/self/mem", ret, EIO, EFAULT);
		break;
	case 2: {
		struct iovec l = { fz->scratch, len }, r = { addr, len };

		ret = SYSCALL(fz, process_vm_readv(getpid(), &l, 1, &r, 1, 0));
		CHECK_ERRNO(fz, "process_vm_readv", ret, EFAULT, ENOMEM, EEXIST);
		break;
	}
	case 3: {
		struct iovec l = { fz->scratch, len }, r = { addr, len };

		ret = SYSCALL(fz, process_vm_writev(getpid(), &l, 1, &r, 1, 0));
		CHECK_ERRNO(fz, "process_vm_writev", ret, EFAULT, ENOMEM, EEXIST);
		break;
	}
	default: {
		struct iovec v = { addr, len };

		ret = SYSCALL(fz, vmsplice(fz->pipe[1], &v, 1, SPLICE_F_NONBLOCK));
		CHECK_ERRNO(fz, "vmsplice", ret, EFAULT, EAGAIN, ENOMEM, EEXIST);
		/* Drain it, copying from the pinned pages. */
		while (SYSCALL(fz, read(fz->pipe[0], fz->scratch, SCRATCH)) > 0)
			;
	}
	}
}

static void op_misc(struct fuzzer *fz)
{
	struct map_slot *m = any_map(fz);
	struct fd_slot *s = any_fd(fz);
	unsigned char vec[16];
	struct stat stt;
	int ret;

	switch (rng_below(&fz->r, 6)) {
	case 0:
		if (!m)
			return;
		ret = SYSCALL(fz, msync(m->addr, m->len, PICK(&fz->r, MS_SYNC, MS_ASYNC,
							       MS_INVALIDATE, MS_SYNC | MS_ASYNC)));
		/* ENODEV: MS_SYNC of a removed vdev. */
		CHECK_ERRNO(fz, "msync", ret, EINVAL, ENOMEM, EBUSY, ENODEV);
		break;
	case 1:
		if (!m)
			return;
		ret = SYSCALL(fz, mlock(m->addr, m->len));
		CHECK_ERRNO(fz, "mlock", ret, ENOMEM, EAGAIN, EFAULT);
		SYSCALL(fz, munlock(m->addr, m->len));
		break;
	case 2:
		if (!m)
			return;
		ret = SYSCALL(fz, mincore(m->addr, m->len > 16 * PAGE ? 16 * PAGE : m->len, vec));
		CHECK_ERRNO(fz, "mincore", ret, ENOMEM, EINVAL);
		break;
	case 3:
		if (!s)
			return;
		ret = SYSCALL(fz, fstat(s->fd, &stt));
		if (ret || !S_ISCHR(stt.st_mode) || major(stt.st_rdev) != 10)
			violation(fz, "fstat", ret, errno);
		break;
	case 4: {
		struct pollfd p = { .fd = s ? s->fd : -1, .events = POLLIN | POLLOUT };

		ret = SYSCALL(fz, poll(&p, 1, 0));
		CHECK_ERRNO(fz, "poll", ret, EINVAL);
		break;
	}
	default:
		if (!s)
			return;
		ret = SYSCALL(fz, fcntl(s->fd, F_SETFL, rng_below(&fz->r, 2) ? O_NONBLOCK : 0));
		CHECK_ERRNO(fz, "fcntl", ret, EBADF);
	}
}

static void run_ops(struct fuzzer *fz, uint64_t budget, double deadline);

/*
 * fork: the child inherits every mapping (but DONTFORK ones), runs a few
 * random operations of its own and exits with them still mapped.
 */
static void op_fork(struct fuzzer *fz)
{
	pid_t pid;
	int status;

	if (fz->in_child)
		return;
	fflush(stdout);
	pid = SYSCALL(fz, fork());
	if (pid < 0) {
		CHECK_ERRNO(fz, "fork", -1, EAGAIN, ENOMEM);
		return;
	}
	if (pid == 0) {
		fz->in_child = 1;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		rng_seed(&fz->r, rng_next(&fz->r));
		run_ops(fz, 20, now_s() + 5);
		_exit(0);
	}
	fz->st->forks++;
	if (SYSCALL(fz, waitpid(pid, &status, 0)) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		violation(fz, "forked child", status, 0);
}

/*
 * Two threads at once on the same file or mapping: mmap against close,
 * a fault against munmap.
 */
struct race {
	struct fuzzer *fz;
	pthread_barrier_t go;
	int fd;
	volatile char *addr;
	size_t len;
};

static void *race_thread(void *arg)
{
	struct race *rc = arg;
	char *p;
	size_t i;

	pthread_barrier_wait(&rc->go);
	if (rc->fd >= 0) {
		p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, rc->fd, 0);
		if (p != MAP_FAILED)
			munmap(p, PAGE);
	} else if (!sigsetjmp(tls_env, 0)) {
		tls_armed = 1;
		for (i = 0; i < rc->len; i += PAGE)
			(void)rc->addr[i];
	}
	tls_armed = 0;
	return NULL;
}

static void op_race(struct fuzzer *fz)
{
	struct race rc = { .fz = fz, .fd = -1 };
	struct fd_slot *s = any_fd(fz);
	struct map_slot *m = any_map(fz);
	pthread_t t;

	if (fz->in_child || (!s && !m))
		return;
	if (s && (!m || rng_below(&fz->r, 2)))
		rc.fd = s->fd;
	else
		rc = (struct race){ .fz = fz, .fd = -1, .addr = m->addr, .len = m->len };
	pthread_barrier_init(&rc.go, NULL, 2);
	if (pthread_create(&t, NULL, race_thread, &rc)) {
		pthread_barrier_destroy(&rc.go);
		return;
	}
	fz->st->races++;
	pthread_barrier_wait(&rc.go);
	if (rc.fd >= 0) {
		SYSCALL(fz, close(s->fd));
		s->fd = -1;
	} else {
		SYSCALL(fz, munmap(m->addr, m->len));
		arena_reserve(fz, m->addr, m->len);
		m->addr = NULL;
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&rc.go);
	fz->st->syscalls += 2;
}

static void run_ops(struct fuzzer *fz, uint64_t budget, double deadline)
{
	uint64_t end = fz->st->syscalls + budget, n;

	for (n = 0; fz->st->syscalls < end; n++) {
		uint32_t op = rng_below(&fz->r, 1000);

		if (n % 64 == 0 && (now_s() > deadline ||
				    __atomic_load_n(&sh->stop, __ATOMIC_RELAXED)))
			break;
		if (op < 60)
			op_open(fz);
		else if (op < 100)
			op_close(fz);
		else if (op < 330)
			op_ioctl(fz);
		else if (op < 420)
			op_mmap(fz);
		else if (op < 460)
			op_munmap(fz);
		else if (op < 490)
			op_mremap(fz);
		else if (op < 520)
			op_mprotect(fz);
		else if (op < 570)
			op_madvise(fz);
		else if (op < 700)
			op_access(fz);
		else if (op < 850)
			op_rw(fz);
		else if (op < 900)
			op_lseek(fz);
		else if (op < 940)
			op_remote(fz);
		else if (op < 994)
			op_misc(fz);
		else if (op < 999)
			op_race(fz);
		else
			op_fork(fz);	/* rare: a fork costs as much as 500 syscalls */
	}
}

static void fuzz_process(int idx, uint64_t seed, uint64_t budget, double deadline)
{
	/*
	 * SA_NODEFER: the handler leaves by siglongjmp with the signal still
	 * unblocked, so a probe need not save and restore the signal mask
	 * (two syscalls per access).
	 */
	struct sigaction sa = { .sa_handler = fuzz_signal, .sa_flags = SA_NODEFER };
	struct fuzzer fz = { .st = &sh->f[idx] };
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned int)(deadline - now_s()) + 60);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rng_seed(&fz.r, seed + idx);
	for (i = 0; i < NFDS; i++)
		fz.fds[i].fd = -1;
	fz.arena = mmap(NULL, ARENA + SLOT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	fz.scratch = mmap(NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz.ro_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz.mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fz.arena == MAP_FAILED || fz.scratch == MAP_FAILED || fz.ro_page == MAP_FAILED ||
	    fz.mem_fd < 0 || pipe2(fz.pipe, O_NONBLOCK | O_CLOEXEC))
		_exit(2);
	/* Slots start on 2 MiB boundaries, so a whole-block mapping can get a PMD entry. */
	fz.arena = (char *)(((uintptr_t)fz.arena + SLOT - 1) & ~(SLOT - 1));
	run_ops(&fz, budget, deadline);
	_exit(0);
}

/* The other process: state changes (and resizes, mostly refused) at random. */
static void control_process(uint64_t seed, double deadline)
{
	struct fstat_ *st = &sh->f[MAX_PROCS];
	struct rng r;
	uint64_t size;
	int ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC), ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm((unsigned int)(deadline - now_s()) + 60);
	if (ctl < 0)
		_exit(2);
	rng_seed(&r, seed ^ 0xc0c0c0c0ULL);
	while (now_s() < deadline && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		unsigned long v = rng_below(&r, nr_vdevs + 1);
		struct timespec pause = { 0, rng_below(&r, 2000) * 1000 };

		switch (rng_below(&r, 10)) {
		case 0:
		case 1:
		case 2:
		case 3:
			ret = ioctl(ctl, VDMUX_IOC_SWITCH, v);
			CHECK_ERRNO_ST(st, "SWITCH", ret, EINVAL, ENODEV, ENOMEM);
			break;
		case 4:
		case 5:
			ret = ioctl(ctl, VDMUX_IOC_EJECT, v);
			CHECK_ERRNO_ST(st, "EJECT", ret, EINVAL, ENOMEM);
			break;
		case 6:
		case 7:
		case 8:
			ret = ioctl(ctl, VDMUX_IOC_INSERT, v);
			CHECK_ERRNO_ST(st, "INSERT", ret, EINVAL);
			break;
		default:
			size = PICK(&r, 4096, 8192, 32768, 65536, 1UL << 20);
			ret = ioctl(ctl, VDMUX_IOC_SET_RESERVED_SIZE, &size);
			CHECK_ERRNO_ST(st, "SET_RESERVED_SIZE", ret, EBUSY, ENOMEM);
		}
		st->syscalls++;
		nanosleep(&pause, NULL); /* random spacing; leaves the CPUs to the fuzzers */
	}
	_exit(0);
}

/* ------------------------------------------------------------------ */

static int make_alias(const char *alias, const char *node)
{
	struct stat st;

	unlink(alias);
	if (stat(node, &st))
		return -errno;
	return mknod(alias, S_IFCHR | 0600, st.st_rdev) ? -errno : 0;
}

FIXTURE(fuzz)
{
	pid_t pids[MAX_PROCS + 1];
	int nr_pids;
};

FIXTURE_SETUP(fuzz)
{
	struct vdmux_status st;

	ASSERT_EQ(0, reset_device());
	ASSERT_EQ(0, status_of(-1, &st));
	nr_vdevs = st.nr_vdevs;
	ASSERT_EQ(0, make_alias(alias_vdev, "/dev/vdmux1"));
	ASSERT_EQ(0, make_alias(alias_ctl, CTL_PATH));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
}

FIXTURE_TEARDOWN(fuzz)
{
	int i, status;

	for (i = 0; i < self->nr_pids; i++) {
		kill(self->pids[i], SIGKILL);
		waitpid(self->pids[i], &status, 0);
	}
	unlink(alias_vdev);
	unlink(alias_ctl);
	reset_device();
}

/* After fuzzing, the device still does its job. */
static void functional_check(struct __test_metadata *_metadata)
{
	static char buf[DEFAULT_RESERVED], got[DEFAULT_RESERVED];
	struct vdmux_status st;
	int ctl, fd0, fd1;
	char *p, c;

	ASSERT_EQ(0, reset_device());
	ctl = open(CTL_PATH, O_RDWR);
	fd0 = open_vdev(0, O_RDWR);
	fd1 = open_vdev(1, O_RDWR);
	ASSERT_LE(0, ctl);
	ASSERT_LE(0, fd0);
	ASSERT_LE(0, fd1);
	fill_pattern(buf, sizeof(buf), 77);
	ASSERT_EQ(sizeof(buf), pwrite(fd1, buf, sizeof(buf), 0));
	p = mmap(NULL, DEFAULT_RESERVED, PROT_READ | PROT_WRITE, MAP_SHARED, fd1, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(has_pattern(p, DEFAULT_RESERVED, 77));
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_TRUE(has_pattern(p, DEFAULT_RESERVED, 77));
	p[100] = 'z';
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_SWITCH, 0));
	ASSERT_EQ(sizeof(got), pread(fd1, got, sizeof(got), 0));
	EXPECT_EQ('z', got[100]);
	ASSERT_EQ(sizeof(got), pread(fd0, got, sizeof(got), 0));
	EXPECT_TRUE(all_zero(got, sizeof(got)));
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	ASSERT_EQ(0, vdmux_ioc(ctl, VDMUX_IOC_INSERT, 1));
	EXPECT_EQ('z', p[100]);
	EXPECT_EQ(0, munmap(p, DEFAULT_RESERVED));
	ASSERT_EQ(0, get_status(ctl, &st));
	EXPECT_EQ(0, st.foreground);
	EXPECT_EQ(DEFAULT_RESERVED, st.reserved_size);
	close(fd0);
	close(fd1);
	close(ctl);
	/* No file or mapping reference was leaked: the module unloads. */
	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
}

/* The faults every vdev served since the module was loaded, summed. */
static struct fault_counts all_faults(void)
{
	struct fault_counts sum = { 0, 0 }, c;
	struct vdmux_status st;
	int i, fd;

	if (status_of(-1, &st))
		return sum;
	for (i = 0; i < (int)st.nr_vdevs; i++) {
		fd = open_vdev(i, O_RDONLY);
		if (fd < 0)
			continue;
		c = fault_counts(fd);
		sum.pages += c.pages;
		sum.huge += c.huge;
		close(fd);
	}
	return sum;
}

TEST_F(fuzz, random_syscalls)
{
	const double start = now_s(), deadline = start + opt_seconds;
	uint64_t total = 0, accesses = 0, sigbus = 0, sigsegv = 0, forks = 0, races = 0;
	uint64_t violations = 0;
	struct fault_counts faults[2];
	int i, status, procs = opt_procs > MAX_PROCS ? MAX_PROCS : (int)opt_procs;

	ksft_print_msg("fuzz seed %#llx (rerun: /tests/fuzz_test --seed %#llx)\n", opt_seed, opt_seed);
	faults[0] = all_faults();
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			fuzz_process(i, opt_seed, opt_count / procs, deadline);
		self->pids[self->nr_pids++] = pid;
	}
	if (opt_control) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			control_process(opt_seed, deadline);
		self->pids[self->nr_pids++] = pid;
	}
	/* The fuzzers end on their budget or deadline, then the controller is stopped. */
	for (i = 0; i < self->nr_pids; i++) {
		if (i == procs)
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
		ASSERT_EQ(self->pids[i], waitpid(self->pids[i], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			TH_LOG("process %d ended with status %#x", i, status);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	self->nr_pids = 0;
	for (i = 0; i <= MAX_PROCS; i++) {
		struct fstat_ *f = &sh->f[i];

		total += f->syscalls;
		accesses += f->accesses;
		sigbus += f->sigbus;
		sigsegv += f->sigsegv;
		forks += f->forks;
		races += f->races;
		violations += f->violations;
		if (f->violations)
			TH_LOG("process %d: %llu errno violations, first: %s", i,
			       (unsigned long long)f->violations, f->first_violation);
	}
	ksft_print_msg("fuzz: %llu syscalls in %.1f s (%.0f/s), %d processes + %s, seed %#llx\n",
		       (unsigned long long)total, now_s() - start, total / (now_s() - start),
		       procs, opt_control ? "a controller" : "no controller", opt_seed);
	ksft_print_msg("fuzz: %llu memory accesses (%llu SIGBUS, %llu SIGSEGV), %llu forks, %llu races, %llu errno violations\n",
		       (unsigned long long)accesses, (unsigned long long)sigbus,
		       (unsigned long long)sigsegv, (unsigned long long)forks,
		       (unsigned long long)races, (unsigned long long)violations);
	faults[1] = all_faults();
	ksft_print_msg("fuzz: faults served: %ld with 4 KiB pages, %ld with 2 MiB entries\n",
		       faults[1].pages - faults[0].pages, faults[1].huge - faults[0].huge);
	EXPECT_EQ(0, violations);
	EXPECT_LT(0, total);
	functional_check(_metadata);
}

int main(int argc, char **argv)
{
	uint64_t seed;

	if (getentropy(&seed, sizeof(seed)))
		seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ getpid();
	opt_seed = take_option(&argc, argv, "--seed", "VDMUX_FUZZ_SEED", seed);
	opt_count = take_option(&argc, argv, "--count", "VDMUX_FUZZ_COUNT", opt_count);
	opt_seconds = take_option(&argc, argv, "--seconds", "VDMUX_FUZZ_SECONDS", opt_seconds);
	opt_procs = take_option(&argc, argv, "--procs", "VDMUX_FUZZ_PROCS", opt_procs);
	opt_control = take_option(&argc, argv, "--control", NULL, opt_control);
	set_test_timeouts(opt_seconds + 180);
	return test_harness_run(argc, argv);
}
