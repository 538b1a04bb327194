// SPDX-License-Identifier: GPL-2.0

//! Module parameters, validated once at load time.

use kernel::page::PAGE_SIZE;

/// Most virtual devices one load may have.
pub(crate) const MAX_VDEVS: u32 = 64;
/// The largest `fault_around_pages` accepted: one page table's worth.
pub(crate) const MAX_FAULT_AROUND: u32 = 512;
/// The largest `max_reserved_size` accepted: 1 GiB.
pub(crate) const MAX_RESERVED_LIMIT: u64 = 1 << 30;

/// The validated parameters of one load of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) nr_vdevs: usize,
    /// Initial size of the reserved buffer, a page multiple.
    pub(crate) reserved_size: usize,
    /// Largest size `VDMUX_IOC_SET_RESERVED_SIZE` accepts, a page multiple.
    pub(crate) max_reserved_size: usize,
    /// Pages a fault maps at once (the aligned block around the fault).
    pub(crate) fault_around_pages: usize,
}

/// Rounds `size` up to a whole number of pages; `None` on overflow.
pub(crate) fn page_align(size: u64) -> Option<u64> {
    let page = PAGE_SIZE as u64;
    Some(size.checked_add(page - 1)? / page * page)
}

impl Config {
    /// Checks the raw parameter values. The error is the message for
    /// `pr_err`; insmod then fails with `EINVAL`.
    pub(crate) fn new(
        nr_vdevs: u32,
        reserved_size: u64,
        max_reserved_size: u64,
        fault_around_pages: u32,
    ) -> Result<Self, &'static str> {
        if !(1..=MAX_VDEVS).contains(&nr_vdevs) {
            return Err("nr_vdevs must be between 1 and 64");
        }
        if !(1..=MAX_FAULT_AROUND).contains(&fault_around_pages)
            || !fault_around_pages.is_power_of_two()
        {
            return Err("fault_around_pages must be a power of two between 1 and 512");
        }
        if max_reserved_size == 0 || max_reserved_size > MAX_RESERVED_LIMIT {
            return Err("max_reserved_size must be between 1 byte and 1 GiB");
        }
        if reserved_size == 0 || reserved_size > max_reserved_size {
            return Err("reserved_size must be between 1 byte and max_reserved_size");
        }
        // Both are at most 1 GiB, so rounding cannot overflow.
        let max = page_align(max_reserved_size).ok_or("max_reserved_size overflows")?;
        let reserved = page_align(reserved_size).ok_or("reserved_size overflows")?;
        Ok(Self {
            nr_vdevs: nr_vdevs as usize,
            reserved_size: reserved as usize,
            max_reserved_size: max as usize,
            fault_around_pages: fault_around_pages as usize,
        })
    }

    /// The size a `VDMUX_IOC_SET_RESERVED_SIZE` request for `size` bytes
    /// gets, or `None` if it must fail with `EINVAL`. Never smaller than
    /// asked.
    pub(crate) fn resize_target(&self, size: u64) -> Option<usize> {
        if size == 0 || size > self.max_reserved_size as u64 {
            return None;
        }
        page_align(size).map(|s| s as usize)
    }
}

#[kernel::macros::kunit_tests(vdmux_config)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::new(4, 32768, 64 << 20, 16).unwrap();
        assert_eq!(c.nr_vdevs, 4);
        assert_eq!(c.reserved_size, 32768);
        assert_eq!(c.max_reserved_size, 64 << 20);
    }

    #[test]
    fn nr_vdevs_bounds() {
        assert!(Config::new(0, 4096, 8192, 16).is_err());
        assert!(Config::new(1, 4096, 8192, 16).is_ok());
        assert!(Config::new(64, 4096, 8192, 16).is_ok());
        assert!(Config::new(65, 4096, 8192, 16).is_err());
        assert!(Config::new(100000, 4096, 8192, 16).is_err());
    }

    #[test]
    fn sizes_round_up_and_bound() {
        assert_eq!(Config::new(1, 1, 1, 16).unwrap().reserved_size, PAGE_SIZE);
        assert_eq!(Config::new(1, 4097, 8192, 16).unwrap().reserved_size, 8192);
        assert!(Config::new(1, 0, 8192, 16).is_err());
        assert!(Config::new(1, 8193, 8192, 16).is_err());
        assert!(Config::new(1, 4096, 0, 16).is_err());
        assert!(Config::new(1, 4096, MAX_RESERVED_LIMIT + 1, 16).is_err());
        assert!(Config::new(1, 4096, MAX_RESERVED_LIMIT, 16).is_ok());
    }

    #[test]
    fn resize_never_shrinks_the_request() {
        let c = Config::new(2, 4096, 1 << 20, 16).unwrap();
        assert_eq!(c.resize_target(0), None);
        assert_eq!(c.resize_target(1), Some(PAGE_SIZE));
        assert_eq!(c.resize_target(PAGE_SIZE as u64 + 1), Some(2 * PAGE_SIZE));
        assert_eq!(c.resize_target(1 << 20), Some(1 << 20));
        assert_eq!(c.resize_target((1 << 20) + 1), None);
        assert_eq!(c.resize_target(u64::MAX), None);
    }

    #[test]
    fn fault_around_bounds() {
        assert_eq!(Config::new(1, 4096, 4096, 1).unwrap().fault_around_pages, 1);
        assert_eq!(
            Config::new(1, 4096, 4096, 512).unwrap().fault_around_pages,
            512
        );
        assert!(Config::new(1, 4096, 4096, 0).is_err());
        assert!(Config::new(1, 4096, 4096, 3).is_err());
        assert!(Config::new(1, 4096, 4096, 1024).is_err());
    }

    #[test]
    fn page_align_overflow() {
        assert_eq!(page_align(0), Some(0));
        assert_eq!(page_align(u64::MAX), None);
    }
}
