// SPDX-License-Identifier: GPL-2.0
/*
 * A "terminal" for the vdmux demo: it maps one virtual device, as a console
 * maps its video memory, and obeys one command per line on standard input,
 * answering each with exactly one line so the demo script can wait for it:
 *
 *   write TEXT   store TEXT (and a NUL) at the start of the mapping
 *   read         print the text at the start of the mapping
 *   quit         unmap and exit
 *
 * An access that raises SIGBUS (the virtual device was ejected) is caught
 * and reported instead of killing the terminal.
 *
 *   demo_term NAME N
 */
#include <stdarg.h>

#include "vdmux_test.h"

#define MAP_LEN 4096UL
#define TEXT_MAX 128

static const char *name;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%s] ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Copies the NUL-terminated text at @map into @text: 0, or the signal. */
static int read_screen(volatile char *map, char *text)
{
	size_t i;
	int sig;

	for (i = 0; i < TEXT_MAX - 1; i++) {
		sig = probe_read(map + i, &text[i]);
		if (sig)
			return sig;
		if (!text[i])
			return 0;
	}
	text[i] = '\0';
	return 0;
}

/* Stores @text and its NUL at @map: 0, or the signal. */
static int draw_text(volatile char *map, const char *text)
{
	size_t i, len = strlen(text);
	int sig;

	for (i = 0; i <= len && i < TEXT_MAX; i++) {
		sig = probe_write(map + i, text[i]);
		if (sig)
			return sig;
	}
	return 0;
}

static void report_signal(const char *what, int sig)
{
	say("%s its mapping raised %s (caught): the virtual device was ejected", what,
	    sig == SIGBUS ? "SIGBUS" : "another signal");
}

int main(int argc, char **argv)
{
	char line[256], text[TEXT_MAX];
	volatile char *map;
	int fd, sig;

	if (argc != 3) {
		fprintf(stderr, "usage: demo_term NAME N\n");
		return 2;
	}
	name = argv[1];
	fd = open_vdev(atoi(argv[2]), O_RDWR);
	if (fd < 0) {
		say("cannot open %s: %s", vdev_path(atoi(argv[2])), strerror(errno));
		return 1;
	}
	map = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		say("cannot map %s: %s", vdev_path(atoi(argv[2])), strerror(errno));
		return 1;
	}
	say("mapped the first %lu bytes of %s", MAP_LEN, vdev_path(atoi(argv[2])));

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "write ", 6)) {
			sig = draw_text(map, line + 6);
			if (sig)
				report_signal("writing", sig);
			else
				say("writes \"%s\" into its mapping", line + 6);
		} else if (!strcmp(line, "read")) {
			sig = read_screen(map, text);
			if (sig)
				report_signal("reading", sig);
			else
				say("reads \"%s\" from its mapping", text);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			say("unknown command \"%s\"", line);
		}
	}
	munmap((void *)map, MAP_LEN);
	close(fd);
	say("unmapped and closed");
	return 0;
}
