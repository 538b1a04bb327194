// SPDX-License-Identifier: GPL-2.0

//! Which BAR of a device being bound is the device memory.
//!
//! By default the largest prefetchable memory BAR: ivshmem's shared memory
//! (BAR 2, beside its registers in BAR 0), a display's video memory (BAR 0
//! of QEMU's standard VGA, whose BAR 2 holds its registers). A device
//! without one is not bound unless `bar=` names a BAR, which must be a
//! memory BAR of at least a page. A register BAR chosen that way is
//! multiplexed like any other memory: user space asked for it.

use crate::{
    config::NR_BARS,
    kernel_ext::wc_bar::BarInfo, //
};
use kernel::{
    device::Device,
    page::PAGE_SIZE,
    prelude::*, //
};

/// Why no BAR of a device can be the device memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The BAR chosen does not exist (or is the upper half of a 64-bit
    /// BAR).
    Absent(u32),
    /// The BAR chosen is an I/O port range.
    Io(u32),
    /// The BAR chosen is memory smaller than a page.
    TooSmall(u32, u64),
    /// No BAR chosen, and no memory BAR is prefetchable.
    NoPrefetchable,
}

impl Refusal {
    /// The errno of the refused probe: `ENODEV` when the device has no
    /// such memory, `EINVAL` when it has, too small to be mapped.
    pub(crate) fn errno(self) -> Error {
        match self {
            Self::TooSmall(..) => EINVAL,
            Self::Absent(_) | Self::Io(_) | Self::NoPrefetchable => ENODEV,
        }
    }
}

impl Refusal {
    /// Says in the kernel log, as `dev`'s, why it is not bound.
    pub(crate) fn log(self, dev: &Device) {
        match self {
            Self::Absent(n) => dev_err!(dev, "BAR {n} is not present: not binding\n"),
            Self::Io(n) => dev_err!(dev, "BAR {n} is I/O space, not memory: not binding\n"),
            Self::TooSmall(n, len) => dev_err!(
                dev,
                "BAR {n} is {len} bytes, smaller than a page: not binding\n"
            ),
            Self::NoPrefetchable => dev_err!(
                dev,
                "no prefetchable memory BAR (the bar= parameter chooses another): not binding\n"
            ),
        }
    }
}

/// The BAR of `bars` (the standard BARs of a device, in order) that is the
/// device memory: `wanted`, or the largest prefetchable memory BAR (the
/// first of the largest).
pub(crate) fn choose(bars: &[BarInfo], wanted: Option<u32>) -> Result<u32, Refusal> {
    let index = match wanted {
        Some(n) => n,
        // From the last: of equal maxima, `max_by_key` keeps the last seen.
        None => {
            (0..NR_BARS)
                .zip(bars)
                .rev()
                .filter(|(_, bar)| bar.mem && bar.prefetchable)
                .max_by_key(|(_, bar)| bar.len)
                .ok_or(Refusal::NoPrefetchable)?
                .0
        }
    };
    let bar = bars.get(index as usize).ok_or(Refusal::Absent(index))?;
    if bar.len == 0 {
        return Err(Refusal::Absent(index));
    }
    if !bar.mem {
        return Err(Refusal::Io(index));
    }
    if bar.len < PAGE_SIZE as u64 {
        return Err(Refusal::TooSmall(index, bar.len));
    }
    Ok(index)
}

#[kernel::macros::kunit_tests(vdmux_bar_choice)]
mod tests {
    use super::*;

    const NONE: BarInfo = BarInfo {
        start: 0,
        len: 0,
        mem: false,
        prefetchable: false,
        mem64: false,
    };

    fn mem(len: u64, prefetchable: bool) -> BarInfo {
        BarInfo {
            start: 0xfe00_0000,
            len,
            mem: true,
            prefetchable,
            mem64: false,
        }
    }

    fn io(len: u64) -> BarInfo {
        BarInfo {
            start: 0xc000,
            len,
            ..NONE
        }
    }

    #[test]
    fn ivshmem_gives_bar_2() {
        // Registers in BAR 0, the shared memory in BAR 2 (64-bit: BAR 3 is
        // its upper half).
        let bars = [mem(256, false), NONE, mem(64 << 20, true), NONE, NONE, NONE];
        assert_eq!(choose(&bars, None), Ok(2));
        assert_eq!(choose(&bars, Some(0)), Err(Refusal::TooSmall(0, 256)));
        assert_eq!(choose(&bars, Some(3)), Err(Refusal::Absent(3)));
    }

    #[test]
    fn std_vga_gives_bar_0() {
        // Video memory in BAR 0, the display registers in BAR 2.
        let bars = [
            mem(16 << 20, true),
            NONE,
            mem(4096, false),
            NONE,
            NONE,
            NONE,
        ];
        assert_eq!(choose(&bars, None), Ok(0));
        // The registers are 4 KiB: less than a page with larger pages.
        let registers = if PAGE_SIZE <= 4096 {
            Ok(2)
        } else {
            Err(Refusal::TooSmall(2, 4096))
        };
        assert_eq!(choose(&bars, Some(2)), registers);
    }

    #[test]
    fn largest_prefetchable_first_of_equals() {
        let bars = [
            mem(1 << 30, false),
            mem(1 << 20, true),
            mem(8 << 20, true),
            NONE,
            mem(8 << 20, true),
            NONE,
        ];
        assert_eq!(choose(&bars, None), Ok(2));
    }

    #[test]
    fn io_absent_and_small_are_refused() {
        // Only an I/O BAR (ICH9's SMBus controller: BAR 4).
        let bars = [NONE, NONE, NONE, NONE, io(32), NONE];
        assert_eq!(choose(&bars, None), Err(Refusal::NoPrefetchable));
        assert_eq!(choose(&bars, Some(4)), Err(Refusal::Io(4)));
        assert_eq!(choose(&bars, Some(0)), Err(Refusal::Absent(0)));
        assert_eq!(choose(&bars, Some(6)), Err(Refusal::Absent(6)));
        // A prefetchable BAR smaller than a page, chosen by default.
        let bars = [mem(2048, true), NONE, NONE, NONE, NONE, NONE];
        assert_eq!(choose(&bars, None), Err(Refusal::TooSmall(0, 2048)));
        // Only non-prefetchable memory: chosen only by bar=.
        let bars = [mem(1 << 20, false), NONE, NONE, NONE, NONE, NONE];
        assert_eq!(choose(&bars, None), Err(Refusal::NoPrefetchable));
        assert_eq!(choose(&bars, Some(0)), Ok(0));
        assert_eq!(Refusal::Io(4).errno(), ENODEV);
        assert_eq!(Refusal::TooSmall(0, 1).errno(), EINVAL);
    }
}
