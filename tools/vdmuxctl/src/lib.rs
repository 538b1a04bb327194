// SPDX-License-Identifier: GPL-2.0

//! vdmuxctl's parts, shared by the tool and by vdmuxctl-gen, which writes its
//! man page and shell completions.

pub mod changes;
pub mod cli;
pub mod commands;
pub mod device;
pub mod error;
pub mod hexdump;
pub mod pattern;
pub mod size;
pub mod status;
pub mod uapi;
