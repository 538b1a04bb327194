// SPDX-License-Identifier: GPL-2.0

//! vdmuxctl: inspect and control the vdmux virtual devices.
//!
//! See `vdmuxctl --help`. Exit status: 0 success, 1 the operation failed,
//! 2 usage error (clap's), 3 `watch` or `wait` timed out.

use clap::Parser;
use nix::sys::signal::{SigHandler, Signal, signal};
use std::process::ExitCode;
use vdmuxctl::{cli::Cli, commands, error, target};

fn main() -> ExitCode {
    // Rust ignores SIGPIPE; a tool whose output goes to `head` should just
    // stop, like any other.
    // SAFETY: Restoring a default disposition before any thread exists.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let cli = Cli::parse();
    match target::choose(cli.device.as_deref()).and_then(|()| commands::run(&cli.command)) {
        Ok(()) => ExitCode::from(error::exit::OK),
        Err(e) => {
            // The command, then each cause: "switch 9: no such virtual
            // device (EINVAL)".
            eprintln!("vdmuxctl: {e:#}");
            ExitCode::from(error::exit_code(&e))
        }
    }
}
