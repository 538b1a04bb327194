// SPDX-License-Identifier: GPL-2.0

//! The committed bindings (`src/uapi_generated.rs`) against the header they
//! were generated from, `include/uapi/vdmux.h`: every constant, ioctl
//! number, structure size, field offset and field size, as the C compiler sees them,
//! must be what the crate has, and the crate must have every `VDMUX_*`
//! definition, structure and field of the header. Regenerate the bindings
//! with `make tool-uapi` when it fails.

use std::{
    collections::BTreeMap,
    env, fs,
    mem::{offset_of, size_of},
    path::PathBuf,
    process::Command,
};
use vdmux::uapi;

/// The size of the field that `field` borrows.
fn field_size<S, F>(_field: fn(&S) -> &F) -> usize {
    size_of::<F>()
}

/// Every item of the header, with the crate's value: each a C expression.
fn ours() -> BTreeMap<String, u64> {
    let mut items = BTreeMap::new();
    macro_rules! constants {
        ($($name:ident),* $(,)?) => {
            $(items.insert(stringify!($name).to_string(), u64::from(uapi::$name));)*
        };
    }
    constants!(
        VDMUX_IOC_MAGIC,
        VDMUX_CONTROL,
        VDMUX_NONE,
        VDMUX_STATE_FOREGROUND,
        VDMUX_STATE_BACKGROUND,
        VDMUX_STATE_REMOVED,
        VDMUX_STATE_CONTROL,
        VDMUX_IOC_GET_RESERVED_SIZE,
        VDMUX_IOC_SET_RESERVED_SIZE,
        VDMUX_IOC_SWITCH,
        VDMUX_IOC_EJECT,
        VDMUX_IOC_INSERT,
        VDMUX_IOC_GET_STATUS,
        VDMUX_IOC_WAIT_FOREGROUND,
        VDMUX_IOC_SET_AUTOGROW,
        VDMUX_IOC_POPULATE,
        VDMUX_CTXMGT_MAX_TIMEOUT_MS,
        VDMUX_IOC_SET_CTXMGT,
        VDMUX_IOC_GET_CTXMGT,
    );
    macro_rules! structure {
        ($name:ident { $($field:ident),* $(,)? }) => {
            items.insert(
                format!("sizeof(struct {})", stringify!($name)),
                size_of::<uapi::$name>() as u64,
            );
            $(items.insert(
                format!("offsetof(struct {}, {})", stringify!($name), stringify!($field)),
                offset_of!(uapi::$name, $field) as u64,
            );
            items.insert(
                format!("sizeof(((struct {} *)0)->{})", stringify!($name), stringify!($field)),
                field_size(|s: &uapi::$name| &s.$field) as u64,
            );)*
        };
    }
    structure!(vdmux_status {
        index,
        state,
        foreground,
        nr_vdevs,
        reserved_size,
        generation
    });
    structure!(vdmux_range { addr, len });
    structure!(vdmux_ctxmgt { enable, timeout_ms });
    items
}

fn header() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/uapi/vdmux.h")
}

/// The names the header defines: `VDMUX_*` macros, and each structure with
/// its fields, named as in [`ours`].
fn header_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut structure = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#define VDMUX_") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            names.push(format!("VDMUX_{name}"));
        } else if let Some(rest) = line.strip_prefix("struct vdmux_") {
            if let Some(name) = rest.strip_suffix(" {") {
                structure = Some(format!("vdmux_{name}"));
                names.push(format!("sizeof(struct vdmux_{name})"));
            }
        } else if line.starts_with("};") {
            structure = None;
        } else if let Some(s) = &structure {
            // "__u32 index;": the last word, without the semicolon.
            if let Some(field) = line
                .strip_suffix(';')
                .and_then(|l| l.split_whitespace().last())
            {
                names.push(format!("offsetof(struct {s}, {field})"));
                names.push(format!("sizeof(((struct {s} *)0)->{field})"));
            }
        }
    }
    names
}

/// What the C compiler makes of every item of [`ours`] with the header.
fn theirs(items: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uapi_drift");
    fs::create_dir_all(&dir).unwrap();
    let mut probe = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"vdmux.h\"\nint main(void)\n{\n",
    );
    for name in items.keys() {
        probe += &format!("\tprintf(\"%s=%llu\\n\", \"{name}\", (unsigned long long)({name}));\n");
    }
    probe += "\treturn 0;\n}\n";
    let source = dir.join("probe.c");
    let binary = dir.join("probe");
    fs::write(&source, probe).unwrap();
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let include = header().parent().unwrap().to_path_buf();
    let status = Command::new(&cc)
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(&include)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc}: {e}"));
    assert!(
        status.success(),
        "{cc} could not build {}",
        source.display()
    );
    let out = Command::new(&binary).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, value) = l.split_once('=').unwrap();
            (name.to_string(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_bindings_cover_the_whole_header() {
    let text = fs::read_to_string(header()).unwrap();
    let ours = ours();
    let header: Vec<String> = header_names(&text);
    let missing: Vec<&String> = header.iter().filter(|n| !ours.contains_key(*n)).collect();
    let extra: Vec<&String> = ours.keys().filter(|n| !header.contains(n)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the header defines {missing:?} that the crate lacks, the crate has {extra:?} that the \
         header does not define"
    );
}

#[test]
fn the_bindings_have_the_header_s_values() {
    let ours = ours();
    let theirs = theirs(&ours);
    let differ: Vec<String> = ours
        .iter()
        .filter(|(name, value)| theirs.get(*name) != Some(value))
        .map(|(name, value)| format!("{name}: crate {value}, header {:?}", theirs.get(name)))
        .collect();
    assert!(
        differ.is_empty(),
        "the bindings drifted from the header:\n{}",
        differ.join("\n")
    );
}
