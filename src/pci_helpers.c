// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of vdmux's PCI device memory: see pci_helpers.h.
 */
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>

#include "pci_helpers.h"

static char *device_memory = "ram";
module_param(device_memory, charp, 0444);
MODULE_PARM_DESC(device_memory,
		 "Where the device memory is: ram (default), or pci: a memory BAR (see bar) of each PCI device bound (ivshmem-plain, or any device given through driver_override), whose size reserved_size and max_reserved_size then default to and may not exceed");

const char *vdmux_device_memory_param(void)
{
	return device_memory ? device_memory : "";
}

unsigned long vdmux_pci_resource_flags(struct pci_dev *pdev, int bar)
{
	return pci_resource_flags(pdev, bar);
}

void vdmux_memset_io(void __iomem *dst, int c, unsigned long len)
{
	memset_io(dst, c, len);
}

void vdmux_wmb(void)
{
	wmb();
}
