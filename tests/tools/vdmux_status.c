// SPDX-License-Identifier: GPL-2.0
/*
 * vdmux-status [N]: prints the generation that VDMUX_IOC_GET_STATUS returns
 * for the control node, or for virtual device N. The shell tests of
 * vdmuxctl take the generations they expect from here, not from vdmuxctl,
 * the program under test.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vdmux.h"

int main(int argc, char **argv)
{
	struct vdmux_status st;
	char path[32];
	int fd;

	if (argc > 2) {
		fprintf(stderr, "usage: vdmux-status [N]\n");
		return 2;
	}
	if (argc == 2)
		snprintf(path, sizeof(path), "/dev/vdmux%d", atoi(argv[1]));
	else
		snprintf(path, sizeof(path), "/dev/vdmux");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, VDMUX_IOC_GET_STATUS, &st)) {
		perror(path);
		return 1;
	}
	printf("%llu\n", (unsigned long long)st.generation);
	return 0;
}
