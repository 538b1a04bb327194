// SPDX-License-Identifier: GPL-2.0

//! vdmuxctl's parts, built on the vdmux crate: the command line, the
//! commands, and what they print.

pub mod changes;
pub mod cli;
pub mod commands;
pub mod device;
pub mod error;
pub mod generate;
pub mod hexdump;
pub mod pattern;
pub mod size;
pub mod status;
pub mod target;
