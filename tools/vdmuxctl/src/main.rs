// SPDX-License-Identifier: GPL-2.0

//! vdmuxctl: inspect and control the vdmux virtual devices.
//!
//! See `vdmuxctl --help`. Exit status: 0 success, 1 the operation failed,
//! 2 usage error, 3 `watch` timed out before `--count` changes.

mod cli;
mod commands;
mod device;
mod error;
mod hexdump;
mod pattern;
mod size;
mod status;
mod uapi;

use cli::Command;
use error::{Error, exit};
use std::{env, process::ExitCode};

fn main() -> ExitCode {
    // Rust ignores SIGPIPE; a tool whose output goes to `head` should just
    // stop, like any other.
    // SAFETY: Restoring a default disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Result<Vec<String>, _> = env::args_os().skip(1).map(|a| a.into_string()).collect();
    let result = match args {
        Ok(args) => run(&args),
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

fn run(args: &[String]) -> Result<(), Error> {
    match cli::parse(args)? {
        Command::Help(None) => print!("{}", cli::main_help()),
        Command::Help(Some(name)) => print!("{}", cli::command_help(name)),
        Command::Version => println!("vdmuxctl {}", env!("CARGO_PKG_VERSION")),
        command => commands::run(&command)?,
    }
    Ok(())
}
