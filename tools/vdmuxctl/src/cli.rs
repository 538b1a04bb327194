// SPDX-License-Identifier: GPL-2.0

//! The command line: what each subcommand takes, and its help.

use crate::{
    error::Error,
    pattern::parse_pattern,
    size::{SizeError, parse_size},
};
use std::time::Duration;

/// What to do, as parsed from the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print the help of a subcommand, or the general help for `None`.
    Help(Option<&'static str>),
    Version,
    Status {
        json: bool,
    },
    Switch(u32),
    Eject(u32),
    Insert(u32),
    Resize {
        size: u64,
        /// The size as typed, for messages.
        text: String,
    },
    Dump {
        index: u32,
        range: Range,
        /// The bytes themselves rather than a hexdump.
        raw: bool,
        /// Fold runs of identical lines into `*`.
        squeeze: bool,
    },
    Fill {
        index: u32,
        pattern: Vec<u8>,
        range: Range,
    },
    Watch {
        count: Option<u64>,
        timeout: Option<Duration>,
        interval: Duration,
    },
}

impl Command {
    /// The command as messages name it: `switch 9`, `resize 4K`, `dump 1`.
    pub fn context(&self) -> String {
        match self {
            Self::Help(_) => "help".to_string(),
            Self::Version => "version".to_string(),
            Self::Status { .. } => "status".to_string(),
            Self::Switch(i) => format!("switch {i}"),
            Self::Eject(i) => format!("eject {i}"),
            Self::Insert(i) => format!("insert {i}"),
            Self::Resize { text, .. } => format!("resize {text}"),
            Self::Dump { index, .. } => format!("dump {index}"),
            Self::Fill { index, .. } => format!("fill {index}"),
            Self::Watch { .. } => "watch".to_string(),
        }
    }
}

/// A byte range of a virtual device; no length means up to its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub offset: u64,
    pub length: Option<u64>,
}

/// Every subcommand with its one-line summary, in help order.
const COMMANDS: [(&str, &str); 8] = [
    (
        "status",
        "show every virtual device: state, foreground, size, generation",
    ),
    ("switch", "bring a virtual device to the foreground"),
    ("eject", "remove a virtual device: every access to it fails"),
    (
        "insert",
        "bring a removed virtual device back, in the background",
    ),
    ("resize", "change the reserved size of every virtual device"),
    ("dump", "hexdump the bytes of a virtual device"),
    ("fill", "fill a virtual device with a repeated pattern"),
    ("watch", "print every state change as it happens"),
];

const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// The general help.
pub fn main_help() -> String {
    let mut s = String::from(
        "Usage: vdmuxctl COMMAND [ARGS]\n\
         \n\
         Inspect and control the vdmux virtual devices through /dev/vdmux\n\
         (the control node) and /dev/vdmuxN (virtual device N).\n\
         \n\
         Commands:\n",
    );
    for (name, summary) in COMMANDS {
        s.push_str(&format!("  {name:<8}{summary}\n"));
    }
    s.push_str(
        "\n\
         Run 'vdmuxctl COMMAND --help' for the arguments of a command.\n\
         \n\
         Sizes and offsets are bytes, or binary multiples with K, M or G\n\
         (64K = 65536). Changing state (switch, eject, insert, resize) needs\n\
         CAP_SYS_ADMIN.\n\
         \n\
         Exit status: 0 success, 1 the operation failed, 2 usage error,\n\
         3 watch timed out before --count changes.\n",
    );
    s
}

/// The help of subcommand `name`.
pub fn command_help(name: &str) -> &'static str {
    match name {
        "status" => {
            "Usage: vdmuxctl status [--json]\n\
             \n\
             Show the number of virtual devices, their size, the foreground and\n\
             the control node's generation, then one line per virtual device:\n\
             VDEV (index), STATE (foreground, background or removed), FG (yes for\n\
             the foreground), SIZE (bytes) and GENERATION (bumped on each of its\n\
             state changes).\n\
             \n\
             Without access to /dev/vdmux the status is read from the virtual\n\
             devices alone and the overall generation is left out.\n\
             \n\
             \x20 --json  one JSON object: nr_vdevs, reserved_size, foreground (or\n\
             \x20         null), generation (or null), and vdevs, an array of objects\n\
             \x20         with index, state, foreground (true or false), size and\n\
             \x20         generation\n"
        }
        "switch" => {
            "Usage: vdmuxctl switch N\n\
             \n\
             Bring virtual device N to the foreground: its pages become the device\n\
             memory, and the previous foreground's go to its backing store.\n\
             Mappings of both stay valid and see their own bytes. N must not be\n\
             removed. Needs CAP_SYS_ADMIN.\n"
        }
        "eject" => {
            "Usage: vdmuxctl eject N\n\
             \n\
             Remove virtual device N, like pulling a card from its slot: from now\n\
             on every read, write and new mapping fails with ENODEV, and an access\n\
             through an existing mapping raises SIGBUS. Its bytes are kept for\n\
             'insert'. Needs CAP_SYS_ADMIN.\n"
        }
        "insert" => {
            "Usage: vdmuxctl insert N\n\
             \n\
             Bring removed virtual device N back, in the background, with the\n\
             bytes it had. Needs CAP_SYS_ADMIN.\n"
        }
        "resize" => {
            "Usage: vdmuxctl resize SIZE\n\
             \n\
             Set the reserved size, which is the size of every virtual device, to\n\
             SIZE rounded up to a page: 4096, 64K, 2M, 1G (K, M and G are 1024,\n\
             1024^2 and 1024^3). Bytes below the new size are kept. Fails while\n\
             any virtual device is mapped (EBUSY). Needs CAP_SYS_ADMIN.\n"
        }
        "dump" => {
            "Usage: vdmuxctl dump N [--offset O] [--length L] [--raw] [--no-squeeze]\n\
             \n\
             Read virtual device N with read(2) and print its bytes as\n\
             'hexdump -C' does.\n\
             \n\
             \x20 --offset O     start at byte O (default 0)\n\
             \x20 --length L     at most L bytes (default: up to the end)\n\
             \x20 --raw          write the bytes themselves to standard output\n\
             \x20 --no-squeeze   print repeated lines instead of '*' (also -v)\n"
        }
        "fill" => {
            "Usage: vdmuxctl fill N PATTERN [--offset O] [--length L]\n\
             \n\
             Fill virtual device N with PATTERN repeated, using write(2). PATTERN\n\
             is text; \\n, \\t, \\r, \\0, \\\\ and \\xHH stand for those bytes. Put\n\
             -- before a PATTERN that starts with '-'.\n\
             \n\
             \x20 --offset O   start at byte O (default 0)\n\
             \x20 --length L   write L bytes (default: up to the end)\n"
        }
        "watch" => {
            "Usage: vdmuxctl watch [--count N] [--timeout S] [--interval MS]\n\
             \n\
             Print a first line with the current status, then one line per change\n\
             of state or size as it happens, found by polling the generation of\n\
             the control node. Changes made between two polls share a line.\n\
             \n\
             \x20 --count N       stop after N lines of changes\n\
             \x20 --timeout S     stop after S seconds (decimals allowed); with\n\
             \x20                 --count, exit 3 if fewer than N changes were seen\n\
             \x20 --interval MS   poll every MS milliseconds (default 100)\n"
        }
        _ => "",
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, Error> {
    let Some((first, rest)) = args.split_first() else {
        return Err(Error::usage(None, "missing command"));
    };
    let name = match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(None)),
        "-V" | "--version" => return Ok(Command::Version),
        "help" => return parse_help(rest),
        other => COMMANDS
            .iter()
            .map(|(n, _)| *n)
            .find(|n| *n == other)
            .ok_or_else(|| Error::usage(None, format!("unknown command '{other}'")))?,
    };
    let args = Args::split(name, rest)?;
    if args.help {
        return Ok(Command::Help(Some(name)));
    }
    Parser { name, args }.command()
}

fn parse_help(rest: &[String]) -> Result<Command, Error> {
    match rest {
        [] => Ok(Command::Help(None)),
        [topic] => COMMANDS
            .iter()
            .find(|(n, _)| n == topic)
            .map(|(n, _)| Command::Help(Some(n)))
            .ok_or_else(|| Error::usage(None, format!("unknown command '{topic}'"))),
        _ => Err(Error::usage(None, "help takes at most one command")),
    }
}

/// A subcommand's arguments split into options and operands.
struct Args {
    help: bool,
    /// `(name, value)`, value `None` for flags.
    options: Vec<(String, Option<String>)>,
    operands: Vec<String>,
}

impl Args {
    /// Options that take a value; anything else starting with `-` is a flag.
    const VALUED: [&'static str; 5] =
        ["--offset", "--length", "--count", "--timeout", "--interval"];

    fn split(command: &'static str, rest: &[String]) -> Result<Self, Error> {
        let mut args = Args {
            help: false,
            options: Vec::new(),
            operands: Vec::new(),
        };
        let mut iter = rest.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                args.operands.extend(iter.cloned());
                break;
            }
            if arg == "-h" || arg == "--help" {
                args.help = true;
                continue;
            }
            // A lone "-" or a negative number is an operand, left for the
            // operand's own parser to refuse with a better message.
            let is_option =
                arg.len() > 1 && arg.starts_with('-') && !arg.as_bytes()[1].is_ascii_digit();
            if !is_option {
                args.operands.push(arg.clone());
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let value = if Self::VALUED.contains(&name.as_str()) {
                match inline {
                    Some(v) => Some(v),
                    None => Some(iter.next().cloned().ok_or_else(|| {
                        Error::usage(Some(command), format!("option {name} needs a value"))
                    })?),
                }
            } else {
                if inline.is_some() {
                    return Err(Error::usage(
                        Some(command),
                        format!("option {name} takes no value"),
                    ));
                }
                None
            };
            args.options.push((name, value));
        }
        Ok(args)
    }
}

struct Parser {
    name: &'static str,
    args: Args,
}

impl Parser {
    fn usage(&self, message: impl Into<String>) -> Error {
        Error::usage(Some(self.name), message)
    }

    fn command(mut self) -> Result<Command, Error> {
        let command = match self.name {
            "status" => Command::Status {
                json: self.flag(&["--json"]),
            },
            "switch" => Command::Switch(self.index()?),
            "eject" => Command::Eject(self.index()?),
            "insert" => Command::Insert(self.index()?),
            "resize" => {
                let text = self.operand("SIZE")?;
                let size = parse_size(&text).map_err(|e| self.size_error("SIZE", &text, e))?;
                Command::Resize { size, text }
            }
            "dump" => {
                let index = self.index()?;
                let range = self.range()?;
                let raw = self.flag(&["--raw"]);
                let squeeze = !self.flag(&["--no-squeeze", "-v"]);
                Command::Dump {
                    index,
                    range,
                    raw,
                    squeeze,
                }
            }
            "fill" => {
                let index = self.index()?;
                let text = self.operand("PATTERN")?;
                let pattern = parse_pattern(&text).map_err(|e| self.usage(e.to_string()))?;
                let range = self.range()?;
                Command::Fill {
                    index,
                    pattern,
                    range,
                }
            }
            "watch" => self.watch()?,
            _ => unreachable!("every name in COMMANDS is parsed"),
        };
        if let Some((name, _)) = self.args.options.first() {
            return Err(self.usage(format!("unknown option {name}")));
        }
        if let Some(extra) = self.args.operands.first() {
            return Err(self.usage(format!("unexpected argument '{extra}'")));
        }
        Ok(command)
    }

    /// Takes the next operand, which must be there.
    fn operand(&mut self, what: &str) -> Result<String, Error> {
        if self.args.operands.is_empty() {
            return Err(self.usage(format!("missing {what}")));
        }
        Ok(self.args.operands.remove(0))
    }

    fn index(&mut self) -> Result<u32, Error> {
        let text = self.operand("virtual device index N")?;
        parse_index(&text)
            .ok_or_else(|| self.usage(format!("invalid virtual device index '{text}'")))
    }

    /// Takes flag `names` (aliases) if given.
    fn flag(&mut self, names: &[&str]) -> bool {
        let before = self.args.options.len();
        self.args
            .options
            .retain(|(n, v)| !(v.is_none() && names.contains(&n.as_str())));
        before != self.args.options.len()
    }

    /// Takes the value of option `name` if given; the last one wins.
    fn value(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.args.options.retain(|(n, v)| {
            if n == name {
                found = v.clone();
                false
            } else {
                true
            }
        });
        found
    }

    fn size_option(&mut self, name: &str) -> Result<Option<u64>, Error> {
        match self.value(name) {
            Some(text) => parse_size(&text)
                .map(Some)
                .map_err(|e| self.size_error(name, &text, e)),
            None => Ok(None),
        }
    }

    fn size_error(&self, what: &str, text: &str, e: SizeError) -> Error {
        self.usage(format!("{what} '{text}': {e}"))
    }

    fn range(&mut self) -> Result<Range, Error> {
        let offset = self.size_option("--offset")?.unwrap_or(0);
        // Offsets are off_t for the kernel.
        if offset > i64::MAX as u64 {
            return Err(self.usage("--offset is too large"));
        }
        let length = self.size_option("--length")?;
        Ok(Range { offset, length })
    }

    fn watch(&mut self) -> Result<Command, Error> {
        let count = match self.value("--count") {
            Some(text) => match text.parse::<u64>() {
                Ok(n) if n > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(self.usage(format!("--count '{text}': not a positive number"))),
            },
            None => None,
        };
        let timeout = match self.value("--timeout") {
            Some(text) => Some(parse_seconds(&text).ok_or_else(|| {
                self.usage(format!("--timeout '{text}': not a number of seconds"))
            })?),
            None => None,
        };
        let interval = match self.value("--interval") {
            Some(text) => match text.parse::<u64>() {
                Ok(ms) if ms > 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
                    Duration::from_millis(ms)
                }
                _ => {
                    return Err(self.usage(format!(
                        "--interval '{text}': not a positive number of milliseconds"
                    )));
                }
            },
            None => DEFAULT_INTERVAL,
        };
        Ok(Command::Watch {
            count,
            timeout,
            interval,
        })
    }
}

/// A virtual device index: decimal digits that fit a `__u32`.
fn parse_index(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Seconds, decimals allowed: `5`, `0.5`.
fn parse_seconds(text: &str) -> Option<Duration> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn usage_message(line: &str) -> String {
        match parse_str(line) {
            Err(Error::Usage { message, .. }) => message,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn status() {
        assert_eq!(parse_str("status"), Ok(Command::Status { json: false }));
        assert_eq!(
            parse_str("status --json"),
            Ok(Command::Status { json: true })
        );
        assert_eq!(usage_message("status --jsn"), "unknown option --jsn");
        assert_eq!(usage_message("status -jx"), "unknown option -jx");
        assert_eq!(usage_message("status 1"), "unexpected argument '1'");
        assert_eq!(
            usage_message("status --json=yes"),
            "option --json takes no value"
        );
    }

    #[test]
    fn state_changes_take_one_index() {
        assert_eq!(parse_str("switch 1"), Ok(Command::Switch(1)));
        assert_eq!(parse_str("eject 0"), Ok(Command::Eject(0)));
        assert_eq!(parse_str("insert 63"), Ok(Command::Insert(63)));
        assert_eq!(
            parse_str("switch 4294967295"),
            Ok(Command::Switch(u32::MAX))
        );
        assert_eq!(usage_message("switch"), "missing virtual device index N");
        assert_eq!(usage_message("switch 1 2"), "unexpected argument '2'");
        for bad in ["-1", "+1", "x", "1x", "4294967296", "0x1"] {
            assert_eq!(
                usage_message(&format!("eject {bad}")),
                format!("invalid virtual device index '{bad}'")
            );
        }
    }

    #[test]
    fn resize_sizes() {
        assert_eq!(
            parse_str("resize 64K"),
            Ok(Command::Resize {
                size: 65536,
                text: "64K".into()
            })
        );
        assert_eq!(
            usage_message("resize 1.5M"),
            "SIZE '1.5M': not a size (a number of bytes, optionally with K, M or G)"
        );
        assert_eq!(
            usage_message("resize 99999999999G"),
            "SIZE '99999999999G': size too large"
        );
        assert_eq!(usage_message("resize"), "missing SIZE");
    }

    #[test]
    fn dump_options() {
        assert_eq!(
            parse_str("dump 2"),
            Ok(Command::Dump {
                index: 2,
                range: Range::default(),
                raw: false,
                squeeze: true
            })
        );
        let expected = Command::Dump {
            index: 1,
            range: Range {
                offset: 4096,
                length: Some(16),
            },
            raw: true,
            squeeze: false,
        };
        assert_eq!(
            parse_str("dump 1 --offset 4K --length 16 --raw -v"),
            Ok(expected.clone())
        );
        assert_eq!(
            parse_str("dump --raw --offset=4096 --length=16 --no-squeeze 1"),
            Ok(expected)
        );
        assert_eq!(
            usage_message("dump 1 --offset"),
            "option --offset needs a value"
        );
        assert_eq!(
            usage_message("dump 1 --offset 9223372036854775808"),
            "--offset is too large"
        );
        assert_eq!(
            usage_message("dump 1 --length 1Q"),
            "--length '1Q': not a size (a number of bytes, optionally with K, M or G)"
        );
    }

    #[test]
    fn fill_patterns() {
        assert_eq!(
            parse_str(r"fill 3 ab\x00 --length 2K"),
            Ok(Command::Fill {
                index: 3,
                pattern: b"ab\0".to_vec(),
                range: Range {
                    offset: 0,
                    length: Some(2048)
                },
            })
        );
        assert_eq!(usage_message("fill 3"), "missing PATTERN");
        assert_eq!(usage_message(r"fill 3 \q"), r"unknown escape \q in pattern");
        // A pattern that looks like an option needs "--".
        assert_eq!(
            parse_str("fill 0 -- -x-"),
            Ok(Command::Fill {
                index: 0,
                pattern: b"-x-".to_vec(),
                range: Range::default(),
            })
        );
    }

    #[test]
    fn watch_options() {
        assert_eq!(
            parse_str("watch"),
            Ok(Command::Watch {
                count: None,
                timeout: None,
                interval: DEFAULT_INTERVAL
            })
        );
        assert_eq!(
            parse_str("watch --count 2 --timeout 1.5 --interval 10"),
            Ok(Command::Watch {
                count: Some(2),
                timeout: Some(Duration::from_millis(1500)),
                interval: Duration::from_millis(10)
            })
        );
        assert_eq!(
            usage_message("watch --count 0"),
            "--count '0': not a positive number"
        );
        assert_eq!(
            usage_message("watch --count +3"),
            "--count '+3': not a positive number"
        );
        assert_eq!(
            usage_message("watch --timeout -1"),
            "--timeout '-1': not a number of seconds"
        );
        assert_eq!(
            usage_message("watch --timeout 1e9"),
            "--timeout '1e9': not a number of seconds"
        );
        assert_eq!(
            usage_message("watch --interval 0"),
            "--interval '0': not a positive number of milliseconds"
        );
    }

    #[test]
    fn help_everywhere() {
        assert_eq!(parse_str("--help"), Ok(Command::Help(None)));
        assert_eq!(parse_str("-h"), Ok(Command::Help(None)));
        assert_eq!(parse_str("help"), Ok(Command::Help(None)));
        assert_eq!(parse_str("help fill"), Ok(Command::Help(Some("fill"))));
        for (name, _) in COMMANDS {
            assert_eq!(
                parse_str(&format!("{name} --help")),
                Ok(Command::Help(Some(name)))
            );
            // Help wins over a bad command line.
            assert_eq!(
                parse_str(&format!("{name} --bogus -h")),
                Ok(Command::Help(Some(name)))
            );
            let help = command_help(name);
            assert!(
                help.starts_with(&format!("Usage: vdmuxctl {name}")),
                "{name}"
            );
            assert!(main_help().contains(&format!("  {name} ")), "{name}");
        }
        assert_eq!(usage_message("help frob"), "unknown command 'frob'");
    }

    #[test]
    fn bad_command_lines() {
        assert_eq!(usage_message(""), "missing command");
        assert_eq!(usage_message("frob"), "unknown command 'frob'");
        assert!(matches!(
            parse_str("switch"),
            Err(Error::Usage {
                command: Some("switch"),
                ..
            })
        ));
    }

    #[test]
    fn contexts_name_the_command_as_typed() {
        assert_eq!(parse_str("switch 9").unwrap().context(), "switch 9");
        assert_eq!(parse_str("resize 4K").unwrap().context(), "resize 4K");
        assert_eq!(
            parse_str("fill 1 x --length 3").unwrap().context(),
            "fill 1"
        );
    }

    #[test]
    fn help_lines_fit_a_terminal() {
        for (name, _) in COMMANDS {
            for line in command_help(name).lines().chain(main_help().lines()) {
                assert!(line.len() <= 80, "{line:?}");
            }
        }
    }
}
