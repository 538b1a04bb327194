// SPDX-License-Identifier: GPL-2.0

//! Writes vdmuxctl(8) and vdmuxctl's bash, zsh and fish completions from its
//! clap definition: `vdmuxctl-gen DIR`.

use clap_complete::{Shell, generate_to};
use std::{env, fs, io, path::PathBuf};
use vdmuxctl::cli::command;

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
    let cmd = command();
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
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
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

fn main() -> io::Result<()> {
    let dir = PathBuf::from(env::args_os().nth(1).expect("usage: vdmuxctl-gen DIR"));
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("vdmuxctl.8"), man_page()?)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        generate_to(shell, &mut command(), "vdmuxctl", &dir)?;
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
