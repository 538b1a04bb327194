// SPDX-License-Identifier: GPL-2.0

//! The canonical hex+ASCII format of `hexdump -C`, fed in chunks.

use std::io::{self, Write};

const LINE: usize = 16;

/// Writes bytes as `hexdump -C` does: 16 per line, each line prefixed by
/// its device offset, runs of identical lines folded into `*` unless
/// `squeeze` is off, and the end offset on a line of its own.
pub struct HexDump<W: Write> {
    out: W,
    /// Device offset of the first byte of `pending`.
    offset: u64,
    pending: Vec<u8>,
    squeeze: bool,
    /// The last full line written, to spot repeats.
    previous: Option<[u8; LINE]>,
    /// Whether the `*` for the current run of repeats is out.
    starred: bool,
}

impl<W: Write> HexDump<W> {
    /// A dump whose first byte sits at device offset `offset`.
    pub fn new(out: W, offset: u64, squeeze: bool) -> Self {
        Self {
            out,
            offset,
            pending: Vec::with_capacity(LINE),
            squeeze,
            previous: None,
            starred: false,
        }
    }

    /// Dumps `data`, which follows what was fed before.
    pub fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let take = (LINE - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == LINE {
                self.full_line()?;
            }
        }
        Ok(())
    }

    /// Writes what is left and the end offset; nothing at all if no byte
    /// was fed, as `hexdump -C` does for empty input.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            write_line(&mut self.out, self.offset, &self.pending)?;
            self.offset += self.pending.len() as u64;
            self.pending.clear();
            writeln!(self.out, "{:08x}", self.offset)?;
        } else if self.previous.is_some() {
            writeln!(self.out, "{:08x}", self.offset)?;
        }
        Ok(self.out)
    }

    fn full_line(&mut self) -> io::Result<()> {
        let mut line = [0; LINE];
        line.copy_from_slice(&self.pending);
        self.pending.clear();
        if self.squeeze && self.previous == Some(line) {
            if !self.starred {
                writeln!(self.out, "*")?;
                self.starred = true;
            }
        } else {
            write_line(&mut self.out, self.offset, &line)?;
            self.starred = false;
        }
        self.previous = Some(line);
        self.offset += LINE as u64;
        Ok(())
    }
}

/// One line of at most 16 bytes.
fn write_line(out: &mut impl Write, offset: u64, bytes: &[u8]) -> io::Result<()> {
    let mut hex = String::with_capacity(3 * LINE + 1);
    for i in 0..LINE {
        match bytes.get(i) {
            Some(b) => hex.push_str(&format!("{b:02x} ")),
            None => hex.push_str("   "),
        }
        if i == LINE / 2 - 1 {
            hex.push(' ');
        }
    }
    let ascii: String = bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    writeln!(out, "{offset:08x}  {hex} |{ascii}|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(offset: u64, squeeze: bool, chunks: &[&[u8]]) -> String {
        let mut d = HexDump::new(Vec::new(), offset, squeeze);
        for c in chunks {
            d.feed(c).unwrap();
        }
        String::from_utf8(d.finish().unwrap()).unwrap()
    }

    #[test]
    fn short_line_matches_hexdump_c() {
        assert_eq!(
            dump(0, true, &[b"Hello."]),
            "00000000  48 65 6c 6c 6f 2e                                 |Hello.|\n\
             00000006\n"
        );
    }

    #[test]
    fn repeats_fold_into_a_star() {
        let data = [b"A".repeat(56), b"b".to_vec()].concat();
        let expected = "\
00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|
*
00000030  41 41 41 41 41 41 41 41  62                       |AAAAAAAAb|
00000039
";
        assert_eq!(dump(0, true, &[&data]), expected);
        // Chunk boundaries do not matter.
        assert_eq!(
            dump(0, true, &[&data[..5], &data[5..40], &data[40..]]),
            expected
        );
    }

    #[test]
    fn no_squeeze_shows_every_line() {
        let out = dump(0, false, &[&[0; 48]]);
        assert_eq!(out.lines().count(), 4);
        assert!(!out.contains('*'));
    }

    #[test]
    fn offset_and_unprintable_bytes() {
        assert_eq!(
            dump(0x8000, true, &[b"\x00\x1f\x7f\x80~ "]),
            "00008000  00 1f 7f 80 7e 20                                 |....~ |\n\
             00008006\n"
        );
    }

    #[test]
    fn full_lines_end_with_the_end_offset() {
        let out = dump(16, true, &[b"0123456789abcdef"]);
        assert_eq!(
            out,
            "00000010  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n\
             00000020\n"
        );
    }

    #[test]
    fn nothing_for_no_bytes() {
        assert_eq!(dump(0, true, &[]), "");
    }
}
