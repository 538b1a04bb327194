/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel functions vdmux calls that are macros, static inlines or
 * missing from the kernel crate's bindings, wrapped with plain C types so
 * that bindgen generates their Rust declarations from this header (into
 * src/c_helpers_generated.rs, which src/helpers.rs includes) and the C
 * compiler checks c_helpers.c against it.
 */
#ifndef VDMUX_C_HELPERS_H
#define VDMUX_C_HELPERS_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#endif

struct address_space;
struct attribute_group;
struct fs_context;
struct iov_iter;
struct miscdevice;
struct rw_semaphore;
struct vm_area_struct;
struct vm_fault;

/* The magic number of vdmux's internal pseudo file system ("vdmx"). */
#define VDMUX_FS_MAGIC 0x76646d78

/* init_pseudo() for VDMUX_FS_MAGIC: 0, or -ENOMEM. */
int vdmux_init_pseudo(struct fs_context *fc);

/*
 * @size zero-filled bytes (a page multiple) in the vmalloc space, charged
 * to the caller's memory cgroup, or NULL (never at the price of an OOM
 * kill). With @huge (@size is then one PMD's worth), one physically
 * contiguous, naturally aligned block of pages is tried first, with light
 * compaction only (__GFP_NORETRY: a fragmented machine gives up at once
 * rather than stall the caller in direct compaction), and mapped for the
 * kernel with 4 KiB pages (vmap), like the fallback, a vmalloc area of 4 KiB
 * pages: the kernel's copies then cost the same whichever it got (copies
 * through the direct map's huge pages measured 10 times slower under QEMU's
 * TCG). *@block says which; vdmux_free_pages() needs it and the size.
 */
void *vdmux_alloc_pages(unsigned long size, bool huge, bool *block);
void vdmux_free_pages(const void *addr, unsigned long size, bool block);

/* The page frame of the page at @addr, from vdmux_alloc_pages(). */
unsigned long vdmux_page_pfn(const void *addr);

/*
 * si_mem_available() less 1/32 of all memory, in pages: what vdmux may
 * allocate without swapping or pushing the system towards the OOM killer
 * (an estimate), leaving a reserve to everyone else.
 */
unsigned long vdmux_mem_available_pages(void);

/*
 * memcpy() and memset() of buffers that user space may map, in chunks with
 * a rescheduling point between them: a copy of a whole buffer (up to 1 GiB)
 * runs under a mutex and must not hog the CPU.
 */
void vdmux_copy(void *dst, const void *src, unsigned long len);
void vdmux_zero(void *dst, unsigned long len);

/* Whether the page middle directory entry of the fault is a 2 MiB leaf. */
bool vdmux_fault_pmd_is_huge(const struct vm_fault *vmf);

/*
 * Whether @vma is being created by fork(): it belongs to another mm than
 * that of the current task, a user task (a kernel thread splitting another
 * mm's VMA opens it too).
 */
bool vdmux_vma_is_fork_copy(const struct vm_area_struct *vma);

/* Whether @vma has VM_MIXEDMAP, which a VM_PFNMAP mapping must not have. */
bool vdmux_vma_is_mixedmap(const struct vm_area_struct *vma);

/*
 * Zaps the entries of the parent's VMA that fork is copying into @copy: the
 * VMA of current->mm (whose mmap write lock fork holds) at the same
 * addresses. Other processes' mappings of the same pages are left alone.
 */
void vdmux_zap_fork_parent(struct vm_area_struct *copy);

/*
 * init_rwsem(): every lock it initialises is of one lockdep class, named
 * "vdmux::Slot::location" (the per-virtual-device location locks); only a
 * state change that moves two virtual devices nests one inside the other,
 * with down_write_nested().
 */
void vdmux_init_rwsem(struct rw_semaphore *sem);
void vdmux_down_write_nested(struct rw_semaphore *sem);

/*
 * copy_to_iter(), copy_from_iter() and iov_iter_zero() with page faults
 * disabled: they stop at the first user page that is not mapped and return
 * what they moved, so that they may run under a lock that a fault on that
 * page (a user buffer that is itself a vdmux mapping) takes.
 */
unsigned long vdmux_copy_to_iter_nofault(const void *src, unsigned long len,
					 struct iov_iter *i);
unsigned long vdmux_copy_from_iter_nofault(void *dst, unsigned long len,
					   struct iov_iter *i);
unsigned long vdmux_zero_iter_nofault(unsigned long len, struct iov_iter *i);

/*
 * Whether the page middle directory entry of the fault points to a page
 * table: not empty and not a 2 MiB leaf. Only then can ->map_pages, which
 * must not sleep, insert page table entries without allocating a table.
 */
bool vdmux_fault_pmd_has_table(const struct vm_fault *vmf);

/*
 * Whether the page middle directory entry of the fault is empty: a huge
 * fault that finds it filled (by a racing fault) has nothing to insert.
 */
bool vdmux_fault_pmd_is_none(const struct vm_fault *vmf);

/*
 * Whether a 2 MiB entry maps @addr of @vma, whose mm's mmap_lock the caller
 * holds; walks the page tables without allocating.
 */
bool vdmux_vma_pmd_is_huge(struct vm_area_struct *vma, unsigned long addr);

/*
 * Maps the @nr pages from @addr of @vma to the frames @pfns, pages of RAM
 * (write-back), as special PTEs (no reference to the page, so that
 * get_user_pages refuses them) with the VMA's protection: what
 * vmf_insert_pfn() does page by page, with one page table walk and one
 * lock of the page table for the run. Entries already present are left
 * alone. The run must lie inside the VMA, an accessible (not PROT_NONE)
 * VM_PFNMAP that is neither a VM_MIXEDMAP nor a COW mapping, and under one
 * page middle directory entry that is no 2 MiB leaf. Allocates a page
 * table only if that entry is empty. Returns 0 or -errno (-EINVAL for a
 * run that breaks these rules, -EACCES for a PROT_NONE VMA, -ENOMEM when
 * no page table could be allocated).
 */
int vdmux_insert_pfns(struct vm_area_struct *vma, unsigned long addr,
		      const unsigned long *pfns, unsigned long nr);

/*
 * vmf_insert_pfn() for a frame of I/O memory (its vm_fault_t, as an
 * unsigned int), write-combining (pgprot_writecombine(): the VMA's
 * protection is the cacheable one of the module's RAM, which the same VMA
 * maps while its virtual device is in the background; x86 PAT then picks
 * the memtype ioremap_wc() reserved, which agrees) and decrypted
 * (pgprot_decrypted(), as in io_remap_pfn_range()): device memory is never
 * encrypted under SME, SEV or TDX, while the VMA's protection is, for RAM.
 */
unsigned int vdmux_insert_io_pfn(struct vm_area_struct *vma, unsigned long addr,
				 unsigned long pfn);

/*
 * Whether 2 MiB entries may map I/O memory: vmf_insert_pfn_pmd() keeps the
 * VMA's cacheable, encrypted protection, which only x86 PAT corrects (to
 * the memtype of the BAR's ioremap_wc()); so only with PAT enabled, and
 * not where memory encryption is active.
 */
bool vdmux_io_huge_allowed(void);

/* Whether the fault holds the per-VMA lock rather than mmap_lock. */
bool vdmux_fault_under_vma_lock(const struct vm_fault *vmf);

/* Whether the fault is a write access. */
bool vdmux_fault_is_write(const struct vm_fault *vmf);

/* cond_resched(). */
void vdmux_cond_resched(void);

/* fatal_signal_pending(current). */
bool vdmux_fatal_signal_pending(void);

/*
 * sysfs attributes of the nodes, in the misc devices' own directories
 * (/sys/class/misc/vdmuxN/, /sys/class/misc/vdmux/), all read-only.
 */
enum vdmux_attr {
	VDMUX_ATTR_STATE,		/* vdmuxN/state */
	VDMUX_ATTR_GENERATION,		/* vdmuxN/generation */
	VDMUX_ATTR_FOREGROUND,		/* vdmux/foreground */
	VDMUX_ATTR_RESERVED_SIZE,	/* vdmux/reserved_size */
	VDMUX_ATTR_NR_VDEVS,		/* vdmux/nr_vdevs */
	VDMUX_ATTR_MAX_RESERVED_SIZE,	/* vdmux/max_reserved_size */
};

/*
 * Implemented in Rust (src/sysfs.rs): writes the text of @attr of the node
 * registered as @misc into @buf (a page) and returns its length, or a
 * negative errno.
 */
long vdmux_attr_show(struct miscdevice *misc, unsigned int attr, char *buf);

/* The attribute groups of a virtual device node and of the control node. */
const struct attribute_group **vdmux_vdev_attr_groups(void);
const struct attribute_group **vdmux_control_attr_groups(void);

/*
 * The poll events of a node: EPOLLPRI when @changed; on a virtual device
 * node (@vdev) EPOLLERR when @removed, else EPOLLIN | EPOLLRDNORM |
 * EPOLLOUT | EPOLLWRNORM.
 */
unsigned int vdmux_poll_events(bool vdev, bool removed, bool changed);

/* sysfs_notify() on attribute @attr of the node registered as @misc. */
void vdmux_sysfs_notify(struct miscdevice *misc, const char *attr);

/*
 * A sysfs_notify() of one attribute sent a little later (VDMUX_LATE_NOTIFY_MS),
 * once for every request made meanwhile: for a change that can come
 * thousands of times a second, where the workqueue round trip of each
 * sysfs_notify() would cost more than the change. Pollers are woken once
 * per burst, and read the value as it is then.
 */
#define VDMUX_LATE_NOTIFY_MS 10
struct vdmux_late_notify;

/* One for attribute @attr (a string that outlives it), attached to no node; NULL without memory. */
struct vdmux_late_notify *vdmux_late_notify_new(const char *attr);
/* Sends to the node registered as @misc from now on (until detach). */
void vdmux_late_notify_attach(struct vdmux_late_notify *n, struct miscdevice *misc);
/* Schedules a notification, unless one is pending already. */
void vdmux_late_notify_request(struct vdmux_late_notify *n);
/* Sends nothing from now on; returns once no notification is running. */
void vdmux_late_notify_detach(struct vdmux_late_notify *n);
/* Detaches and frees @n. */
void vdmux_late_notify_free(struct vdmux_late_notify *n);

/*
 * A KOBJ_CHANGE uevent for the node registered as @misc, with the
 * NULL-terminated "NAME=value" strings @envp; 0 or a negative errno.
 */
int vdmux_uevent(struct miscdevice *misc, char **envp);

#endif /* VDMUX_C_HELPERS_H */
