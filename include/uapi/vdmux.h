/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vdmux: one reserved buffer of device memory, multiplexed among virtual
 * devices that user space maps with mmap(2).
 *
 * Nodes:
 *   /dev/vdmux      the control node: resize, switch, eject, insert, status,
 *                   context management.
 *   /dev/vdmuxN     virtual device N: mmap (MAP_SHARED only), read, write,
 *                   lseek, and the read-only ioctls.
 *
 * Events: poll(2) on any node reports EPOLLPRI while the node's generation
 * (the one VDMUX_IOC_GET_STATUS returns through it) differs from the one
 * this open file last returned from VDMUX_IOC_GET_STATUS; a virtual device
 * node also reports EPOLLIN | EPOLLOUT (and their RDNORM/WRNORM forms)
 * while it is not removed and EPOLLERR while it is. Every state change of
 * virtual device N sends a "change" uevent for vdmuxN with
 * VDMUX_STATE=foreground|background|removed and VDMUX_GENERATION=<n>; a
 * resize sends one for vdmux with VDMUX_RESERVED_SIZE=<bytes> (a growth by
 * an autogrow store sends none).
 *
 * This header is the one source of truth for the ioctl numbers and the
 * structures; the driver and the tools are generated from it.
 */
#ifndef _UAPI_LINUX_VDMUX_H
#define _UAPI_LINUX_VDMUX_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Free in Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define VDMUX_IOC_MAGIC 0xB9

/* vdmux_status.index on the control node. */
#define VDMUX_CONTROL 0xffffffffU
/* vdmux_status.foreground when no virtual device is in the foreground. */
#define VDMUX_NONE 0xffffffffU

/* Virtual device states (vdmux_status.state). */
#define VDMUX_STATE_FOREGROUND 0U /* its pages are the device memory */
#define VDMUX_STATE_BACKGROUND 1U /* its pages are its backing store */
#define VDMUX_STATE_REMOVED 2U    /* ejected: every access fails */
/* vdmux_status.state on the control node. */
#define VDMUX_STATE_CONTROL 3U

/**
 * struct vdmux_status - what VDMUX_IOC_GET_STATUS returns
 * @index:         the virtual device, or VDMUX_CONTROL on the control node
 * @state:         VDMUX_STATE_*
 * @foreground:    index of the foreground virtual device, or VDMUX_NONE
 * @nr_vdevs:      number of virtual devices
 * @reserved_size: size of the reserved buffer in bytes (a page multiple)
 * @generation:    bumped on every state change of this virtual device; on
 *                 the control node, on any change of any of them
 *
 * Fixed size, naturally aligned, no pointers: the same layout for 32-bit
 * and 64-bit user space.
 */
struct vdmux_status {
	__u32 index;
	__u32 state;
	__u32 foreground;
	__u32 nr_vdevs;
	__u64 reserved_size;
	__u64 generation;
};

/* Any node: the reserved size in bytes. */
#define VDMUX_IOC_GET_RESERVED_SIZE _IOR(VDMUX_IOC_MAGIC, 0x00, __u64)
/* Control node: resize the reserved buffer (rounded up to a page). */
#define VDMUX_IOC_SET_RESERVED_SIZE _IOW(VDMUX_IOC_MAGIC, 0x01, __u64)
/* Control node; the argument is the virtual device index, by value. */
#define VDMUX_IOC_SWITCH _IO(VDMUX_IOC_MAGIC, 0x02)
#define VDMUX_IOC_EJECT _IO(VDMUX_IOC_MAGIC, 0x03)
#define VDMUX_IOC_INSERT _IO(VDMUX_IOC_MAGIC, 0x04)
/* Any node. */
#define VDMUX_IOC_GET_STATUS _IOR(VDMUX_IOC_MAGIC, 0x05, struct vdmux_status)
/*
 * Any node, no privilege; the argument is a virtual device index, by value.
 * Returns 0 at once if that virtual device is the foreground, else blocks
 * until it becomes the foreground. Interruptible (EINTR, or restarted with
 * SA_RESTART), like VT_WAITACTIVE.
 */
#define VDMUX_IOC_WAIT_FOREGROUND _IO(VDMUX_IOC_MAGIC, 0x06)

/*
 * Virtual device node, on a file open for writing (else EBADF); the
 * argument is 0 or 1, by value (else EINVAL). With 1, writable MAP_SHARED
 * mappings made through this open file from then on are autogrow mappings
 * (IRIX MAP_AUTOGROW): they may extend past the reserved size, up to the
 * module's max_reserved_size, and a store to a page past the reserved size
 * grows the reserved size to the end of that page (every virtual device's
 * bytes kept, the new bytes zero), while a load there raises SIGBUS. A
 * growth that cannot be allocated raises SIGBUS and changes nothing.
 * Mappings made before the call keep what they had.
 */
#define VDMUX_IOC_SET_AUTOGROW _IO(VDMUX_IOC_MAGIC, 0x07)

/**
 * struct vdmux_range - a range of the caller's address space
 * @addr: start address, page aligned
 * @len:  length in bytes, a non-zero page multiple
 */
struct vdmux_range {
	__u64 addr;
	__u64 len;
};

/*
 * Virtual device node: maps every page of [addr, addr + len) of the
 * caller's mappings of this virtual device now, as the faults of a first
 * touch would (MAP_POPULATE and MADV_POPULATE_* cannot: the pages of a
 * VM_PFNMAP are no struct pages to get_user_pages). The range must be
 * covered by mappings of this virtual device made through any of its nodes
 * (else EFAULT), inside the reserved size (else ENXIO); EINVAL for an
 * unaligned or empty range, ENODEV while the virtual device is removed.
 * Like a fault, what it maps is revoked by the next state change.
 */
#define VDMUX_IOC_POPULATE _IOW(VDMUX_IOC_MAGIC, 0x08, struct vdmux_range)

/**
 * struct vdmux_ctxmgt - device context management (VDMUX_IOC_SET_CTXMGT)
 * @enable:     0 (the default) or 1
 * @timeout_ms: 0..10000 (default 0): how long a virtual device that became
 *              the foreground keeps the device memory before an access to
 *              another one takes it
 *
 * Enabled, an access (a load or a store through any mapping, or
 * VDMUX_IOC_POPULATE) to a page of a background virtual device makes that
 * virtual device the foreground, as VDMUX_IOC_SWITCH would (generations
 * and notifications included), once the foreground has held the device
 * memory for @timeout_ms; the access then completes on the device memory.
 * Waiting accesses are served in the order their virtual devices were
 * first waited for; the wait ends at once on a fatal signal. Enabling
 * revokes every background virtual device's mappings. read(2) and
 * write(2) of a background virtual device still use its backing store.
 */
struct vdmux_ctxmgt {
	__u32 enable;
	__u32 timeout_ms;
};

/* Largest vdmux_ctxmgt.timeout_ms. */
#define VDMUX_CTXMGT_MAX_TIMEOUT_MS 10000U

/*
 * Control node (ENOTTY on a virtual device node), CAP_SYS_ADMIN (EPERM,
 * checked first); EINVAL for enable > 1 or timeout_ms above
 * VDMUX_CTXMGT_MAX_TIMEOUT_MS.
 */
#define VDMUX_IOC_SET_CTXMGT _IOW(VDMUX_IOC_MAGIC, 0x09, struct vdmux_ctxmgt)
/* Any node. */
#define VDMUX_IOC_GET_CTXMGT _IOR(VDMUX_IOC_MAGIC, 0x0a, struct vdmux_ctxmgt)

#endif /* _UAPI_LINUX_VDMUX_H */
