// SPDX-License-Identifier: GPL-2.0

//! What the 7.3 kernel crate lacks and vdmux needs: VMA operations and
//! faults, page frame insertion, VMA geometry, the calling process's VMAs,
//! a shared `address_space`, a reader-writer semaphore, misc nodes with data,
//! sysfs attributes and notifications of their own, buffers of pages user
//! space may map, a PCI BAR mapped write-combining, long copies in pieces,
//! a box that can be taken away, a killable and freezable wait, the
//! fault-retry protocol, and a few task, poll and I/O vector calls; and,
//! in `compat`, one spelling for what differs between the 7.2 and 7.3
//! kernel crates. Nothing here knows the driver: each file imports
//! only the kernel crate, its siblings and the C wrappers
//! (`crate::helpers`, `crate::pci_helpers`), and says where upstream it
//! would belong and what the kernel crate lacks.

pub(crate) mod anon_mapping;
pub(crate) mod atomic_box;
pub(crate) mod chunked_copy;
pub(crate) mod compat;
pub(crate) mod fault;
pub(crate) mod iov;
pub(crate) mod misc_node;
pub(crate) mod node_attrs;
pub(crate) mod node_events;
pub(crate) mod page_buffer;
pub(crate) mod pfnmap;
pub(crate) mod poll_events;
pub(crate) mod rwsem;
pub(crate) mod seq_wait;
pub(crate) mod task;
pub(crate) mod user_vmas;
pub(crate) mod vma_geometry;
pub(crate) mod vma_ops;
pub(crate) mod wc_bar;
