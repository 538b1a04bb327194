// SPDX-License-Identifier: GPL-2.0

//! vdmuxctl: inspect and control the vdmux virtual devices.
//!
//! See `vdmuxctl --help`. Exit status: 0 success, 1 the operation failed,
//! 2 usage error, 3 `watch` timed out before `--count` changes.

use nix::sys::signal::{SigHandler, Signal, signal};
use std::{env, process::ExitCode};
use vdmuxctl::{
    cli::{self, Parsed},
    commands,
    error::{Error, exit},
};

fn main() -> ExitCode {
    // Rust ignores SIGPIPE; a tool whose output goes to `head` should just
    // stop, like any other.
    // SAFETY: Restoring a default disposition before any thread exists.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let args: Result<Vec<String>, _> = env::args_os().skip(1).map(|a| a.into_string()).collect();
    let result = match args {
        Ok(args) => cli::parse(&args).and_then(|parsed| match parsed {
            Parsed::Print(text) => {
                print!("{text}");
                Ok(())
            }
            Parsed::Run(command) => commands::run(&command),
        }),
        Err(_) => Err(Error::usage(None, "arguments must be valid UTF-8")),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
