// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux_faulter: the companion of the outside clients (check-clients). It
 * maps a virtual device and faults on it continuously, so that the fault
 * path runs while fio, stress-ng or trinity work on the nodes and a churn
 * loop switches, ejects and inserts.
 *
 *   vdmux_faulter DEV SECONDS
 *
 * Each round maps the whole vdev (a plain mmap: PMD aligned when the
 * reserved size allows a PMD entry), writes one word of every page and reads
 * every page back, and unmaps it, so every round faults anew even when no
 * state change zapped the mapping. Every 8th round instead maps the
 * vdev a page off PMD alignment (page faults only), every 5th splits
 * the mapping with mprotect and every 7th moves it with mremap before
 * touching it. SIGBUS (the vdev is removed) and ENODEV from mmap (likewise)
 * are expected and counted; anything else fails with exit status 1. The
 * last line is a TAP diagnostic with the counts.
 */
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
#include <time.h>
#include <unistd.h>

#include "vdmux.h"

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t stop;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bytes one PMD entry maps, as vdmux reports them; 0 if it cannot be read. */
static size_t pmd_size(void)
{
	FILE *f = fopen("/sys/class/misc/vdmux/pmd_size", "re");
	unsigned long long n = 0;

	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long rounds = 0, pages = 0, sigbus = 0, enodev = 0, splits = 0, moves = 0;
	const long psz = sysconf(_SC_PAGESIZE);
	const size_t pmd = pmd_size();
	struct sigaction sa;
	double end;
	__u64 size;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DEV SECONDS\n", argv[0]);
		return 2;
	}
	if (!pmd) {
		fprintf(stderr, "vdmux_faulter: no /sys/class/misc/vdmux/pmd_size\n");
		return 1;
	}
	end = now() + atof(argv[2]);
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size)) {
		fprintf(stderr, "vdmux_faulter: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_bus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_handler = on_term;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stop && now() < end) {
		volatile unsigned char *p;
		size_t len = size, off;
		void *m, *hole = NULL;

		rounds++;
		if (rounds % 8 == 0 && size > (size_t)psz) {
			/* A fixed address one page past a PMD boundary. */
			hole = mmap(NULL, size + 2 * pmd, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (hole == MAP_FAILED) {
				perror("vdmux_faulter: mmap of a hole");
				return 1;
			}
			m = (void *)((((uintptr_t)hole + pmd) & ~(pmd - 1)) + psz);
			m = mmap(m, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		} else {
			m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		}
		if (m == MAP_FAILED) {
			if (errno != ENODEV) {
				perror("vdmux_faulter: mmap");
				return 1;
			}
			enodev++;
			if (hole)
				munmap(hole, size + 2 * pmd);
			usleep(1000);
			continue;
		}
		if (rounds % 5 == 0 && len >= 2 * (size_t)psz) {
			if (mprotect(m, psz, PROT_READ) == 0 && mprotect(m, psz, PROT_READ | PROT_WRITE) == 0)
				splits++;
		}
		if (rounds % 7 == 0 && !hole) {
			/* To a PMD aligned address inside a reserved hole. */
			hole = mmap(NULL, size + 2 * pmd, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (hole != MAP_FAILED) {
				void *to = (void *)(((uintptr_t)hole + pmd) & ~(pmd - 1));
				void *n = mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);

				if (n != MAP_FAILED) {
					m = n;
					moves++;
				}
			} else {
				hole = NULL;
			}
		}
		p = m;
		off = 0;
		if (sigsetjmp(bus_jmp, 1)) {
			sigbus++;
		} else {
			for (; off < len; off += psz) {
				p[off + 8] = (unsigned char)rounds;
				(void)p[off + 16];
				pages++;
			}
		}
		munmap(m, len);
		if (hole)
			munmap(hole, size + 2 * pmd);
	}
	printf("# vdmux_faulter %s: %lu rounds, %lu pages touched, %lu SIGBUS, %lu ENODEV, %lu splits, %lu moves\n",
	       argv[1], rounds, pages, sigbus, enodev, splits, moves);
	return 0;
}
