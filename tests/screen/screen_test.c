// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual terminals you can see: vdmux multiplexes the video memory of
 * QEMU's standard VGA (1234:1111, BAR 0), and the host checks the screen.
 *
 * As a display server would, with no kernel driver for the device, the
 * program sets a linear 640x480 mode of 32 bits a pixel through the bochs
 * display registers in BAR 2 (sysfs resource2), then hands the device to
 * vdmux (driver_override, drivers_probe), draws a different picture into
 * each vdev through its mapping, and switches, ejects and inserts. At each
 * checkpoint it asks the host (qemu/screen.py, over ttyS2) to take a
 * screenshot and compare it with the picture that must be in front; the
 * host answers ok or why not, and fails the run by itself too.
 *
 * The pictures are described in qemu/screen.py, which draws them on its
 * own: a background colour of the vdev's, textured in 8x8 blocks, its
 * digit in white, and for some shots a yellow square.
 *
 * Needs make check-screen's guest (qemu/run.sh --screen).
 */
#include <poll.h>
#include <termios.h>

#include "kselftest_harness.h"
#include "vdmux_test.h"

#define WIDTH 640
#define HEIGHT 480
#define FRAME (WIDTH * HEIGHT * 4UL)
#define NR_VDEVS 3

#define PCI_DEVICES "/sys/bus/pci/devices"
#define DRIVER_DIR "/sys/bus/pci/drivers/vdmux"
#define CHANNEL "/dev/ttyS2"

/* BAR 2 of the standard VGA (QEMU's docs/specs/standard-vga.rst). */
#define MMIO_SIZE 4096
#define VGA_IOPORTS 0x400	/* ports 0x3c0-0x3df, byte by byte */
#define DISPI 0x500		/* bochs dispi register n at 0x500 + 2n */
#define DISPI_XRES 1
#define DISPI_YRES 2
#define DISPI_BPP 3
#define DISPI_ENABLE 4
#define DISPI_BANK 5
#define DISPI_VIRT_WIDTH 6
#define DISPI_VIRT_HEIGHT 7
#define DISPI_X_OFFSET 8
#define DISPI_Y_OFFSET 9
#define DISPI_ENABLED 0x01
#define DISPI_LFB_ENABLED 0x40

static const uint8_t bases[][3] = {
	{ 0x1f, 0x4e, 0xa8 }, { 0x2e, 0x8b, 0x57 }, { 0xb0, 0x30, 0x30 }, { 0x80, 0x40, 0xa0 },
};

/* Digits 0 to 3 in a 5x7 font, a row a byte, its leftmost dot in bit 4. */
static const uint8_t font[][7] = {
	{ 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e },
	{ 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e },
	{ 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f },
	{ 0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e },
};

#define DOT 40
#define DIGIT_X 220
#define DIGIT_Y 100
#define BOX_X 40
#define BOX_Y 40
#define BOX_SIZE 160

static uint32_t xrgb(unsigned int r, unsigned int g, unsigned int b)
{
	return r << 16 | g << 8 | b;
}

/* vdev @k's picture into @fb, a frame of 32-bit pixels, row after row. */
static void draw_vdev(volatile uint32_t *fb, unsigned int k)
{
	unsigned int x, y, t;

	for (y = 0; y < HEIGHT; y++) {
		for (x = 0; x < WIDTH; x++) {
			t = ((x >> 3) ^ (y >> 3)) & 0x0f;
			fb[y * WIDTH + x] = xrgb(bases[k][0] ^ t, bases[k][1] ^ t, bases[k][2] ^ t);
		}
	}
	for (y = 0; y < 7 * DOT; y++)
		for (x = 0; x < 5 * DOT; x++)
			if (font[k][y / DOT] & (0x10 >> (x / DOT)))
				fb[(DIGIT_Y + y) * WIDTH + DIGIT_X + x] = xrgb(0xff, 0xff, 0xff);
}

static void draw_box(volatile uint32_t *fb)
{
	unsigned int x, y;

	for (y = BOX_Y; y < BOX_Y + BOX_SIZE; y++)
		for (x = BOX_X; x < BOX_X + BOX_SIZE; x++)
			fb[y * WIDTH + x] = xrgb(0xff, 0xd7, 0x00);
}

static const char *dev_file(const char *bdf, const char *name)
{
	static char path[640];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, name);
	return path;
}

static void dispi_write(volatile uint8_t *mmio, unsigned int index, uint16_t val)
{
	*(volatile uint16_t *)(mmio + DISPI + 2 * index) = val;
}

static uint16_t dispi_read(volatile uint8_t *mmio, unsigned int index)
{
	return *(volatile uint16_t *)(mmio + DISPI + 2 * index);
}

/*
 * Sets the linear 32-bit mode through BAR 2, as the bochs DRM driver does,
 * and unblanks the screen: reading input status 1 (0x3da) puts the
 * attribute controller's flip-flop on its index, whose bit 5 (0x20) turns
 * the display on. 0, or -errno.
 */
static int set_mode(const char *bdf)
{
	int fd = open(dev_file(bdf, "resource2"), O_RDWR | O_CLOEXEC), ok;
	volatile uint8_t *mmio;

	if (fd < 0)
		return -errno;
	mmio = mmap(NULL, MMIO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mmio == MAP_FAILED)
		return -errno;
	(void)mmio[VGA_IOPORTS + 0x3da - 0x3c0];
	mmio[VGA_IOPORTS + 0x3c0 - 0x3c0] = 0x20;
	dispi_write(mmio, DISPI_ENABLE, 0);
	dispi_write(mmio, DISPI_BPP, 32);
	dispi_write(mmio, DISPI_XRES, WIDTH);
	dispi_write(mmio, DISPI_YRES, HEIGHT);
	dispi_write(mmio, DISPI_BANK, 0);
	dispi_write(mmio, DISPI_VIRT_WIDTH, WIDTH);
	dispi_write(mmio, DISPI_VIRT_HEIGHT, HEIGHT);
	dispi_write(mmio, DISPI_X_OFFSET, 0);
	dispi_write(mmio, DISPI_Y_OFFSET, 0);
	dispi_write(mmio, DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED);
	ok = dispi_read(mmio, DISPI_XRES) == WIDTH && dispi_read(mmio, DISPI_YRES) == HEIGHT &&
	     dispi_read(mmio, DISPI_BPP) == 32;
	munmap((void *)mmio, MMIO_SIZE);
	return ok ? 0 : -EIO;
}

/* The channel to the host: ttyS2, raw. */
static int open_channel(void)
{
	int fd = open(CHANNEL, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t)) {
		close(fd);
		return -EIO;
	}
	cfmakeraw(&t);
	cfsetspeed(&t, B115200);
	if (tcsetattr(fd, TCSANOW, &t)) {
		close(fd);
		return -EIO;
	}
	tcflush(fd, TCIOFLUSH);
	return fd;
}

/* Reads a line from @fd into @buf within 120 s: its length, or -1. */
static int read_line(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	char c;

	while (n + 1 < len) {
		if (poll(&p, 1, 120000) != 1 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return n;
}

static int shots;

/*
 * Asks the host for a shot called @name that must show @expect: 0 when it
 * matched, -1 (and the host's reason in the log) when it did not.
 */
static int shot(struct __test_metadata *_metadata, int chan, const char *name, const char *expect)
{
	char req[128], reply[512], want[128];

	snprintf(req, sizeof(req), "shot %s %s\n", name, expect);
	if (write(chan, req, strlen(req)) != (ssize_t)strlen(req)) {
		TH_LOG("%s: cannot ask the host", name);
		return -1;
	}
	shots++;
	if (read_line(chan, reply, sizeof(reply)) < 0) {
		TH_LOG("%s: no answer from the host", name);
		return -1;
	}
	snprintf(want, sizeof(want), "ok %s", name);
	if (strcmp(reply, want)) {
		TH_LOG("%s: the screen is not %s: %s", name, expect, reply);
		return -1;
	}
	return 0;
}

FIXTURE(screen)
{
	char bdf[256];
	int chan, ctl, fd[NR_VDEVS];
	uint32_t *fb[NR_VDEVS];
};

FIXTURE_SETUP(screen)
{
	char params[128];
	int i;

	self->chan = self->ctl = -1;
	for (i = 0; i < NR_VDEVS; i++) {
		self->fd[i] = -1;
		self->fb[i] = MAP_FAILED;
	}
	ASSERT_EQ(0, find_pci_device(0x1234, 0x1111, self->bdf, sizeof(self->bdf)));
	ASSERT_NE(0, access(dev_file(self->bdf, "driver"), F_OK));
	self->chan = open_channel();
	ASSERT_LE(0, self->chan);
	ASSERT_EQ(0, set_mode(self->bdf));
	if (module_loaded())
		ASSERT_EQ(0, unload_module());
	snprintf(params, sizeof(params), "device_memory=pci nr_vdevs=%d reserved_size=%lu",
		 NR_VDEVS, FRAME);
	ASSERT_EQ(0, load_module(params));
	ASSERT_EQ(0, write_text(dev_file(self->bdf, "driver_override"), "vdmux"));
	ASSERT_EQ(0, write_text("/sys/bus/pci/drivers_probe", self->bdf));
	snprintf(params, sizeof(params), DRIVER_DIR "/%.64s", self->bdf);
	ASSERT_EQ(0, access(params, F_OK));
	self->ctl = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl);
	for (i = 0; i < NR_VDEVS; i++) {
		self->fd[i] = open_vdev(i, O_RDWR);
		ASSERT_LE(0, self->fd[i]);
		self->fb[i] = mmap(NULL, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[i], 0);
		ASSERT_NE(MAP_FAILED, self->fb[i]);
	}
}

FIXTURE_TEARDOWN(screen)
{
	char done[32];
	int i;

	for (i = 0; i < NR_VDEVS; i++) {
		if (self->fb[i] != MAP_FAILED)
			munmap(self->fb[i], FRAME);
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	}
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->bdf[0]) {
		write_text(DRIVER_DIR "/unbind", self->bdf);
		write_text(dev_file(self->bdf, "driver_override"), "\n");
	}
	if (self->chan >= 0) {
		snprintf(done, sizeof(done), "done %d\n", shots);
		if (write(self->chan, done, strlen(done)) < 0)
			TH_LOG("cannot tell the host");
		tcdrain(self->chan);
		close(self->chan);
	}
	if (module_loaded())
		unload_module();
	load_module("");
}

/*
 * What the screen shows is the foreground vdev's picture, whatever was
 * drawn into the others meanwhile; a SWITCH puts the new foreground's in
 * front, a drawing into the foreground's mapping shows at once; after an
 * EJECT of the foreground the device memory keeps its bytes (the docs: the
 * screen goes on showing the ejected vdev's last picture) until a SWITCH
 * loads another; an inserted vdev comes back with its picture.
 */
TEST_F(screen, vdevs_take_turns_on_the_screen)
{
	int i;

	/* Bound, the video memory was cleared. */
	EXPECT_EQ(0, shot(_metadata, self->chan, "bound", "black"));
	for (i = 0; i < NR_VDEVS; i++)
		draw_vdev(self->fb[i], i);
	EXPECT_EQ(0, shot(_metadata, self->chan, "drawn", "vdev0"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(0, shot(_metadata, self->chan, "switch-1", "vdev1"));
	draw_box(self->fb[1]);
	EXPECT_EQ(0, shot(_metadata, self->chan, "box-on-1", "vdev1+box"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 2));
	EXPECT_EQ(0, shot(_metadata, self->chan, "switch-2", "vdev2"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 0));
	EXPECT_EQ(0, shot(_metadata, self->chan, "switch-0", "vdev0"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(0, shot(_metadata, self->chan, "back-to-1", "vdev1+box"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_EJECT, 1));
	EXPECT_EQ(0, shot(_metadata, self->chan, "eject-1", "vdev1+box"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 2));
	EXPECT_EQ(0, shot(_metadata, self->chan, "after-eject-2", "vdev2"));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_INSERT, 1));
	ASSERT_EQ(0, ioctl(self->ctl, VDMUX_IOC_SWITCH, 1));
	EXPECT_EQ(0, shot(_metadata, self->chan, "inserted-1", "vdev1+box"));
}

TEST_HARNESS_MAIN
