// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of vdmux: see c_helpers.h.
 */
#include <linux/cc_platform.h>
#include <linux/device.h>
#include <linux/gfp.h>
#include <linux/kobject.h>
#include <linux/minmax.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/pgtable.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#ifdef CONFIG_X86_PAT
#include <asm/memtype.h>
#endif

#include "c_helpers.h"
#include "kernel_ext/compat.h"

/*
 * Allocations whose size comes from user space: zeroed, charged to the
 * caller's memory cgroup, no warning in the log and no OOM kill (of a task
 * of the caller's memory cgroup, or of anyone) to make room for them.
 */
#define VDMUX_USER_GFP (GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN)

/* src/kernel_ext/vma_geometry.rs computes PMD_SHIFT from PAGE_SHIFT. */
static_assert(PMD_SHIFT == 2 * PAGE_SHIFT - 3,
	      "a page table is not one page of 8-byte entries");

int vdmux_init_pseudo(struct fs_context *fc)
{
	return init_pseudo(fc, VDMUX_FS_MAGIC) ? 0 : -ENOMEM;
}

struct page *vdmux_alloc_block(unsigned int order)
{
	return alloc_pages(VDMUX_USER_GFP | __GFP_NORETRY, order);
}

void *vdmux_vmap(struct page **pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

void *vdmux_vmalloc(unsigned long size)
{
	return __vmalloc(size, VDMUX_USER_GFP | __GFP_RETRY_MAYFAIL);
}

void vdmux_vunmap(const void *addr)
{
	vunmap(addr);
}

void vdmux_vfree(const void *addr)
{
	vfree(addr);
}

unsigned long vdmux_totalram_pages(void)
{
	return totalram_pages();
}

bool vdmux_fault_pmd_is_huge(const struct vm_fault *vmf)
{
	return pmd_trans_huge(pmdp_get_lockless(vmf->pmd));
}

bool vdmux_fault_pmd_has_table(const struct vm_fault *vmf)
{
	pmd_t pmd = pmdp_get_lockless(vmf->pmd);

	return pmd_present(pmd) && !pmd_none(pmd) && !pmd_trans_huge(pmd) && !pmd_leaf(pmd);
}

bool vdmux_fault_pmd_is_none(const struct vm_fault *vmf)
{
	return pmd_none(pmdp_get_lockless(vmf->pmd));
}

bool vdmux_vma_pmd_is_huge(struct vm_area_struct *vma, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(vma->vm_mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(pgdp_get(pgd)) || pgd_bad(pgdp_get(pgd)))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(p4dp_get(p4d)) || p4d_bad(p4dp_get(p4d)))
		return false;
	pud = pud_offset(p4d, addr);
	if (!pud_present(pudp_get(pud)) || pud_leaf(pudp_get(pud)))
		return false;
	return pmd_trans_huge(pmdp_get_lockless(pmd_offset(pud, addr)));
}

struct vdmux_pfn_run {
	struct vm_area_struct *vma;
	unsigned long start;
	const unsigned long *pfns;
	pgprot_t prot;
};

/*
 * arm64's set_pte_at() has every update checked by pgattr_change_is_safe()
 * when CONFIG_DEBUG_VM is set, and that is not exported to modules: there
 * each frame of a run is mapped by vmf_insert_pfn_prot(), which does what
 * vdmux_set_pfn_pte() does (a special PTE, nothing over a present entry),
 * with one walk and one lock of the page table per page. The same path on
 * every arm64 kernel, so that what the debug kernel tests is what runs.
 */
#ifdef CONFIG_ARM64
static int vdmux_insert_pfn_run(struct vdmux_pfn_run *run, unsigned long nr)
{
	unsigned long i;
	vm_fault_t ret;

	for (i = 0; i < nr; i++) {
		ret = vmf_insert_pfn_prot(run->vma, run->start + (i << PAGE_SHIFT), run->pfns[i],
					  run->prot);
		if (ret == VM_FAULT_OOM)
			return -ENOMEM;
		if (ret != VM_FAULT_NOPAGE)
			return -EFAULT;
	}
	return 0;
}
#else
static int vdmux_set_pfn_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct vdmux_pfn_run *run = data;
	unsigned long pfn = run->pfns[(addr - run->start) >> PAGE_SHIFT];

	/* As insert_pfn() in mm/memory.c, which the page table lock orders. */
	if (pte_none(ptep_get(pte))) {
		set_pte_at(run->vma->vm_mm, addr, pte, pte_mkspecial(pfn_pte(pfn, run->prot)));
		update_mmu_cache(run->vma, addr, pte);
	}
	return 0;
}

static int vdmux_insert_pfn_run(struct vdmux_pfn_run *run, unsigned long nr)
{
	return apply_to_page_range(run->vma->vm_mm, run->start, nr << PAGE_SHIFT,
				   vdmux_set_pfn_pte, run);
}
#endif

int vdmux_insert_pfns(struct vm_area_struct *vma, unsigned long addr,
		      const unsigned long *pfns, unsigned long nr)
{
	struct vdmux_pfn_run run = {
		.vma = vma,
		.start = addr,
		.pfns = pfns,
		.prot = vma->vm_page_prot,
	};
	unsigned long size = nr << PAGE_SHIFT;

	if (!nr || nr > PTRS_PER_PTE || addr & ~PAGE_MASK || addr < vma->vm_start ||
	    addr >= vma->vm_end || size > vma->vm_end - addr ||
	    (addr & PMD_MASK) != ((addr + size - 1) & PMD_MASK) ||
	    !(vma->vm_flags & VM_PFNMAP) || (vma->vm_flags & VM_MIXEDMAP) ||
	    vma_is_cow_mapping(vma))
		return -EINVAL;
	/*
	 * vmf_insert_pfn() refuses the entries pfn_modify_allowed() forbids
	 * (L1TF), which only a PROT_NONE protection can make: refuse an
	 * inaccessible VMA, on which nothing faults anyway.
	 */
	if (!vma_is_accessible(vma))
		return -EACCES;
	return vdmux_insert_pfn_run(&run, nr);
}

unsigned int vdmux_insert_io_pfn(struct vm_area_struct *vma, unsigned long addr,
				 unsigned long pfn)
{
	pgprot_t prot = pgprot_decrypted(pgprot_writecombine(vma->vm_page_prot));

	return (__force unsigned int)vmf_insert_pfn_prot(vma, addr, pfn, prot);
}

bool vdmux_io_huge_allowed(void)
{
#ifdef CONFIG_X86_PAT
	return pat_enabled() && !cc_platform_has(CC_ATTR_MEM_ENCRYPT);
#else
	return false;
#endif
}

void vdmux_down_write_nested(struct rw_semaphore *sem, int subclass)
{
	down_write_nested(sem, subclass);
}

void vdmux_pagefault_disable(void)
{
	pagefault_disable();
}

void vdmux_pagefault_enable(void)
{
	pagefault_enable();
}

bool vdmux_vma_is_fork_copy(const struct vm_area_struct *vma)
{
	/*
	 * A VMA of another mm is also opened by a kernel thread that splits
	 * it (DAMON's madvise of a target mm): such a task has no mm of its
	 * own, and is no fork.
	 */
	return current->mm && !(current->flags & PF_KTHREAD) && vma->vm_mm != current->mm;
}

bool vdmux_vma_is_mixedmap(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_MIXEDMAP;
}

void vdmux_zap_fork_parent(struct vm_area_struct *copy)
{
	struct vm_area_struct *parent;

	mmap_assert_write_locked(current->mm);
	parent = vma_lookup(current->mm, copy->vm_start);
	if (parent && parent->vm_file == copy->vm_file &&
	    parent->vm_end == copy->vm_end && parent->vm_pgoff == copy->vm_pgoff)
		zap_special_vma_range(parent, parent->vm_start,
				      parent->vm_end - parent->vm_start);
	else
		unmap_mapping_pages(copy->vm_file->f_mapping, copy->vm_pgoff,
				    vma_pages(copy), true);
}

void vdmux_fault_release_lock(struct vm_fault *vmf)
{
	release_fault_lock(vmf);
}

struct file *vdmux_fault_get_file(struct vm_fault *vmf)
{
	return get_file(vmf->vma->vm_file);
}

void vdmux_fput(struct file *file)
{
	fput(file);
}

unsigned int vdmux_fault_retry(bool waited)
{
	return (__force unsigned int)(waited ? VM_FAULT_RETRY | VM_FAULT_MAJOR : VM_FAULT_RETRY);
}

struct wait_queue_head *vdmux_waitq_new(void)
{
	struct wait_queue_head *wq = kmalloc(sizeof(*wq), GFP_KERNEL);

	if (wq)
		init_waitqueue_head(wq);
	return wq;
}

void vdmux_waitq_free(struct wait_queue_head *wq)
{
	kfree(wq);
}

void vdmux_waitq_wake_all(struct wait_queue_head *wq)
{
	wake_up_all(wq);
}

long vdmux_waitq_wait(struct wait_queue_head *wq, const unsigned long *seq,
		      unsigned long seen, long timeout, bool freezable)
{
	unsigned int state = TASK_KILLABLE | (freezable ? TASK_FREEZABLE : 0);
	long __ret = timeout;

	might_sleep();
	if (___wait_cond_timeout(READ_ONCE(*seq) != seen))
		return __ret;
	return ___wait_event(*wq, ___wait_cond_timeout(READ_ONCE(*seq) != seen),
			     state, 0, timeout, __ret = schedule_timeout(__ret));
}

long vdmux_max_schedule_timeout(void)
{
	return MAX_SCHEDULE_TIMEOUT;
}

void vdmux_cond_resched(void)
{
	cond_resched();
}

bool vdmux_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void vdmux_init_delayed_work(struct delayed_work *dwork, void (*func)(struct work_struct *work))
{
	INIT_DELAYED_WORK(dwork, func);
}

bool vdmux_schedule_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	return schedule_delayed_work(dwork, delay);
}
