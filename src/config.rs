// SPDX-License-Identifier: GPL-2.0

//! Module parameters, validated once at load time.

use kernel::page::PAGE_SIZE;

/// Most virtual devices one load may have.
pub(crate) const MAX_VDEVS: u32 = 64;
/// The largest `fault_around_pages` accepted, in pages of the kernel's
/// size: one page table's worth with 4 KiB pages (a sixteenth of one with
/// 64 KiB pages, whose tables hold 8192 entries).
pub(crate) const MAX_FAULT_AROUND: u32 = 512;
/// The largest `max_reserved_size` accepted: 1 GiB.
pub(crate) const MAX_RESERVED_LIMIT: u64 = 1 << 30;

/// Where the device memory is (`device_memory=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryKind {
    /// `ram` (the default): a buffer of RAM that vdmux allocates.
    Ram,
    /// `pci`: a memory BAR of each PCI device bound (`bar=`).
    Pci,
}

impl MemoryKind {
    /// Parses the text of `device_memory=`.
    pub(crate) fn parse(text: &[u8]) -> Result<Self, &'static str> {
        match text {
            b"ram" => Ok(Self::Ram),
            b"pci" => Ok(Self::Pci),
            _ => Err("device_memory must be ram or pci"),
        }
    }
}

/// The value of a size parameter (`reserved_size`, `max_reserved_size`)
/// that was not given: its default depends on where the device memory is.
pub(crate) const SIZE_UNSET: u64 = u64::MAX;
/// `reserved_size` with RAM device memory, unless given.
pub(crate) const DEFAULT_RESERVED_SIZE: u64 = 32768;
/// `max_reserved_size` with RAM device memory, unless given.
pub(crate) const DEFAULT_MAX_RESERVED_SIZE: u64 = 64 << 20;
/// `bar=` not given: the largest prefetchable memory BAR.
pub(crate) const BAR_AUTO: i32 = -1;
/// The standard BARs of a PCI device are 0 to 5.
pub(crate) const NR_BARS: u32 = 6;

/// The module parameters as given, before the device memory is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) nr_vdevs: u32,
    /// `None` when not given.
    pub(crate) reserved_size: Option<u64>,
    /// `None` when not given.
    pub(crate) max_reserved_size: Option<u64>,
    pub(crate) fault_around_pages: u32,
    pub(crate) device_memory: MemoryKind,
    /// The BAR that is the device memory (`bar=`); `None` for the largest
    /// prefetchable memory BAR.
    pub(crate) bar: Option<u32>,
}

impl Params {
    /// The raw values of the parameters; [`SIZE_UNSET`] for a size that was
    /// not given.
    pub(crate) fn new(
        nr_vdevs: u32,
        reserved_size: u64,
        max_reserved_size: u64,
        fault_around_pages: u32,
        device_memory: &[u8],
        bar: i32,
    ) -> Result<Self, &'static str> {
        let given = |size| (size != SIZE_UNSET).then_some(size);
        let device_memory = MemoryKind::parse(device_memory)?;
        let bar = match u32::try_from(bar) {
            Err(_) if bar == BAR_AUTO => None,
            Ok(n) if n < NR_BARS => Some(n),
            _ => return Err("bar must be 0 to 5, or -1 for the largest prefetchable memory BAR"),
        };
        if bar.is_some() && device_memory != MemoryKind::Pci {
            return Err("bar is for device_memory=pci only");
        }
        Ok(Self {
            nr_vdevs,
            reserved_size: given(reserved_size),
            max_reserved_size: given(max_reserved_size),
            fault_around_pages,
            device_memory,
            bar,
        })
    }

    /// Checks, at load, everything that does not depend on the device
    /// memory's size: with `device_memory=pci`, a BAR of the largest size
    /// accepted stands in for the one a device will have.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match self.device_memory {
            MemoryKind::Ram => self.ram_config().map(|_| ()),
            MemoryKind::Pci => self.bar_config(MAX_RESERVED_LIMIT).map(|_| ()),
        }
    }

    /// The configuration with RAM device memory: the sizes not given are
    /// [`DEFAULT_RESERVED_SIZE`] and [`DEFAULT_MAX_RESERVED_SIZE`].
    pub(crate) fn ram_config(&self) -> Result<Config, &'static str> {
        Config::new(
            self.nr_vdevs,
            self.reserved_size.unwrap_or(DEFAULT_RESERVED_SIZE),
            self.max_reserved_size.unwrap_or(DEFAULT_MAX_RESERVED_SIZE),
            self.fault_around_pages,
        )
    }

    /// The configuration with device memory in a BAR of `bar_len` bytes:
    /// `max_reserved_size` defaults to the BAR's whole pages (at most
    /// 1 GiB) and may not be larger, and `reserved_size` defaults to
    /// `max_reserved_size`.
    pub(crate) fn bar_config(&self, bar_len: u64) -> Result<Config, &'static str> {
        let page = PAGE_SIZE as u64;
        let limit = bar_len.min(MAX_RESERVED_LIMIT) / page * page;
        if limit == 0 {
            return Err("the BAR is smaller than a page");
        }
        let max = self.max_reserved_size.unwrap_or(limit);
        if max > limit {
            return Err("max_reserved_size must not be larger than the BAR");
        }
        let reserved = self.reserved_size.unwrap_or(max);
        if reserved > limit {
            return Err("reserved_size must not be larger than the BAR");
        }
        Config::new(self.nr_vdevs, reserved, max, self.fault_around_pages)
    }
}

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

    /// One page, as the size parameters take it.
    const P: u64 = PAGE_SIZE as u64;

    #[test]
    fn defaults_are_valid() {
        let c = Config::new(4, 32768, 64 << 20, 16).unwrap();
        assert_eq!(c.nr_vdevs, 4);
        // One page where a page is larger than 32 KiB.
        assert_eq!(c.reserved_size, 32768usize.next_multiple_of(PAGE_SIZE));
        assert_eq!(c.max_reserved_size, 64 << 20);
    }

    #[test]
    fn nr_vdevs_bounds() {
        assert!(Config::new(0, P, 2 * P, 16).is_err());
        assert!(Config::new(1, P, 2 * P, 16).is_ok());
        assert!(Config::new(64, P, 2 * P, 16).is_ok());
        assert!(Config::new(65, P, 2 * P, 16).is_err());
        assert!(Config::new(100000, P, 2 * P, 16).is_err());
    }

    #[test]
    fn sizes_round_up_and_bound() {
        assert_eq!(Config::new(1, 1, 1, 16).unwrap().reserved_size, PAGE_SIZE);
        assert_eq!(
            Config::new(1, P + 1, 2 * P, 16).unwrap().reserved_size,
            2 * PAGE_SIZE
        );
        assert!(Config::new(1, 0, 2 * P, 16).is_err());
        assert!(Config::new(1, 2 * P + 1, 2 * P, 16).is_err());
        assert!(Config::new(1, P, 0, 16).is_err());
        assert!(Config::new(1, P, MAX_RESERVED_LIMIT + 1, 16).is_err());
        assert!(Config::new(1, P, MAX_RESERVED_LIMIT, 16).is_ok());
    }

    #[test]
    fn resize_never_shrinks_the_request() {
        let c = Config::new(2, P, 1 << 20, 16).unwrap();
        assert_eq!(c.resize_target(0), None);
        assert_eq!(c.resize_target(1), Some(PAGE_SIZE));
        assert_eq!(c.resize_target(PAGE_SIZE as u64 + 1), Some(2 * PAGE_SIZE));
        assert_eq!(c.resize_target(1 << 20), Some(1 << 20));
        assert_eq!(c.resize_target((1 << 20) + 1), None);
        assert_eq!(c.resize_target(u64::MAX), None);
    }

    #[test]
    fn fault_around_bounds() {
        assert_eq!(Config::new(1, P, P, 1).unwrap().fault_around_pages, 1);
        assert_eq!(Config::new(1, P, P, 512).unwrap().fault_around_pages, 512);
        assert!(Config::new(1, P, P, 0).is_err());
        assert!(Config::new(1, P, P, 3).is_err());
        assert!(Config::new(1, P, P, 1024).is_err());
    }

    fn params(reserved: u64, max: u64, memory: &[u8]) -> Result<Params, &'static str> {
        Params::new(4, reserved, max, 16, memory, BAR_AUTO)
    }

    #[test]
    fn bar_is_auto_or_a_standard_bar_with_pci() {
        let bar = |memory: &[u8], n| Params::new(4, SIZE_UNSET, SIZE_UNSET, 16, memory, n);
        assert_eq!(bar(b"pci", BAR_AUTO).unwrap().bar, None);
        assert_eq!(bar(b"ram", BAR_AUTO).unwrap().bar, None);
        assert_eq!(bar(b"pci", 0).unwrap().bar, Some(0));
        assert_eq!(bar(b"pci", 5).unwrap().bar, Some(5));
        for bad in [6, 7, -2, i32::MIN, i32::MAX] {
            assert!(bar(b"pci", bad).is_err());
        }
        assert!(bar(b"ram", 2).is_err());
    }

    #[test]
    fn device_memory_is_ram_or_pci() {
        assert_eq!(MemoryKind::parse(b"ram"), Ok(MemoryKind::Ram));
        assert_eq!(MemoryKind::parse(b"pci"), Ok(MemoryKind::Pci));
        for bad in [&b""[..], b"PCI", b"pci ", b"ram\n", b"vram", b"p"] {
            assert!(MemoryKind::parse(bad).is_err());
            assert!(params(SIZE_UNSET, SIZE_UNSET, bad).is_err());
        }
    }

    #[test]
    fn ram_sizes_default_as_before() {
        let p = params(SIZE_UNSET, SIZE_UNSET, b"ram").unwrap();
        assert_eq!(p.ram_config(), Config::new(4, 32768, 64 << 20, 16));
        assert!(p.check().is_ok());
        let p = params(P + 1, SIZE_UNSET, b"ram").unwrap();
        assert_eq!(p.ram_config().unwrap().reserved_size, 2 * PAGE_SIZE);
        assert!(params(0, SIZE_UNSET, b"ram").unwrap().check().is_err());
        assert!(params(SIZE_UNSET, 0, b"ram").unwrap().check().is_err());
        // The default reserved size does not fit below a smaller maximum.
        assert!(params(SIZE_UNSET, DEFAULT_RESERVED_SIZE - 1, b"ram")
            .unwrap()
            .check()
            .is_err());
    }

    #[test]
    fn bar_sizes_default_to_and_are_bounded_by_the_bar() {
        let p = params(SIZE_UNSET, SIZE_UNSET, b"pci").unwrap();
        assert!(p.check().is_ok());
        let c = p.bar_config(4 << 20).unwrap();
        assert_eq!((c.reserved_size, c.max_reserved_size), (4 << 20, 4 << 20));
        // Only whole pages of the BAR, and at most 1 GiB of it.
        let c = p.bar_config((1 << 20) + 100).unwrap();
        assert_eq!(c.max_reserved_size, 1 << 20);
        let c = p.bar_config(4 << 30).unwrap();
        assert_eq!(c.max_reserved_size, MAX_RESERVED_LIMIT as usize);
        assert!(p.bar_config(PAGE_SIZE as u64 - 1).is_err());
        // Given sizes: bounded by the BAR, the reserved size by the maximum.
        let p = params(2 * P, SIZE_UNSET, b"pci").unwrap();
        let c = p.bar_config(4 << 20).unwrap();
        assert_eq!(
            (c.reserved_size, c.max_reserved_size),
            (2 * PAGE_SIZE, 4 << 20)
        );
        let p = params(SIZE_UNSET, 1 << 20, b"pci").unwrap();
        let c = p.bar_config(4 << 20).unwrap();
        assert_eq!((c.reserved_size, c.max_reserved_size), (1 << 20, 1 << 20));
        assert!(params(8 << 20, SIZE_UNSET, b"pci")
            .unwrap()
            .bar_config(4 << 20)
            .is_err());
        assert!(params(SIZE_UNSET, 8 << 20, b"pci")
            .unwrap()
            .bar_config(4 << 20)
            .is_err());
        assert!(params(2 * P, P, b"pci")
            .unwrap()
            .bar_config(4 << 20)
            .is_err());
        // What does not depend on the BAR is refused at load.
        assert!(params(0, SIZE_UNSET, b"pci").unwrap().check().is_err());
        assert!(params(SIZE_UNSET, MAX_RESERVED_LIMIT + 1, b"pci")
            .unwrap()
            .check()
            .is_err());
        assert!(Params::new(0, SIZE_UNSET, SIZE_UNSET, 16, b"pci", BAR_AUTO)
            .unwrap()
            .check()
            .is_err());
    }

    #[test]
    fn page_align_overflow() {
        assert_eq!(page_align(0), Some(0));
        assert_eq!(page_align(u64::MAX), None);
    }
}
