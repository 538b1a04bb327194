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
struct page;
struct delayed_work;
struct fs_context;
struct rw_semaphore;
struct vm_area_struct;
struct vm_fault;
struct wait_queue_head;
struct work_struct;

/* The magic number of vdmux's internal pseudo file system ("vdmx"). */
#define VDMUX_FS_MAGIC 0x76646d78

/* init_pseudo() for VDMUX_FS_MAGIC: 0, or -ENOMEM. */
int vdmux_init_pseudo(struct fs_context *fc);

/*
 * The allocations of a buffer of pages that user space may map: zeroed,
 * charged to the caller's memory cgroup, never at the price of a warning or
 * an OOM kill. vdmux_alloc_block(): one naturally aligned block of 2^@order
 * pages, with light compaction only (__GFP_NORETRY), or NULL.
 * vdmux_vmap(): maps @count pages for the kernel with page-sized entries
 * (vmap(VM_MAP, PAGE_KERNEL)). vdmux_vmalloc(): a __vmalloc() area of @size
 * bytes, tried hard (__GFP_RETRY_MAYFAIL), or NULL.
 */
struct page *vdmux_alloc_block(unsigned int order);
void *vdmux_vmap(struct page **pages, unsigned int count);
void *vdmux_vmalloc(unsigned long size);
/* vunmap() and vfree(), which the kernel crate's bindings lack. */
void vdmux_vunmap(const void *addr);
void vdmux_vfree(const void *addr);

/* totalram_pages(). */
unsigned long vdmux_totalram_pages(void);

/* Whether the page middle directory entry of the fault is a PMD leaf. */
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

/* down_write_nested(), a macro without lockdep. */
void vdmux_down_write_nested(struct rw_semaphore *sem, int subclass);

/* pagefault_disable() and pagefault_enable(). */
void vdmux_pagefault_disable(void);
void vdmux_pagefault_enable(void);

/*
 * Whether the page middle directory entry of the fault points to a page
 * table: not empty and not a PMD leaf. Only then can ->map_pages, which
 * must not sleep, insert page table entries without allocating a table.
 */
bool vdmux_fault_pmd_has_table(const struct vm_fault *vmf);

/*
 * Whether the page middle directory entry of the fault is empty: a huge
 * fault that finds it filled (by a racing fault) has nothing to insert.
 */
bool vdmux_fault_pmd_is_none(const struct vm_fault *vmf);

/*
 * Whether a PMD entry maps @addr of @vma, whose mm's mmap_lock the caller
 * holds; walks the page tables without allocating.
 */
bool vdmux_vma_pmd_is_huge(struct vm_area_struct *vma, unsigned long addr);

/*
 * Maps the @nr pages from @addr of @vma to the frames @pfns, pages of RAM
 * (write-back), as special PTEs (no reference to the page, so that
 * get_user_pages refuses them) with the VMA's protection: what
 * vmf_insert_pfn() does page by page, with one page table walk and one
 * lock of the page table for the run (on arm64 by vmf_insert_pfn_prot(),
 * page by page: see c_helpers.c). Entries already present are left
 * alone. The run must lie inside the VMA, an accessible (not PROT_NONE)
 * VM_PFNMAP that is neither a VM_MIXEDMAP nor a COW mapping, and under one
 * page middle directory entry that is no PMD leaf. Allocates a page
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
 * Whether PMD entries may map I/O memory: vmf_insert_pfn_pmd() keeps the
 * VMA's cacheable, encrypted protection, which only x86 PAT corrects (to
 * the memtype of the BAR's ioremap_wc()); so only with PAT enabled, and
 * not where memory encryption is active.
 */
bool vdmux_io_huge_allowed(void);

/*
 * release_fault_lock(): releases the per-VMA lock or mmap_lock the fault
 * holds, as __folio_lock_or_retry() does before it waits and returns
 * VM_FAULT_RETRY. Nothing of the fault's VMA may be used after.
 */
void vdmux_fault_release_lock(struct vm_fault *vmf);

/*
 * get_file() of the fault's VMA's file, taken before its lock is released:
 * the file, and the module that owns its fops, outlive the VMA until
 * vdmux_fput(), which defers the last release to task work (or a
 * workqueue), after the caller's code has returned.
 */
struct file *vdmux_fault_get_file(struct vm_fault *vmf);
void vdmux_fput(struct file *file);

/*
 * VM_FAULT_RETRY, as the unsigned int of vm_fault_t; with VM_FAULT_MAJOR
 * when @waited (the fault released its lock and waited, as for I/O), so
 * that the kernel counts the retried fault as a major one whether the first
 * try held the per-VMA lock or mmap_lock.
 */
unsigned int vdmux_fault_retry(bool waited);

/*
 * A wait queue head of its own allocation (kmalloc, init_waitqueue_head()),
 * or NULL; freed with vdmux_waitq_free() once nobody waits on it.
 */
struct wait_queue_head *vdmux_waitq_new(void);
void vdmux_waitq_free(struct wait_queue_head *wq);
/* wake_up_all(). */
void vdmux_waitq_wake_all(struct wait_queue_head *wq);
/*
 * Sleeps on @wq, killable and freezable (TASK_KILLABLE | TASK_FREEZABLE),
 * until READ_ONCE(*@seq) != @seen or @timeout jiffies pass
 * (MAX_SCHEDULE_TIMEOUT: no limit). The condition is checked after the
 * task is queued, so a waker that changes *@seq then calls
 * vdmux_waitq_wake_all() is never missed. Returns > 0 once *@seq changed,
 * 0 on timeout, -ERESTARTSYS on a fatal signal. No lock may be held (the
 * freezer may freeze the task while it sleeps).
 */
long vdmux_waitq_wait(struct wait_queue_head *wq, const unsigned long *seq,
		      unsigned long seen, long timeout, bool freezable);
/* MAX_SCHEDULE_TIMEOUT. */
long vdmux_max_schedule_timeout(void);

/* cond_resched(). */
void vdmux_cond_resched(void);

/* fatal_signal_pending(current). */
bool vdmux_fatal_signal_pending(void);

/* INIT_DELAYED_WORK() and schedule_delayed_work(). */
void vdmux_init_delayed_work(struct delayed_work *dwork, void (*func)(struct work_struct *work));
bool vdmux_schedule_delayed_work(struct delayed_work *dwork, unsigned long delay);

#endif /* VDMUX_C_HELPERS_H */
