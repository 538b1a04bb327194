// SPDX-License-Identifier: GPL-2.0
/*
 * A "terminal" for the vdmux demo: it maps one virtual device, as a console
 * maps its video memory, and obeys one command per line on standard input,
 * answering each with exactly one line so the demo script can wait for it:
 *
 *   write TEXT        store TEXT (and a NUL) at the start of the mapping
 *   read              print the text at the start of the mapping
 *   write-at OFF TEXT store TEXT (and a NUL) at byte OFF, and tell the size
 *   read-at OFF       print the text at byte OFF
 *   quit              unmap and exit
 *
 * An access that raises SIGBUS (the virtual device was ejected, or the
 * byte is past the end of the device) is caught and reported instead of
 * killing the terminal.
 *
 * With --autogrow LEN the terminal sets VDMUX_IOC_SET_AUTOGROW on its file
 * and maps LEN bytes, which may reach past the reserved size: a line
 * written there grows the device to the end of its page.
 *
 *   demo_term NAME N [--autogrow LEN]
 */
#include <stdarg.h>

#include "vdmux_test.h"

#define TEXT_MAX 128

static const char *name;
static int fd;
/* Its mapping: the first page, or --autogrow's length. */
static size_t map_len;

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

/* Copies the NUL-terminated text at @map, at most @max bytes, into @text: 0, or the signal. */
static int read_screen(volatile char *map, char *text, size_t max)
{
	size_t i;
	int sig;

	for (i = 0; i < TEXT_MAX - 1 && i < max; i++) {
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

/* The reserved size now, through the terminal's file; 0 if it cannot tell. */
static uint64_t device_size(void)
{
	uint64_t size = 0;

	return ioctl(fd, VDMUX_IOC_GET_RESERVED_SIZE, &size) ? 0 : size;
}

/* Says why an access to byte @off raised @sig. */
static void report_signal(const char *what, int sig, size_t off)
{
	uint64_t size = device_size();

	if (sig == SIGBUS && size && off >= size)
		say("%s its mapping raised SIGBUS (caught): byte %zu is past the end of the device (%llu bytes)",
		    what, off, (unsigned long long)size);
	else
		say("%s its mapping raised %s (caught): the virtual device was ejected", what,
		    sig == SIGBUS ? "SIGBUS" : "another signal");
}

/* Parses "OFF REST" into @off and @rest: 0, or -1 when OFF is no offset of the mapping. */
static int parse_at(char *arg, size_t *off, char **rest)
{
	char *end;

	errno = 0;
	*off = strtoul(arg, &end, 0);
	if (errno || end == arg || (*end && *end != ' ') || *off >= map_len)
		return -1;
	*rest = *end ? end + 1 : end;
	return 0;
}

int main(int argc, char **argv)
{
	char line[256], text[TEXT_MAX], *rest;
	volatile char *map;
	int sig, autogrow = argc == 5 && !strcmp(argv[3], "--autogrow");
	size_t off;

	if (argc != 3 && !autogrow) {
		fprintf(stderr, "usage: demo_term NAME N [--autogrow LEN]\n");
		return 2;
	}
	name = argv[1];
	map_len = PAGE;
	fd = open_vdev(atoi(argv[2]), O_RDWR);
	if (fd < 0) {
		say("cannot open %s: %s", vdev_path(atoi(argv[2])), strerror(errno));
		return 1;
	}
	if (autogrow) {
		map_len = strtoul(argv[4], NULL, 0);
		if (set_autogrow(fd, 1)) {
			say("cannot set autogrow on %s: %s", vdev_path(atoi(argv[2])),
			    strerror(errno));
			return 1;
		}
	}
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		say("cannot map %s: %s", vdev_path(atoi(argv[2])), strerror(errno));
		return 1;
	}
	if (autogrow)
		say("mapped %zu bytes of %s with autogrow: the device has %llu", map_len,
		    vdev_path(atoi(argv[2])), (unsigned long long)device_size());
	else
		say("mapped the first %zu bytes of %s", map_len, vdev_path(atoi(argv[2])));

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "write ", 6)) {
			sig = draw_text(map, line + 6);
			if (sig)
				report_signal("writing", sig, 0);
			else
				say("writes \"%s\" into its mapping", line + 6);
		} else if (!strcmp(line, "read")) {
			sig = read_screen(map, text, map_len);
			if (sig)
				report_signal("reading", sig, 0);
			else
				say("reads \"%s\" from its mapping", text);
		} else if (!strncmp(line, "write-at ", 9)) {
			if (parse_at(line + 9, &off, &rest) || off + strlen(rest) >= map_len) {
				say("no room for that in its mapping of %zu bytes", map_len);
				continue;
			}
			sig = draw_text(map + off, rest);
			if (sig)
				report_signal("writing", sig, off);
			else
				say("writes \"%s\" at byte %zu: the device has %llu bytes now", rest, off,
				    (unsigned long long)device_size());
		} else if (!strncmp(line, "read-at ", 8)) {
			if (parse_at(line + 8, &off, &rest) || *rest) {
				say("read-at takes one offset inside its mapping of %zu bytes", map_len);
				continue;
			}
			/* At most to the end of the mapping. */
			sig = read_screen(map + off, text, map_len - off);
			if (sig)
				report_signal("reading", sig, off);
			else
				say("reads \"%s\" at byte %zu", text, off);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			say("unknown command \"%s\"", line);
		}
	}
	munmap((void *)map, map_len);
	close(fd);
	say("unmapped and closed");
	return 0;
}
