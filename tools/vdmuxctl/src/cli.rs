// SPDX-License-Identifier: GPL-2.0

//! The command line, as clap derives it: one variant of [`Command`] and one
//! arguments struct per subcommand. clap renders help, usage and usage
//! errors itself (exit status 2).

use crate::{
    pattern::{PatternError, parse_pattern},
    size::{SizeError, parse_size},
};
use clap::{
    Args, Parser, Subcommand,
    builder::{OsStringValueParser, TypedValueParser},
};
use std::{ffi::OsString, fmt, os::unix::ffi::OsStrExt, path::PathBuf, time::Duration};

const AFTER_HELP: &str = "\
Sizes and offsets are bytes, or binary multiples with K, M or G
(64K = 65536). Changing state (switch, eject, insert, resize) needs
CAP_SYS_ADMIN.

Exit status: 0 success, 1 the operation failed, 2 usage error,
3 timed out (watch before --count changes, wait before N came forward).";

/// Inspect and control the vdmux virtual devices through /dev/vdmux (the
/// control node) and /dev/vdmuxN (virtual device N), or those of the
/// multiplexer --device chooses.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(name = "vdmuxctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The multiplexer to act on: the path of its control node
    /// (/dev/vdmux-1, a udev link /dev/vdmux-by-path/pci-…), or the
    /// address of the PCI device whose multiplexer it is (0000:00:04.0).
    /// Default: /dev/vdmux.
    #[arg(long, global = true, value_name = "PATH|PCI-ADDRESS")]
    pub device: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum Command {
    Status(StatusArgs),
    Switch(SwitchArgs),
    Eject(EjectArgs),
    Insert(InsertArgs),
    Resize(ResizeArgs),
    Dump(DumpArgs),
    Fill(FillArgs),
    Watch(WatchArgs),
    Wait(WaitArgs),
    Ctx(CtxArgs),
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// Show every virtual device: state, foreground, size, generation.
///
/// Show the number of virtual devices, their size, the foreground and the
/// control node's generation, then one line per virtual device: VDEV
/// (index), STATE (foreground, background or removed), FG (yes for the
/// foreground), SIZE (bytes) and GENERATION (bumped on each of its state
/// changes), and a last line that says whether context management is on,
/// and its hold time (see ctx).
///
/// Without access to /dev/vdmux the status is read from the virtual devices
/// alone and the overall generation is left out.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct StatusArgs {
    /// One JSON object: nr_vdevs, reserved_size, foreground (or null),
    /// generation (or null), vdevs, an array of objects with index,
    /// state, foreground (true or false), size and generation, and ctxmgt,
    /// an object with enabled (true or false) and timeout_ms.
    #[arg(long)]
    pub json: bool,
}

/// Bring a virtual device to the foreground.
///
/// Bring virtual device N to the foreground: its pages become the device
/// memory, and the previous foreground's go to its backing store. Mappings
/// of both stay valid and see their own bytes. N must not be removed.
/// Needs CAP_SYS_ADMIN.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchArgs {
    #[command(flatten)]
    pub vdev: Index,
}

/// Remove a virtual device: every access to it fails.
///
/// Remove virtual device N, like pulling a card from its slot: from now on
/// every read, write and new mapping fails with ENODEV, and an access
/// through an existing mapping raises SIGBUS. Its bytes are kept for
/// 'insert'. Needs CAP_SYS_ADMIN.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct EjectArgs {
    #[command(flatten)]
    pub vdev: Index,
}

/// Bring a removed virtual device back, in the background.
///
/// Bring removed virtual device N back, in the background, with the bytes
/// it had. Needs CAP_SYS_ADMIN.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertArgs {
    #[command(flatten)]
    pub vdev: Index,
}

/// Change the reserved size of every virtual device.
///
/// Set the reserved size, which is the size of every virtual device, to
/// SIZE rounded up to a page: 4096, 64K, 2M, 1G (K, M and G are 1024,
/// 1024^2 and 1024^3). Bytes below the new size are kept, the new ones are
/// zero. While any virtual device is mapped the size can grow, and a
/// smaller one fails (EBUSY). Needs CAP_SYS_ADMIN.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ResizeArgs {
    /// The new size: 4096, 64K, 2M, 1G.
    #[arg(value_name = "SIZE", value_parser = parse_size_arg)]
    pub size: Size,
}

/// Hexdump the bytes of a virtual device.
///
/// Read virtual device N with read(2) and print its bytes as 'hexdump -C'
/// does.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpArgs {
    #[command(flatten)]
    pub vdev: Index,
    #[command(flatten)]
    pub range: Range,
    /// Write the bytes themselves to standard output.
    #[arg(long)]
    pub raw: bool,
    /// Print repeated lines instead of '*'.
    #[arg(long, short = 'v')]
    pub no_squeeze: bool,
}

/// Fill a virtual device with a repeated pattern.
///
/// Fill virtual device N with PATTERN repeated, using write(2). PATTERN is
/// bytes; \n, \t, \r, \0, \\ and \xHH stand for those bytes. Put -- before
/// a PATTERN that starts with '-'.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FillArgs {
    #[command(flatten)]
    pub vdev: Index,
    /// The bytes to repeat.
    #[arg(value_name = "PATTERN",
        value_parser = OsStringValueParser::new().try_map(parse_pattern_arg))]
    pub pattern: Pattern,
    #[command(flatten)]
    pub range: Range,
}

/// Print every state change as it happens.
///
/// Print a first line with the current status (which names context
/// management and its hold time when it is on), then one line per change of
/// state or size as it happens. watch sleeps in epoll(7) on the control
/// node, which reports EPOLLPRI whenever its generation moved since watch
/// last read it, so no change is missed: each line starts with the control
/// node's generation, and says "(K changes)" when K changes came between
/// two reads. Per virtual device, "(K changes)" counts its own state
/// changes; a switch is one change of the control node and one of each
/// virtual device it concerns. A change of context management's mode or
/// hold time (see ctx), which moves no generation, has a line of its own
/// ("context management off (hold 0 ms) -> on (hold 10 ms)") and counts as
/// one change: watch also sleeps on /sys/class/misc/vdmux/ctxmgt and
/// ctxmgt_timeout_ms, which the driver notifies when they change.
///
/// Without access to /dev/vdmux (an unprivileged member of group vdmux),
/// watch polls every virtual device's node and
/// /sys/class/misc/vdmux/reserved_size instead: lines then start with
/// "change", and each line counts as one change for --count, since a
/// switch changes two virtual devices.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchArgs {
    /// Stop after N changes (with the control node, the changes its
    /// generation counts; without it, N lines).
    #[arg(long, value_name = "N", value_parser = parse_count,
        allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Stop after S seconds (decimals allowed); with --count, exit 3 if
    /// fewer than N changes were seen.
    #[arg(long, value_name = "S", value_parser = parse_seconds,
        allow_negative_numbers = true)]
    pub timeout: Option<Duration>,
    /// Print at most one line every MS milliseconds: the changes made
    /// meanwhile share the next line (default: a line as soon as a change
    /// happens).
    #[arg(long, value_name = "MS", value_parser = parse_millis,
        allow_negative_numbers = true)]
    pub interval: Option<Duration>,
}

/// Wait until a virtual device is in the foreground.
///
/// Return as soon as virtual device N is in the foreground: at once if it
/// is, else when a switch brings it forward. It sleeps in the
/// VDMUX_IOC_WAIT_FOREGROUND ioctl, which needs no privilege and works
/// through any node: /dev/vdmux, or /dev/vdmuxN when the control node
/// cannot be opened. A removed N is waited for until it is inserted and
/// switched to.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitArgs {
    #[command(flatten)]
    pub vdev: Index,
    /// Give up after S seconds (decimals allowed) with exit status 3.
    #[arg(long, value_name = "S", value_parser = parse_seconds,
        allow_negative_numbers = true)]
    pub timeout: Option<Duration>,
}

/// Show or set device context management.
///
/// With context management on, an access to a background virtual device
/// through a mapping makes it the foreground, as 'switch' would, once the
/// foreground has held the device memory for the hold time (--timeout);
/// the access waits meanwhile. Without ON or OFF, show the mode, the hold
/// time and the number of switches made by accesses. Setting needs
/// CAP_SYS_ADMIN; turning it on revokes every background virtual device's
/// mappings.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtxArgs {
    /// on or off; nothing to show the current setting.
    #[arg(value_name = "MODE", value_parser = parse_on_off)]
    pub mode: Option<bool>,
    /// The hold time: 10ms, 1s, or milliseconds (0 to 10s; default: keep
    /// the current one).
    #[arg(long, value_name = "T", value_parser = parse_hold, requires = "mode")]
    pub timeout: Option<Duration>,
}

/// Write vdmuxctl(8) and the bash, zsh and fish completions into DIR.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct GenerateArgs {
    /// Where to write vdmuxctl.8, vdmuxctl.bash, _vdmuxctl and
    /// vdmuxctl.fish.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The virtual device a command is about.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// The virtual device: 0 for /dev/vdmux0.
    #[arg(value_name = "N", value_parser = parse_index, allow_negative_numbers = true)]
    pub index: u32,
}

/// A byte range of a virtual device; no length means up to its end.
#[derive(Args, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// Start at byte O (default 0).
    #[arg(long, value_name = "O", default_value = "0", hide_default_value = true,
        value_parser = parse_offset)]
    pub offset: u64,
    /// At most L bytes (default: up to the end).
    #[arg(long, value_name = "L", value_parser = parse_size)]
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

impl fmt::Display for Command {
    /// The command as messages name it: `switch 9`, `resize 4K`, `dump 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(_) => f.write_str("status"),
            Self::Switch(a) => write!(f, "switch {}", a.vdev.index),
            Self::Eject(a) => write!(f, "eject {}", a.vdev.index),
            Self::Insert(a) => write!(f, "insert {}", a.vdev.index),
            Self::Resize(a) => write!(f, "resize {}", a.size.text),
            Self::Dump(a) => write!(f, "dump {}", a.vdev.index),
            Self::Fill(a) => write!(f, "fill {}", a.vdev.index),
            Self::Watch(_) => f.write_str("watch"),
            Self::Wait(a) => write!(f, "wait {}", a.vdev.index),
            Self::Ctx(a) => match a.mode {
                Some(true) => f.write_str("ctx on"),
                Some(false) => f.write_str("ctx off"),
                None => f.write_str("ctx"),
            },
            Self::Generate(a) => write!(f, "generate {}", a.dir.display()),
        }
    }
}

// The value parsers' errors say what is wrong with the value; clap names
// the value and the argument.

fn parse_index(text: &str) -> Result<u32, &'static str> {
    // Decimal digits that fit a `__u32`: no sign, no base prefix.
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or("not a virtual device index (0 to 4294967295)")
}

fn parse_size_arg(text: &str) -> Result<Size, SizeError> {
    Ok(Size {
        bytes: parse_size(text)?,
        text: text.to_string(),
    })
}

fn parse_offset(text: &str) -> Result<u64, String> {
    let offset = parse_size(text).map_err(|e| e.to_string())?;
    // Offsets are off_t for the kernel.
    if offset > i64::MAX as u64 {
        return Err("offset too large".into());
    }
    Ok(offset)
}

fn parse_pattern_arg(text: OsString) -> Result<Pattern, PatternError> {
    parse_pattern(text.as_bytes()).map(Pattern)
}

fn positive(text: &str) -> Option<u64> {
    let n: u64 = text.parse().ok()?;
    (n > 0 && text.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

fn parse_count(text: &str) -> Result<u64, &'static str> {
    positive(text).ok_or("not a positive number")
}

fn parse_millis(text: &str) -> Result<Duration, &'static str> {
    positive(text)
        .map(Duration::from_millis)
        .ok_or("not a positive number of milliseconds")
}

fn parse_on_off(text: &str) -> Result<bool, &'static str> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("not on or off"),
    }
}

/// A hold time: `10ms`, `2s`, or a number of milliseconds; at most 10 s.
fn parse_hold(text: &str) -> Result<Duration, &'static str> {
    let (digits, unit) = match text.strip_suffix("ms") {
        Some(d) => (d, 1),
        None => match text.strip_suffix('s') {
            Some(d) => (d, 1000),
            None => (text, 1),
        },
    };
    Some(digits)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(unit))
        .filter(|&ms| ms <= 10_000)
        .map(Duration::from_millis)
        .ok_or("not a hold time from 0 to 10s (10ms, 2s, or milliseconds)")
}

/// Seconds, decimals allowed: `5`, `0.5`.
fn parse_seconds(text: &str) -> Result<Duration, &'static str> {
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .and_then(|t| t.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or("not a number of seconds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, error::ErrorKind};

    fn parse(line: &str) -> Result<Command, clap::Error> {
        let args = std::iter::once("vdmuxctl").chain(line.split_whitespace());
        Cli::try_parse_from(args).map(|cli| cli.command)
    }

    /// The kind of clap's error for `line`, and its first line.
    fn refused(line: &str) -> (ErrorKind, String) {
        let e = parse(line).expect_err(line);
        let text = e.render().to_string();
        (
            e.kind(),
            text.lines().next().unwrap_or_default().to_string(),
        )
    }

    fn idx(index: u32) -> Index {
        Index { index }
    }

    #[test]
    fn clap_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn status() {
        assert_eq!(
            parse("status").unwrap(),
            Command::Status(StatusArgs { json: false })
        );
        assert_eq!(
            parse("status --json").unwrap(),
            Command::Status(StatusArgs { json: true })
        );
        assert_eq!(refused("status --yaml").0, ErrorKind::UnknownArgument);
        assert_eq!(refused("status 1").0, ErrorKind::UnknownArgument);
        assert_eq!(refused("status --json=yes").0, ErrorKind::TooManyValues);
    }

    #[test]
    fn state_changes_take_one_index() {
        assert_eq!(
            parse("switch 1").unwrap(),
            Command::Switch(SwitchArgs { vdev: idx(1) })
        );
        assert_eq!(
            parse("insert 4294967295").unwrap(),
            Command::Insert(InsertArgs {
                vdev: idx(u32::MAX)
            })
        );
        assert_eq!(refused("switch").0, ErrorKind::MissingRequiredArgument);
        assert_eq!(refused("switch 1 2").0, ErrorKind::UnknownArgument);
        for bad in ["+1", "x", "1x", "4294967296", "0x1"] {
            assert_eq!(
                refused(&format!("eject {bad}")),
                (
                    ErrorKind::ValueValidation,
                    format!(
                        "error: invalid value '{bad}' for '<N>': not a virtual device index \
                         (0 to 4294967295)"
                    )
                )
            );
        }
    }

    #[test]
    fn resize_sizes() {
        let size = Size {
            bytes: 65536,
            text: "64K".into(),
        };
        assert_eq!(
            parse("resize 64K").unwrap(),
            Command::Resize(ResizeArgs { size })
        );
        assert_eq!(
            refused("resize 1.5M").1,
            "error: invalid value '1.5M' for '<SIZE>': not a size (a number of bytes, \
             optionally with K, M or G)"
        );
        assert_eq!(
            refused("resize 99999999999G").1,
            "error: invalid value '99999999999G' for '<SIZE>': size too large"
        );
    }

    #[test]
    fn dump_options() {
        let expected = Command::Dump(DumpArgs {
            vdev: idx(1),
            range: Range {
                offset: 4096,
                length: Some(16),
            },
            raw: true,
            no_squeeze: true,
        });
        assert_eq!(
            parse("dump 1 --offset 4K --length 16 --raw -v").unwrap(),
            expected
        );
        assert_eq!(
            parse("dump --raw --offset=4096 --length=16 --no-squeeze 1").unwrap(),
            expected
        );
        assert_eq!(refused("dump 1 --offset").0, ErrorKind::InvalidValue);
        assert_eq!(
            refused("dump 1 --offset 9223372036854775808").1,
            "error: invalid value '9223372036854775808' for '--offset <O>': offset too large"
        );
    }

    #[test]
    fn fill_patterns() {
        assert_eq!(
            parse(r"fill 3 ab\x00 --length 2K").unwrap(),
            Command::Fill(FillArgs {
                vdev: idx(3),
                pattern: Pattern(b"ab\0".to_vec()),
                range: Range {
                    offset: 0,
                    length: Some(2048)
                },
            })
        );
        assert_eq!(refused("fill 3").0, ErrorKind::MissingRequiredArgument);
        assert_eq!(
            refused(r"fill 3 \q").1,
            r"error: invalid value '\q' for '<PATTERN>': unknown escape \q in pattern"
        );
        // A pattern that looks like an option needs "--".
        assert_eq!(
            parse("fill 0 -- -x-").unwrap(),
            Command::Fill(FillArgs {
                vdev: idx(0),
                pattern: Pattern(b"-x-".to_vec()),
                range: Range::default()
            })
        );
    }

    #[test]
    fn a_pattern_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let args = ["vdmuxctl", "fill", "0"]
            .map(OsString::from)
            .into_iter()
            .chain([OsString::from_vec(b"\xff\\x41".to_vec())]);
        let cli = Cli::try_parse_from(args).unwrap();
        assert!(matches!(cli.command, Command::Fill(a) if a.pattern.0 == b"\xffA"));
    }

    #[test]
    fn watch_options() {
        assert_eq!(
            parse("watch --count 2 --timeout 1.5 --interval 10").unwrap(),
            Command::Watch(WatchArgs {
                count: Some(2),
                timeout: Some(Duration::from_millis(1500)),
                interval: Some(Duration::from_millis(10))
            })
        );
        for bad in ["--count 0", "--count +3", "--timeout 1e9", "--interval 0"] {
            assert_eq!(
                refused(&format!("watch {bad}")).0,
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
    }

    #[test]
    fn wait_options() {
        assert_eq!(
            parse("wait 2 --timeout 0.5").unwrap(),
            Command::Wait(WaitArgs {
                vdev: idx(2),
                timeout: Some(Duration::from_millis(500))
            })
        );
    }

    #[test]
    fn ctx_options() {
        assert_eq!(
            parse("ctx").unwrap(),
            Command::Ctx(CtxArgs {
                mode: None,
                timeout: None
            })
        );
        assert_eq!(
            parse("ctx on --timeout 10ms").unwrap(),
            Command::Ctx(CtxArgs {
                mode: Some(true),
                timeout: Some(Duration::from_millis(10))
            })
        );
        assert_eq!(
            parse("ctx off").unwrap(),
            Command::Ctx(CtxArgs {
                mode: Some(false),
                timeout: None
            })
        );
        assert_eq!(
            parse("ctx on --timeout 2s").unwrap(),
            Command::Ctx(CtxArgs {
                mode: Some(true),
                timeout: Some(Duration::from_secs(2))
            })
        );
        assert_eq!(
            parse("ctx on --timeout 250").unwrap(),
            Command::Ctx(CtxArgs {
                mode: Some(true),
                timeout: Some(Duration::from_millis(250))
            })
        );
        for bad in [
            "ctx maybe",
            "ctx on --timeout 11s",
            "ctx on --timeout 1.5s",
            "ctx on --timeout x",
        ] {
            assert_eq!(refused(bad).0, ErrorKind::ValueValidation, "{bad}");
        }
        assert_eq!(
            refused("ctx --timeout 1s").0,
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(parse("ctx on").unwrap().to_string(), "ctx on");
    }

    #[test]
    fn help_is_clap_s() {
        assert_eq!(
            refused("").0,
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(refused("--help").0, ErrorKind::DisplayHelp);
        assert_eq!(refused("frobnicate").0, ErrorKind::InvalidSubcommand);
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Exit status: 0 success, 1 the operation failed"));
        // The generator is no command for users.
        assert!(!help.contains("generate"));
    }

    #[test]
    fn messages_name_the_command_as_typed() {
        assert_eq!(parse("switch 9").unwrap().to_string(), "switch 9");
        assert_eq!(parse("resize 4K").unwrap().to_string(), "resize 4K");
        assert_eq!(parse("fill 1 x --length 3").unwrap().to_string(), "fill 1");
    }
}
