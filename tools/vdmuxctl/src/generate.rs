// SPDX-License-Identifier: GPL-2.0

//! `vdmuxctl generate DIR` (hidden): writes vdmuxctl(8) and vdmuxctl's
//! bash, zsh and fish completions from its clap definition, for packages
//! and `make install`.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::{Shell, generate_to};
use std::{fs, io, path::Path};

/// `section` of a page rendered by clap_mangen, without its `.SH` line.
fn body(render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    render(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(".SH ")).collect();
    Ok((kept.join("\n") + "\n").into_bytes())
}

/// vdmuxctl(8): clap_mangen's sections, with every command in one page.
fn man_page() -> io::Result<Vec<u8>> {
    // Built, so that each subcommand's usage starts with "vdmuxctl".
    let mut cmd = Cli::command();
    cmd.build();
    let man = || {
        clap_mangen::Man::new(cmd.clone())
            .section("8")
            .manual("vdmux")
            .source(concat!("vdmuxctl ", env!("CARGO_PKG_VERSION")))
    };
    let mut out = Vec::new();
    man().render_title(&mut out)?;
    man().render_name_section(&mut out)?;
    man().render_synopsis_section(&mut out)?;
    man().render_options_section(&mut out)?;
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        let usage = sub.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        out.extend_from_slice(format!(".SS \"{usage}\"\n").as_bytes());
        let page = || clap_mangen::Man::new(sub.clone());
        out.extend(body(|o| page().render_description_section(o))?);
        out.extend(body(|o| page().render_options_section(o))?);
    }
    out.extend_from_slice(b".SH NOTES\n");
    out.extend(body(|o| man().render_extra_section(o))?);
    out.extend_from_slice(b".SH \"SEE ALSO\"\n.BR vdmux (4)\n");
    Ok(out)
}

/// Writes the man page and the completions into `dir`.
pub fn write_all(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("vdmuxctl.8"), man_page()?)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        generate_to(shell, &mut Cli::command(), "vdmuxctl", dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// tools/man/vdmuxctl.8 is this program's output, kept in the tree for
    /// readers: it must not drift from the command line it documents.
    #[test]
    fn the_man_page_in_the_tree_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../man/vdmuxctl.8");
        let ours = super::man_page().unwrap();
        let tree = std::fs::read(path).unwrap_or_default();
        assert!(
            ours == tree,
            "{path} is stale: run 'make tool-man' and commit it"
        );
    }
}
