// SPDX-License-Identifier: GPL-2.0

//! The faults served per virtual device, shown in fdinfo.

use super::Mux;
use crate::kernel_ext::fault::VmFault;
use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};

/// Faults served for one virtual device, shown in its fdinfo: what tells a
/// user (and the tests) whether its mappings get PMD entries and whether
/// its faults avoid `mmap_lock`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultCounts {
    /// Faults served with single pages (each maps its fault-around block).
    pub(crate) pages: u64,
    /// Faults served with one PMD entry.
    pub(crate) huge: u64,
    /// Of those, faults served under the per-VMA lock, without `mmap_lock`.
    pub(crate) vma_lock: u64,
    /// Of the single-page ones, faults served by `->map_pages` (fault-around of a
    /// read fault, in atomic context) without calling `->fault`.
    pub(crate) map_pages: u64,
}

/// One virtual device's fault counts, on a cache line of its own: the
/// counters of different vdevs sit side by side in `Mux::faults`, and faults
/// of different vdevs must not contend, not even for a line.
#[derive(Default)]
#[repr(align(64))]
pub(super) struct FaultCounters {
    pages: AtomicU64,
    huge: AtomicU64,
    vma_lock: AtomicU64,
    map_pages: AtomicU64,
}

impl FaultCounters {
    /// A fault served with single pages; `around` when by `->map_pages`.
    pub(super) fn count_pages(&self, fault: &VmFault, around: bool) {
        self.count(&self.pages, fault);
        if around {
            self.map_pages.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fault that inserted a PMD entry.
    pub(super) fn count_huge(&self, fault: &VmFault) {
        self.count(&self.huge, fault);
    }

    fn count(&self, counter: &AtomicU64, fault: &VmFault) {
        counter.fetch_add(1, Ordering::Relaxed);
        if fault.under_vma_lock() {
            self.vma_lock.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> FaultCounts {
        FaultCounts {
            pages: self.pages.load(Ordering::Relaxed),
            huge: self.huge.load(Ordering::Relaxed),
            vma_lock: self.vma_lock.load(Ordering::Relaxed),
            map_pages: self.map_pages.load(Ordering::Relaxed),
        }
    }
}

impl Mux {
    /// How many PMD blocks of where the bytes of `vdev` are now can be
    /// mapped with PMD entries (0 while removed; a block not yet allocated
    /// does not count), and the faults served for `vdev` so far.
    pub(crate) fn map_stats(&self, vdev: usize) -> (usize, FaultCounts) {
        let location = self.slots.shared(vdev);
        let blocks = location
            .store()
            .map_or(0, |store| store.huge_chunks(self.reserved_size()));
        (blocks, self.faults[vdev].snapshot())
    }
}
