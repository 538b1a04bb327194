/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel functions vdmux's PCI device memory needs that are macros or
 * static inlines (or macros on some architectures): the device_memory=
 * module parameter, a PCI BAR's resource flags, and memset_io(). Wrapped
 * with plain C types so that bindgen generates their Rust declarations from
 * this header (into src/pci_helpers_generated.rs, which src/pci_helpers.rs
 * includes) and the C compiler checks pci_helpers.c against it, as for
 * c_helpers.h.
 */
#ifndef VDMUX_PCI_HELPERS_H
#define VDMUX_PCI_HELPERS_H

#ifndef __KERNEL__
#define __iomem
#endif

struct pci_dev;

/*
 * The text of the device_memory= module parameter ("ram" unless given).
 * Rust's module! has no string parameters, so this one is C's (charp);
 * src/config.rs validates it when the module loads.
 */
const char *vdmux_device_memory_param(void);

/* pci_resource_flags(@pdev, @bar): the IORESOURCE_* flags of a BAR. */
unsigned long vdmux_pci_resource_flags(struct pci_dev *pdev, int bar);

/* memset_io(). */
void vdmux_memset_io(void __iomem *dst, int c, unsigned long len);

/* wmb(): the 7.2 kernel crate has no mandatory barrier (barrier::mb). */
void vdmux_wmb(void);

#endif /* VDMUX_PCI_HELPERS_H */
