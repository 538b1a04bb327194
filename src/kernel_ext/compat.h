/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of src/kernel_ext/compat.rs: where the 7.2 and 7.3 kernels'
 * C interfaces that vdmux's C helpers call differ, 7.3's spelling for 7.2.
 * Included after <linux/mm.h>.
 */
#ifndef VDMUX_KERNEL_EXT_COMPAT_H
#define VDMUX_KERNEL_EXT_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(7, 3, 0)
/* 7.3 tests a VMA's flags through the VMA; 7.2 through its vm_flags word. */
static inline bool vma_is_cow_mapping(const struct vm_area_struct *vma)
{
	return is_cow_mapping(vma->vm_flags);
}
#endif

#endif /* VDMUX_KERNEL_EXT_COMPAT_H */
