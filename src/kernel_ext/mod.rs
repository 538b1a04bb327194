// SPDX-License-Identifier: GPL-2.0

//! What the 7.3 kernel crate lacks and vdmux needs: VMA operations and
//! faults, page frame insertion, VMA geometry, the calling process's VMAs,
//! a shared `address_space`, a reader-writer semaphore, misc nodes with data
//! of their own, and a few task, poll and I/O vector calls. Nothing here knows the driver: each file imports only
//! the kernel crate and the C wrappers (`crate::helpers`), and says where
//! upstream it would belong.

pub(crate) mod anon_mapping;
pub(crate) mod fault;
pub(crate) mod iov;
pub(crate) mod misc_node;
pub(crate) mod pfnmap;
pub(crate) mod poll_events;
pub(crate) mod rwsem;
pub(crate) mod task;
pub(crate) mod user_vmas;
pub(crate) mod vma_geometry;
pub(crate) mod vma_ops;
