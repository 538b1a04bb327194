// SPDX-License-Identifier: GPL-2.0

//! Sizes and offsets on the command line: `4096`, `64K`, `2M`, `1G`.

use std::fmt;

/// Why a size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    Empty,
    /// Not a decimal number with an optional K, M or G suffix.
    Invalid,
    /// Does not fit in 64 bits.
    TooLarge,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty size",
            Self::Invalid => "not a size (a number of bytes, optionally with K, M or G)",
            Self::TooLarge => "size too large",
        })
    }
}

impl std::error::Error for SizeError {}

/// Parses a byte count: decimal digits, optionally followed by `K`, `M` or
/// `G` (either case), which are binary multiples (1K = 1024 bytes).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    let (digits, shift) = match text.as_bytes()[text.len() - 1] {
        b'k' | b'K' => (&text[..text.len() - 1], 10),
        b'm' | b'M' => (&text[..text.len() - 1], 20),
        b'g' | b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    // u64::from_str would accept a leading '+'; a size is digits only.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::Invalid);
    }
    let mut value: u64 = 0;
    for b in digits.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(SizeError::TooLarge)?;
    }
    value.checked_mul(1 << shift).ok_or(SizeError::TooLarge)
}

/// Formats a byte count the way [`parse_size`] reads it, with the largest
/// suffix that is exact: `32768` is `32K`, `5000` stays `5000`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u32, char); 3] = [(30, 'G'), (20, 'M'), (10, 'K')];
    for (shift, unit) in UNITS {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("007"), Ok(7));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("0K"), Ok(0));
    }

    #[test]
    fn overflow() {
        assert_eq!(parse_size("18446744073709551616"), Err(SizeError::TooLarge));
        assert_eq!(
            parse_size("99999999999999999999999"),
            Err(SizeError::TooLarge)
        );
        // 2^34 G is 2^64 bytes, one past the largest.
        assert_eq!(parse_size("17179869184G"), Err(SizeError::TooLarge));
        assert_eq!(parse_size("17179869183G"), Ok(17179869183 << 30));
        assert_eq!(parse_size("18014398509481984K"), Err(SizeError::TooLarge));
    }

    #[test]
    fn garbage() {
        for bad in [
            "K", "-1", "+1", " 1", "1 ", "1KB", "1KiB", "1T", "1.5M", "0x10", "12a", "१",
        ] {
            assert_eq!(parse_size(bad), Err(SizeError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_size(""), Err(SizeError::Empty));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(0), "0");
        assert_eq!(format_size(1), "1");
        assert_eq!(format_size(5000), "5000");
        assert_eq!(format_size(4096), "4K");
        assert_eq!(format_size(32768), "32K");
        assert_eq!(format_size(1536), "1536");
        assert_eq!(format_size(2 << 20), "2M");
        assert_eq!(format_size(3 << 30), "3G");
        assert_eq!(format_size(1 << 40), "1024G");
    }

    #[test]
    fn formatting_round_trips() {
        for n in [0, 1, 4095, 4096, 65536, 1 << 30, u64::MAX, u64::MAX << 30] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
    }
}
