// SPDX-License-Identifier: GPL-2.0

//! The PATTERN of `fill`: text with C-style escapes, repeated over the range.

use std::fmt;

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    /// A backslash at the end of the pattern.
    TrailingBackslash,
    /// `\` followed by a byte that is not a known escape.
    UnknownEscape(u8),
    /// `\x` not followed by two hexadecimal digits.
    BadHex,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty pattern"),
            Self::TrailingBackslash => f.write_str("pattern ends with a lone backslash"),
            Self::UnknownEscape(c) => write!(f, "unknown escape \\{} in pattern", c.escape_ascii()),
            Self::BadHex => f.write_str("\\x needs two hexadecimal digits"),
        }
    }
}

impl std::error::Error for PatternError {}

/// Turns a pattern argument into its bytes. Escapes: `\\`, `\n`, `\t`, `\r`,
/// `\0` and `\xHH`; any other byte stands for itself, so that a pattern
/// need not be UTF-8.
pub fn parse_pattern(text: impl AsRef<[u8]>) -> Result<Vec<u8>, PatternError> {
    let mut bytes = Vec::with_capacity(text.as_ref().len());
    let mut rest = text.as_ref().iter().copied();
    while let Some(b) = rest.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let byte = match rest.next().ok_or(PatternError::TrailingBackslash)? {
            b'\\' => b'\\',
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'x' => {
                let hex = |b: Option<u8>| b.and_then(|b| char::from(b).to_digit(16));
                match (hex(rest.next()), hex(rest.next())) {
                    // Two hex digits are at most 0xff.
                    (Some(hi), Some(lo)) => (hi * 16 + lo) as u8,
                    _ => return Err(PatternError::BadHex),
                }
            }
            other => return Err(PatternError::UnknownEscape(other)),
        };
        bytes.push(byte);
    }
    if bytes.is_empty() {
        return Err(PatternError::Empty);
    }
    Ok(bytes)
}

/// The `len` bytes that `pattern` repeated from `start` puts at positions
/// `start..start + len` of the filled range, where the range begins with
/// the first byte of the pattern.
pub fn repeat_into(pattern: &[u8], start: u64, buf: &mut [u8]) {
    let n = pattern.len() as u64;
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern[((start + i as u64) % n) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text() {
        assert_eq!(parse_pattern("hello"), Ok(b"hello".to_vec()));
        assert_eq!(parse_pattern("é"), Ok("é".as_bytes().to_vec()));
        // Not UTF-8: the bytes as given.
        assert_eq!(parse_pattern(b"\xff\\x41"), Ok(b"\xffA".to_vec()));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            parse_pattern(r"a\n\t\r\0\\\x41\xfF"),
            Ok(b"a\n\t\r\0\\A\xff".to_vec())
        );
        assert_eq!(parse_pattern(r"\0"), Ok(vec![0]));
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(parse_pattern(""), Err(PatternError::Empty));
        assert_eq!(parse_pattern("ab\\"), Err(PatternError::TrailingBackslash));
        assert_eq!(parse_pattern(r"\q"), Err(PatternError::UnknownEscape(b'q')));
        assert_eq!(parse_pattern(r"\x4"), Err(PatternError::BadHex));
        assert_eq!(parse_pattern(r"\x4g"), Err(PatternError::BadHex));
        assert_eq!(parse_pattern(r"\x"), Err(PatternError::BadHex));
    }

    #[test]
    fn repetition_continues_across_chunks() {
        let mut a = [0; 7];
        repeat_into(b"abc", 0, &mut a);
        assert_eq!(&a, b"abcabca");
        let mut b = [0; 4];
        repeat_into(b"abc", 7, &mut b);
        assert_eq!(&b, b"bcab");
    }
}
