// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of vdmux's PCI device memory: see pci_helpers.h.
 */
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/sched.h>

#include "pci_helpers.h"

/* How much the copies move between rescheduling points. */
#define VDMUX_IO_CHUNK (1UL << 20)

static char *device_memory = "ram";
module_param(device_memory, charp, 0444);
MODULE_PARM_DESC(device_memory,
		 "Where the device memory is: ram (default), or pci: BAR 2 of the first ivshmem-plain device bound, whose size reserved_size and max_reserved_size then default to and may not exceed");

const char *vdmux_device_memory_param(void)
{
	return device_memory ? device_memory : "";
}

void vdmux_pci_bar_info(struct pci_dev *pdev, int bar, struct vdmux_bar_info *info)
{
	unsigned long flags = pci_resource_flags(pdev, bar);

	info->start = pci_resource_start(pdev, bar);
	info->len = pci_resource_len(pdev, bar);
	info->mem = flags & IORESOURCE_MEM;
	info->prefetch = flags & IORESOURCE_PREFETCH;
	info->mem64 = flags & IORESOURCE_MEM_64;
}

void __iomem *vdmux_pci_map_bar_wc(struct pci_dev *pdev, int bar, const char *name, int *err)
{
	void __iomem *addr;

	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) || !pci_resource_len(pdev, bar)) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = pci_request_region(pdev, bar, name);
	if (*err)
		return NULL;
	addr = pci_iomap_wc(pdev, bar, 0);
	if (!addr) {
		pci_release_region(pdev, bar);
		*err = -ENOMEM;
	}
	return addr;
}

void vdmux_pci_unmap_bar(struct pci_dev *pdev, int bar, void __iomem *addr)
{
	pci_iounmap(pdev, addr);
	pci_release_region(pdev, bar);
}

void vdmux_io_read(void *dst, const void __iomem *src, unsigned long len)
{
	while (len) {
		unsigned long n = min(len, VDMUX_IO_CHUNK);

		memcpy_fromio(dst, src, n);
		dst += n;
		src += n;
		len -= n;
		cond_resched();
	}
}

void vdmux_io_write(void __iomem *dst, const void *src, unsigned long len)
{
	while (len) {
		unsigned long n = min(len, VDMUX_IO_CHUNK);

		memcpy_toio(dst, src, n);
		dst += n;
		src += n;
		len -= n;
		cond_resched();
	}
	/* Drain the write-combining buffers: the bytes are in the BAR on return. */
	wmb();
}

void vdmux_io_zero(void __iomem *dst, unsigned long len)
{
	while (len) {
		unsigned long n = min(len, VDMUX_IO_CHUNK);

		memset_io(dst, 0, n);
		dst += n;
		len -= n;
		cond_resched();
	}
	wmb();
}
