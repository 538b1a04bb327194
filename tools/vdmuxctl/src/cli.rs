// SPDX-License-Identifier: GPL-2.0

//! The command line (clap), and its errors in vdmuxctl's own words.

use crate::{error::Error, pattern::parse_pattern, size::parse_size};
use clap::{
    Args, CommandFactory, FromArgMatches, Parser, Subcommand,
    error::{ContextKind, ContextValue, ErrorKind},
};
use std::{error::Error as _, time::Duration};

const TEMPLATE: &str = "Usage: {usage}\n\n{about-with-newline}\n{all-args}{after-help}";

const AFTER_HELP: &str = "\
Run 'vdmuxctl COMMAND --help' for the arguments of a command.

Sizes and offsets are bytes, or binary multiples with K, M or G
(64K = 65536). Changing state (switch, eject, insert, resize) needs
CAP_SYS_ADMIN.

Exit status: 0 success, 1 the operation failed, 2 usage error,
3 timed out (watch before --count changes, wait before N came forward).";

#[derive(Parser, Debug, Clone, PartialEq)]
#[command(about = "Inspect and control the vdmux virtual devices through /dev/vdmux
(the control node) and /dev/vdmuxN (virtual device N).",
    name = "vdmuxctl", version, override_usage = "vdmuxctl COMMAND [ARGS]",
    help_template = TEMPLATE, after_help = AFTER_HELP, subcommand_required = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do, as parsed from the command line.
#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum Command {
    /// show every virtual device: state, foreground, size, generation
    #[command(
        override_usage = "vdmuxctl status [--json]",
        long_about = "Show the number of virtual devices, their size, the foreground and
the control node's generation, then one line per virtual device:
VDEV (index), STATE (foreground, background or removed), FG (yes for
the foreground), SIZE (bytes) and GENERATION (bumped on each of its
state changes).

Without access to /dev/vdmux the status is read from the virtual
devices alone and the overall generation is left out."
    )]
    Status {
        #[arg(
            long,
            help = "one JSON object: nr_vdevs, reserved_size, foreground (or null),
generation (or null), and vdevs, an array of objects with index,
state, foreground (true or false), size and generation"
        )]
        json: bool,
    },
    /// bring a virtual device to the foreground
    #[command(
        override_usage = "vdmuxctl switch N",
        long_about = "Bring virtual device N to the foreground: its pages become the device
memory, and the previous foreground's go to its backing store.
Mappings of both stay valid and see their own bytes. N must not be
removed. Needs CAP_SYS_ADMIN."
    )]
    Switch(Index),
    /// remove a virtual device: every access to it fails
    #[command(
        override_usage = "vdmuxctl eject N",
        long_about = "Remove virtual device N, like pulling a card from its slot: from now
on every read, write and new mapping fails with ENODEV, and an access
through an existing mapping raises SIGBUS. Its bytes are kept for
'insert'. Needs CAP_SYS_ADMIN."
    )]
    Eject(Index),
    /// bring a removed virtual device back, in the background
    #[command(
        override_usage = "vdmuxctl insert N",
        long_about = "Bring removed virtual device N back, in the background, with the
bytes it had. Needs CAP_SYS_ADMIN."
    )]
    Insert(Index),
    /// change the reserved size of every virtual device
    #[command(
        override_usage = "vdmuxctl resize SIZE",
        long_about = "Set the reserved size, which is the size of every virtual device, to
SIZE rounded up to a page: 4096, 64K, 2M, 1G (K, M and G are 1024,
1024^2 and 1024^3). Bytes below the new size are kept, the new ones
are zero. While any virtual device is mapped the size can grow, and a
smaller one fails (EBUSY). Needs CAP_SYS_ADMIN."
    )]
    Resize {
        #[arg(value_name = "SIZE", value_parser = resize_parser, help = "the new size: 4096, 64K, 2M, 1G")]
        size: Size,
    },
    /// hexdump the bytes of a virtual device
    #[command(
        override_usage = "vdmuxctl dump N [--offset O] [--length L] [--raw] [--no-squeeze]",
        long_about = "Read virtual device N with read(2) and print its bytes as
'hexdump -C' does."
    )]
    Dump {
        #[command(flatten)]
        index: Index,
        #[command(flatten)]
        range: Range,
        /// write the bytes themselves to standard output
        #[arg(long)]
        raw: bool,
        /// print repeated lines instead of '*'
        #[arg(long, short = 'v')]
        no_squeeze: bool,
    },
    /// fill a virtual device with a repeated pattern
    #[command(
        override_usage = "vdmuxctl fill N PATTERN [--offset O] [--length L]",
        long_about = "Fill virtual device N with PATTERN repeated, using write(2). PATTERN
is text; \\n, \\t, \\r, \\0, \\\\ and \\xHH stand for those bytes. Put
-- before a PATTERN that starts with '-'."
    )]
    Fill {
        #[command(flatten)]
        index: Index,
        #[arg(value_name = "PATTERN", value_parser = pattern_parser, help = "the bytes to repeat")]
        pattern: Pattern,
        #[command(flatten)]
        range: Range,
    },
    /// print every state change as it happens
    #[command(
        override_usage = "vdmuxctl watch [--count N] [--timeout S] [--interval MS]",
        long_about = "Print a first line with the current status, then one line per change
of state or size as it happens. watch sleeps in epoll(7) on the control
node, which reports EPOLLPRI whenever its generation moved since watch
last read it, so no change is missed: each line starts with the
control node's generation, and says \"(K changes)\" when K changes came
between two reads. Per virtual device, \"(K changes)\" counts its own
state changes; a switch is one change of the control node and one of
each virtual device it concerns.

Without access to /dev/vdmux (an unprivileged member of group vdmux),
watch polls every virtual device's node and
/sys/class/misc/vdmux/reserved_size instead: lines then start with
\"change\", and each line counts as one change for --count, since a
switch changes two virtual devices."
    )]
    Watch {
        #[arg(long, value_name = "N", value_parser = count_parser, allow_negative_numbers = true,
            help = "stop after N changes (with the control node, the changes its
generation counts; without it, N lines)")]
        count: Option<u64>,
        #[arg(long, value_name = "S", value_parser = seconds_parser, allow_negative_numbers = true,
            help = "stop after S seconds (decimals allowed); with --count, exit 3
if fewer than N changes were seen")]
        timeout: Option<Duration>,
        #[arg(long, value_name = "MS", value_parser = interval_parser, allow_negative_numbers = true,
            help = "print at most one line every MS milliseconds: the changes
made meanwhile share the next line (default: a line as soon as
a change happens)")]
        interval: Option<Duration>,
    },
    /// wait until a virtual device is in the foreground
    #[command(
        override_usage = "vdmuxctl wait N [--timeout S]",
        long_about = "Return as soon as virtual device N is in the foreground: at once if it
is, else when a switch brings it forward. It sleeps in the
VDMUX_IOC_WAIT_FOREGROUND ioctl, which needs no privilege and works
through any node: /dev/vdmux, or /dev/vdmuxN when the control node
cannot be opened. A removed N is waited for until it is inserted and
switched to."
    )]
    Wait {
        #[command(flatten)]
        index: Index,
        #[arg(long, value_name = "S", value_parser = seconds_parser, allow_negative_numbers = true,
            help = "give up after S seconds (decimals allowed) with exit status 3")]
        timeout: Option<Duration>,
    },
}

/// The virtual device a command is about.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    #[arg(value_name = "N", value_parser = index_parser, allow_negative_numbers = true,
        help = "the virtual device: 0 for /dev/vdmux0")]
    pub index: u32,
}

/// A byte range of a virtual device; no length means up to its end.
#[derive(Args, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// start at byte O (default 0)
    #[arg(long, value_name = "O", default_value = "0", hide_default_value = true,
        value_parser = offset_parser)]
    pub offset: u64,
    /// at most L bytes (default: up to the end)
    #[arg(long, value_name = "L", value_parser = size_parser("--length"))]
    pub length: Option<u64>,
}

/// A size with the text it was typed as, which messages repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
    pub text: String,
}

/// The bytes of a `fill` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(pub Vec<u8>);

impl Command {
    /// The command as messages name it: `switch 9`, `resize 4K`, `dump 1`.
    pub fn context(&self) -> String {
        match self {
            Self::Status { .. } => "status".into(),
            Self::Switch(i) => format!("switch {}", i.index),
            Self::Eject(i) => format!("eject {}", i.index),
            Self::Insert(i) => format!("insert {}", i.index),
            Self::Resize { size } => format!("resize {}", size.text),
            Self::Dump { index, .. } => format!("dump {}", index.index),
            Self::Fill { index, .. } => format!("fill {}", index.index),
            Self::Watch { .. } => "watch".into(),
            Self::Wait { index, .. } => format!("wait {}", index.index),
        }
    }
}

// The value parsers' errors are whole messages.

fn index_parser(text: &str) -> Result<u32, String> {
    // Decimal digits that fit a `__u32`.
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("invalid virtual device index '{text}'"))
}

fn size_parser(
    what: &'static str,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |text| parse_size(text).map_err(|e| format!("{what} '{text}': {e}"))
}

fn resize_parser(text: &str) -> Result<Size, String> {
    let bytes = size_parser("SIZE")(text)?;
    Ok(Size {
        bytes,
        text: text.to_string(),
    })
}

fn offset_parser(text: &str) -> Result<u64, String> {
    let offset = size_parser("--offset")(text)?;
    // Offsets are off_t for the kernel.
    if offset > i64::MAX as u64 {
        return Err("--offset is too large".into());
    }
    Ok(offset)
}

fn pattern_parser(text: &str) -> Result<Pattern, String> {
    parse_pattern(text).map(Pattern).map_err(|e| e.to_string())
}

fn positive(text: &str) -> Option<u64> {
    let n: u64 = text.parse().ok()?;
    (n > 0 && text.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

fn count_parser(text: &str) -> Result<u64, String> {
    positive(text).ok_or_else(|| format!("--count '{text}': not a positive number"))
}

fn interval_parser(text: &str) -> Result<Duration, String> {
    positive(text)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("--interval '{text}': not a positive number of milliseconds"))
}

/// Seconds, decimals allowed: `5`, `0.5`.
fn seconds_parser(text: &str) -> Result<Duration, String> {
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .and_then(|t| t.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("--timeout '{text}': not a number of seconds"))
}

/// vdmuxctl's clap command, every subcommand's help laid out like the
/// general help: usage first.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommands(|c| c.help_template(TEMPLATE).args_override_self(true))
}

/// What the command line asks for: a command, or help or the version
/// (clap's text, to print on standard output).
#[derive(Debug)]
pub enum Parsed {
    Run(Command),
    Print(String),
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, Error> {
    let name = args
        .first()
        .filter(|a| *a != "help" && Cli::command().find_subcommand(a.as_str()).is_some());
    let mut argv = vec!["vdmuxctl"];
    argv.extend(args.iter().map(String::as_str));
    // Help wins over a bad command line.
    let before_dashes = args.iter().take_while(|a| *a != "--");
    if name.is_some() && before_dashes.skip(1).any(|a| a == "-h" || a == "--help") {
        argv.truncate(2);
        argv.push("--help");
    }
    command()
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m))
        .map(|cli| Parsed::Run(cli.command))
        .or_else(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let text = e.to_string();
                let newline = if text.ends_with('\n') { "" } else { "\n" };
                Ok(Parsed::Print(text + newline))
            }
            _ => Err(Error::usage(
                name.cloned(),
                usage_message(&e, name.is_some()),
            )),
        })
}

/// clap's error `e`, as vdmuxctl words it.
fn usage_message(e: &clap::Error, in_command: bool) -> String {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    // "--offset <O>" and "<N>" name the option and the operand.
    let option = arg.split(' ').next().unwrap_or_default();
    let operand = arg.trim_matches(|c| c == '<' || c == '>');
    let unknown = || match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => arg.clone(),
    };
    match e.kind() {
        ErrorKind::ValueValidation => e.source().map(|s| s.to_string()).unwrap_or_default(),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "missing command".into()
        }
        ErrorKind::InvalidSubcommand => format!("unknown command '{}'", unknown()),
        ErrorKind::UnknownArgument if !in_command && !arg.starts_with('-') => {
            format!("unknown command '{arg}'")
        }
        ErrorKind::UnknownArgument if arg.len() > 1 && arg.starts_with('-') => {
            format!("unknown option {option}")
        }
        ErrorKind::UnknownArgument => format!("unexpected argument '{arg}'"),
        ErrorKind::MissingRequiredArgument if operand == "N" => {
            "missing virtual device index N".into()
        }
        ErrorKind::MissingRequiredArgument => format!("missing {operand}"),
        ErrorKind::InvalidValue => format!("option {option} needs a value"),
        ErrorKind::TooManyValues => format!("option {} takes no value", unknown_flag(e)),
        _ => {
            let text = e.kind().as_str().unwrap_or("invalid arguments");
            text.to_string()
        }
    }
}

/// The flag that was given a value (`--json=yes`).
fn unknown_flag(e: &clap::Error) -> String {
    let rendered = e.to_string();
    rendered
        .split('\'')
        .find(|s| s.starts_with("--"))
        .map(|s| s.split(' ').next().unwrap_or(s).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        match parse(&args)? {
            Parsed::Run(c) => Ok(c),
            Parsed::Print(text) => panic!("{line:?} printed {text}"),
        }
    }

    fn usage_message(line: &str) -> String {
        match parse_str(line) {
            Err(Error::Usage { message, .. }) => message,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn printed(line: &str) -> String {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        match parse(&args) {
            Ok(Parsed::Print(text)) => text,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn idx(index: u32) -> Index {
        Index { index }
    }

    #[test]
    fn clap_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn status() {
        assert_eq!(parse_str("status"), Ok(Command::Status { json: false }));
        assert_eq!(
            parse_str("status --json"),
            Ok(Command::Status { json: true })
        );
        assert_eq!(usage_message("status --jsn"), "unknown option --jsn");
        assert_eq!(usage_message("status --yaml"), "unknown option --yaml");
        assert_eq!(usage_message("status 1"), "unexpected argument '1'");
        assert_eq!(
            usage_message("status --json=yes"),
            "option --json takes no value"
        );
    }

    #[test]
    fn state_changes_take_one_index() {
        assert_eq!(parse_str("switch 1"), Ok(Command::Switch(idx(1))));
        assert_eq!(parse_str("eject 0"), Ok(Command::Eject(idx(0))));
        assert_eq!(parse_str("insert 63"), Ok(Command::Insert(idx(63))));
        assert_eq!(
            parse_str("switch 4294967295"),
            Ok(Command::Switch(idx(u32::MAX)))
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
        let size = Size {
            bytes: 65536,
            text: "64K".into(),
        };
        assert_eq!(parse_str("resize 64K"), Ok(Command::Resize { size }));
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
                index: idx(2),
                range: Range::default(),
                raw: false,
                no_squeeze: false
            })
        );
        let expected = Command::Dump {
            index: idx(1),
            range: Range {
                offset: 4096,
                length: Some(16),
            },
            raw: true,
            no_squeeze: true,
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
                index: idx(3),
                pattern: Pattern(b"ab\0".to_vec()),
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
                index: idx(0),
                pattern: Pattern(b"-x-".to_vec()),
                range: Range::default()
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
                interval: None
            })
        );
        assert_eq!(
            parse_str("watch --count 2 --timeout 1.5 --interval 10"),
            Ok(Command::Watch {
                count: Some(2),
                timeout: Some(Duration::from_millis(1500)),
                interval: Some(Duration::from_millis(10))
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
    fn wait_options() {
        assert_eq!(
            parse_str("wait 2"),
            Ok(Command::Wait {
                index: idx(2),
                timeout: None
            })
        );
        let expected = Command::Wait {
            index: idx(0),
            timeout: Some(Duration::from_millis(250)),
        };
        assert_eq!(parse_str("wait 0 --timeout 0.25"), Ok(expected.clone()));
        assert_eq!(parse_str("wait --timeout=0.25 0"), Ok(expected));
        assert_eq!(
            parse_str("wait 4294967295 --timeout 0"),
            Ok(Command::Wait {
                index: idx(u32::MAX),
                timeout: Some(Duration::ZERO)
            })
        );
        assert_eq!(usage_message("wait"), "missing virtual device index N");
        assert_eq!(
            usage_message("wait -1"),
            "invalid virtual device index '-1'"
        );
        assert_eq!(usage_message("wait 1 2"), "unexpected argument '2'");
        assert_eq!(
            usage_message("wait 1 --timeout"),
            "option --timeout needs a value"
        );
        assert_eq!(
            usage_message("wait 1 --timeout -2"),
            "--timeout '-2': not a number of seconds"
        );
        assert_eq!(
            usage_message("wait 1 --timeout 1s"),
            "--timeout '1s': not a number of seconds"
        );
        assert_eq!(usage_message("wait 1 --count 2"), "unknown option --count");
        assert!(matches!(
            parse_str("wait"),
            Err(Error::Usage { command: Some(c), .. }) if c == "wait"
        ));
        assert_eq!(parse_str("wait 7").unwrap().context(), "wait 7");
    }

    const NAMES: [&str; 9] = [
        "status", "switch", "eject", "insert", "resize", "dump", "fill", "watch", "wait",
    ];

    #[test]
    fn help_everywhere() {
        let main = printed("--help");
        assert!(
            main.starts_with("Usage: vdmuxctl COMMAND [ARGS]\n"),
            "{main}"
        );
        assert!(
            main.contains("\nExit status: 0 success, 1 the operation failed, 2 usage error,\n")
        );
        assert_eq!(printed("help"), main);
        assert!(printed("-V").starts_with("vdmuxctl 0."));
        for name in NAMES {
            assert!(main.contains(&format!("\n  {name} ")), "{name}");
            let help = printed(&format!("{name} --help"));
            assert!(
                help.starts_with(&format!("Usage: vdmuxctl {name}")),
                "{help}"
            );
            // Help wins over a bad command line.
            assert_eq!(printed(&format!("{name} --bogus -h")), help);
            assert_eq!(printed(&format!("help {name}")), help);
            for line in help.lines().chain(main.lines()) {
                assert!(line.len() <= 80, "{line:?}");
            }
        }
        assert_eq!(usage_message("help frob"), "unknown command 'frob'");
    }

    #[test]
    fn bad_command_lines() {
        assert_eq!(usage_message(""), "missing command");
        assert_eq!(usage_message("frob"), "unknown command 'frob'");
        assert_eq!(usage_message("frobnicate"), "unknown command 'frobnicate'");
        assert!(matches!(
            parse_str("switch"),
            Err(Error::Usage { command: Some(c), .. }) if c == "switch"
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
}
