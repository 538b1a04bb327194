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
#include <linux/poll.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#ifdef CONFIG_X86_PAT
#include <asm/memtype.h>
#endif

#include "c_helpers.h"

/* How much vdmux_copy() and vdmux_zero() move between rescheduling points. */
#define VDMUX_COPY_CHUNK (1UL << 20)

int vdmux_init_pseudo(struct fs_context *fc)
{
	return init_pseudo(fc, VDMUX_FS_MAGIC) ? 0 : -ENOMEM;
}

void *vdmux_alloc_pages(unsigned long size, bool huge, bool *block)
{
	/*
	 * The size comes from user space and a failure reaches it as ENOMEM
	 * or SIGBUS: no warning in the log, and no OOM kill (of a task of the
	 * caller's memory cgroup, or of anyone) to make room for it.
	 */
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN;
	unsigned long i, nr = size >> PAGE_SHIFT;

	*block = false;
	if (huge) {
		struct page *page = alloc_pages(gfp | __GFP_NORETRY, get_order(size));
		struct page **pages;
		void *addr = NULL;

		if (page) {
			pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL | __GFP_NOWARN);
			if (pages) {
				for (i = 0; i < nr; i++)
					pages[i] = page + i;
				addr = vmap(pages, nr, VM_MAP, PAGE_KERNEL);
				kvfree(pages);
			}
			if (addr) {
				*block = true;
				return addr;
			}
			__free_pages(page, get_order(size));
		}
	}
	return __vmalloc(size, gfp | __GFP_RETRY_MAYFAIL);
}

void vdmux_free_pages(const void *addr, unsigned long size, bool block)
{
	if (block) {
		struct page *page = vmalloc_to_page(addr);

		vunmap(addr);
		__free_pages(page, get_order(size));
	} else {
		vfree(addr);
	}
}

unsigned long vdmux_page_pfn(const void *addr)
{
	return vmalloc_to_pfn(addr);
}

unsigned long vdmux_mem_available_pages(void)
{
	/* 1/32 of the memory is left to everyone else. */
	long reserve = totalram_pages() / 32;

	return max(si_mem_available() - reserve, 0L);
}

void vdmux_copy(void *dst, const void *src, unsigned long len)
{
	while (len) {
		unsigned long n = min(len, VDMUX_COPY_CHUNK);

		memcpy(dst, src, n);
		dst += n;
		src += n;
		len -= n;
		cond_resched();
	}
}

void vdmux_zero(void *dst, unsigned long len)
{
	while (len) {
		unsigned long n = min(len, VDMUX_COPY_CHUNK);

		memset(dst, 0, n);
		dst += n;
		len -= n;
		cond_resched();
	}
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
	return apply_to_page_range(vma->vm_mm, addr, size, vdmux_set_pfn_pte, &run);
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

bool vdmux_fault_under_vma_lock(const struct vm_fault *vmf)
{
	return vmf->flags & FAULT_FLAG_VMA_LOCK;
}

bool vdmux_fault_is_write(const struct vm_fault *vmf)
{
	return vmf->flags & FAULT_FLAG_WRITE;
}

void vdmux_init_rwsem(struct rw_semaphore *sem)
{
	static struct lock_class_key key;

	__init_rwsem(sem, "vdmux::Slot::location", &key);
}

void vdmux_down_write_nested(struct rw_semaphore *sem)
{
	down_write_nested(sem, SINGLE_DEPTH_NESTING);
}

unsigned long vdmux_copy_to_iter_nofault(const void *src, unsigned long len,
					 struct iov_iter *i)
{
	unsigned long n;

	pagefault_disable();
	n = copy_to_iter(src, len, i);
	pagefault_enable();
	return n;
}

unsigned long vdmux_copy_from_iter_nofault(void *dst, unsigned long len,
					   struct iov_iter *i)
{
	unsigned long n;

	pagefault_disable();
	n = copy_from_iter(dst, len, i);
	pagefault_enable();
	return n;
}

unsigned long vdmux_zero_iter_nofault(unsigned long len, struct iov_iter *i)
{
	unsigned long n;

	pagefault_disable();
	n = iov_iter_zero(len, i);
	pagefault_enable();
	return n;
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

void vdmux_cond_resched(void)
{
	cond_resched();
}

bool vdmux_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

#define VDMUX_ATTR(_name, _id)							\
	static ssize_t _name##_show(struct device *dev,				\
				    struct device_attribute *attr, char *buf)	\
	{									\
		return vdmux_attr_show(dev_get_drvdata(dev), _id, buf);		\
	}									\
	static DEVICE_ATTR_RO(_name)

VDMUX_ATTR(state, VDMUX_ATTR_STATE);
VDMUX_ATTR(generation, VDMUX_ATTR_GENERATION);
VDMUX_ATTR(foreground, VDMUX_ATTR_FOREGROUND);
VDMUX_ATTR(reserved_size, VDMUX_ATTR_RESERVED_SIZE);
VDMUX_ATTR(nr_vdevs, VDMUX_ATTR_NR_VDEVS);
VDMUX_ATTR(max_reserved_size, VDMUX_ATTR_MAX_RESERVED_SIZE);

static struct attribute *vdmux_vdev_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_generation.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vdmux_vdev);

static struct attribute *vdmux_control_attrs[] = {
	&dev_attr_foreground.attr,
	&dev_attr_reserved_size.attr,
	&dev_attr_nr_vdevs.attr,
	&dev_attr_max_reserved_size.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vdmux_control);

const struct attribute_group **vdmux_vdev_attr_groups(void)
{
	return vdmux_vdev_groups;
}

const struct attribute_group **vdmux_control_attr_groups(void)
{
	return vdmux_control_groups;
}

unsigned int vdmux_poll_events(bool vdev, bool removed, bool changed)
{
	__poll_t events = changed ? EPOLLPRI : 0;

	if (vdev)
		events |= removed ? EPOLLERR : EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM;
	return (__force unsigned int)events;
}

void vdmux_sysfs_notify(struct miscdevice *misc, const char *attr)
{
	sysfs_notify(&misc->this_device->kobj, NULL, attr);
}

struct vdmux_late_notify {
	struct delayed_work work;
	struct miscdevice *misc;
	const char *attr;
};

static void vdmux_late_notify_run(struct work_struct *work)
{
	struct vdmux_late_notify *n = container_of(to_delayed_work(work),
						   struct vdmux_late_notify, work);
	/* detach() clears it before it waits for this to return. */
	struct miscdevice *misc = READ_ONCE(n->misc);

	if (misc)
		sysfs_notify(&misc->this_device->kobj, NULL, n->attr);
}

struct vdmux_late_notify *vdmux_late_notify_new(const char *attr)
{
	struct vdmux_late_notify *n = kzalloc(sizeof(*n), GFP_KERNEL);

	if (n) {
		INIT_DELAYED_WORK(&n->work, vdmux_late_notify_run);
		n->attr = attr;
	}
	return n;
}

void vdmux_late_notify_attach(struct vdmux_late_notify *n, struct miscdevice *misc)
{
	WRITE_ONCE(n->misc, misc);
}

void vdmux_late_notify_request(struct vdmux_late_notify *n)
{
	schedule_delayed_work(&n->work, msecs_to_jiffies(VDMUX_LATE_NOTIFY_MS));
}

void vdmux_late_notify_detach(struct vdmux_late_notify *n)
{
	WRITE_ONCE(n->misc, NULL);
	cancel_delayed_work_sync(&n->work);
}

void vdmux_late_notify_free(struct vdmux_late_notify *n)
{
	vdmux_late_notify_detach(n);
	kfree(n);
}

int vdmux_uevent(struct miscdevice *misc, char **envp)
{
	return kobject_uevent_env(&misc->this_device->kobj, KOBJ_CHANGE, envp);
}
