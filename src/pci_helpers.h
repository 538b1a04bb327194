/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel functions vdmux's PCI device memory needs that are macros,
 * static inlines, or want a chunked loop around them: the device_memory=
 * module parameter, a PCI BAR's resource, its write-combining mapping, the
 * copies to and from it, and the page protection of a user mapping of it.
 * Wrapped with plain C types so that bindgen generates their Rust
 * declarations from this header (into src/pci_helpers_generated.rs, which
 * src/pci_helpers.rs includes) and the C compiler checks pci_helpers.c
 * against it, as for c_helpers.h.
 */
#ifndef VDMUX_PCI_HELPERS_H
#define VDMUX_PCI_HELPERS_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#define __iomem
#endif

struct pci_dev;

/*
 * The text of the device_memory= module parameter ("ram" unless given).
 * Rust's module! has no string parameters, so this one is C's (charp);
 * src/config.rs validates it when the module loads.
 */
const char *vdmux_device_memory_param(void);

/* What the resource of one BAR says about it. */
struct vdmux_bar_info {
	unsigned long long start;	/* physical address, 0 if unassigned */
	unsigned long long len;		/* bytes, 0 if the BAR is not implemented */
	bool mem;			/* a memory BAR (not I/O ports) */
	bool prefetch;			/* prefetchable: no side effects on reads */
	bool mem64;			/* a 64-bit memory BAR */
};

/* Fills @info from BAR @bar's resource (pci_resource_start/len/flags). */
void vdmux_pci_bar_info(struct pci_dev *pdev, int bar, struct vdmux_bar_info *info);

/*
 * Requests the region of memory BAR @bar for @name (pci_request_region) and
 * maps all of it write-combining (pci_iomap_wc): the mapping, or NULL with
 * the region released again and *@err set (-EBUSY: someone else holds the
 * region; -ENOMEM: the BAR cannot be mapped, or is not a memory BAR).
 */
void __iomem *vdmux_pci_map_bar_wc(struct pci_dev *pdev, int bar, const char *name, int *err);

/* Undoes vdmux_pci_map_bar_wc(): unmaps @addr and releases the region. */
void vdmux_pci_unmap_bar(struct pci_dev *pdev, int bar, void __iomem *addr);

/*
 * memcpy_fromio(), memcpy_toio() and memset_io() of a BAR mapping, in
 * chunks of 1 MiB with a rescheduling point between them (a whole BAR may
 * be copied under a mutex). The writes end with wmb(): the mapping is
 * write-combining, and what was written must be in the BAR, for another
 * CPU's mapping of it or the device, when they return.
 */
void vdmux_io_read(void *dst, const void __iomem *src, unsigned long len);
void vdmux_io_write(void __iomem *dst, const void *src, unsigned long len);
void vdmux_io_zero(void __iomem *dst, unsigned long len);

#endif /* VDMUX_PCI_HELPERS_H */
