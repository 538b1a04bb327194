// SPDX-License-Identifier: GPL-2.0

//! What `VDMUX_IOC_GET_CTXMGT` and `VDMUX_IOC_SET_CTXMGT` carry, as a Rust
//! type.

use crate::uapi;
use std::time::Duration;

/// Device context management: whether an access to a background virtual
/// device makes it the foreground, and how long a foreground keeps the
/// device memory before such an access takes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Ctxmgt {
    /// On or off (the default).
    pub enabled: bool,
    /// The hold time, whole milliseconds up to 10 s (the driver refuses
    /// more with `EINVAL`).
    pub timeout: Duration,
}

impl Ctxmgt {
    /// The longest hold time the driver accepts.
    pub const MAX_TIMEOUT: Duration =
        Duration::from_millis(uapi::VDMUX_CTXMGT_MAX_TIMEOUT_MS as u64);

    pub(crate) fn from_raw(raw: &uapi::vdmux_ctxmgt) -> Self {
        Self {
            enabled: raw.enable != 0,
            timeout: Duration::from_millis(raw.timeout_ms.into()),
        }
    }

    /// The request's structure; a hold time past `u32` milliseconds is
    /// sent as `u32::MAX`, which the driver refuses.
    pub(crate) fn to_raw(self) -> uapi::vdmux_ctxmgt {
        uapi::vdmux_ctxmgt {
            enable: self.enabled.into(),
            timeout_ms: u32::try_from(self.timeout.as_millis()).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ctx = Ctxmgt {
            enabled: true,
            timeout: Duration::from_millis(10),
        };
        assert_eq!(Ctxmgt::from_raw(&ctx.to_raw()), ctx);
        assert_eq!(Ctxmgt::MAX_TIMEOUT, Duration::from_secs(10));
        let huge = Ctxmgt {
            enabled: false,
            timeout: Duration::from_secs(u64::MAX),
        };
        assert_eq!(huge.to_raw().timeout_ms, u32::MAX);
    }
}
