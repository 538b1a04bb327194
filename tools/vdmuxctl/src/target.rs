// SPDX-License-Identifier: GPL-2.0

//! Which multiplexer the commands act on: `--device`, a control node's path
//! or the address of the PCI device whose multiplexer it is; `/dev/vdmux`
//! by default.

use anyhow::{Result, bail};
use std::{
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};
use vdmux::Mux;

/// Where the PCI core shows a device, and under it the misc devices whose
/// parent it is (the nodes of its multiplexer).
const PCI_DEVICES: &str = "/sys/bus/pci/devices";

/// The control node chosen for this run, set once by [`choose`].
static CONTROL: OnceLock<PathBuf> = OnceLock::new();

/// Chooses the multiplexer of this run from `--device`'s value, if given.
pub fn choose(device: Option<&str>) -> Result<()> {
    let path = match device {
        None => PathBuf::from(Mux::DEFAULT_PATH),
        Some(device) => resolve(device, Path::new(PCI_DEVICES))?,
    };
    // A second choice keeps the first: one run acts on one multiplexer.
    let _ = CONTROL.set(path);
    Ok(())
}

/// The control node of the multiplexer chosen.
pub fn control() -> &'static Path {
    CONTROL.get_or_init(|| PathBuf::from(Mux::DEFAULT_PATH))
}

/// The node of virtual device `index` of the multiplexer chosen.
pub fn vdev(index: u32) -> PathBuf {
    Mux::vdev_path_of(control(), index)
}

/// The control node that `device` names: a path (anything with a `/`), or
/// a PCI address (`0000:00:04.0`, or `00:04.0` in domain 0), whose
/// device's control node is found under `pci_devices`.
pub fn resolve(device: &str, pci_devices: &Path) -> Result<PathBuf> {
    if device.contains('/') {
        return Ok(PathBuf::from(device));
    }
    let Some(address) = pci_address(device) else {
        bail!("--device {device}: neither a path nor a PCI address (0000:00:04.0)");
    };
    let misc = pci_devices.join(&address).join("misc");
    let names = match fs::read_dir(&misc) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect::<Vec<_>>(),
        Err(_) if !pci_devices.join(&address).exists() => {
            bail!("--device {device}: no PCI device {address}")
        }
        Err(_) => Vec::new(),
    };
    match names.iter().find(|name| is_control_name(name)) {
        Some(name) => Ok(Path::new("/dev").join(name)),
        None => bail!(
            "--device {device}: PCI device {address} has no vdmux nodes (is it bound to vdmux?)"
        ),
    }
}

/// `address` with its domain (`0000:` if left out), if it is a PCI address.
fn pci_address(address: &str) -> Option<String> {
    let full = match address.matches(':').count() {
        1 => format!("0000:{address}"),
        2 => address.to_string(),
        _ => return None,
    };
    let (rest, function) = full.rsplit_once('.')?;
    let fields: Vec<&str> = rest.split(':').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit());
    // The domain is printed with at least four digits (VMD's have five).
    let domain = |s: &str| s.len() >= 4 && s.chars().all(|c| c.is_ascii_hexdigit());
    (fields.len() == 3
        && domain(fields[0])
        && hex(fields[1], 2)
        && hex(fields[2], 2)
        && function.len() == 1
        && function.chars().all(|c| ('0'..='7').contains(&c)))
    .then(|| full.to_ascii_lowercase())
}

/// Whether `name` is a control node's: `vdmux`, or `vdmux-I` (not
/// `vdmuxN` nor `vdmux-I.N`, which are virtual devices).
fn is_control_name(name: &str) -> bool {
    match name.strip_prefix("vdmux") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit())),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses() {
        assert_eq!(pci_address("0000:00:04.0").as_deref(), Some("0000:00:04.0"));
        assert_eq!(pci_address("00:1F.3").as_deref(), Some("0000:00:1f.3"));
        assert_eq!(pci_address("vdmux-1"), None);
        assert_eq!(pci_address("00:04"), None);
        assert_eq!(pci_address("00:04.8"), None);
        assert_eq!(pci_address("0:0:04.0"), None);
        assert_eq!(
            pci_address("10000:00:04.0").as_deref(),
            Some("10000:00:04.0")
        );
    }

    #[test]
    fn control_names() {
        assert!(is_control_name("vdmux"));
        assert!(is_control_name("vdmux-1"));
        assert!(is_control_name("vdmux-12"));
        assert!(!is_control_name("vdmux0"));
        assert!(!is_control_name("vdmux-1.0"));
        assert!(!is_control_name("vdmux-"));
        assert!(!is_control_name("other"));
    }

    /// A fake /sys/bus/pci/devices: 0000:00:04.0 with instance 1's nodes,
    /// 0000:00:05.0 bound to nothing.
    fn fake_sysfs() -> PathBuf {
        let root = std::env::temp_dir().join(format!("vdmuxctl-target-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for name in ["vdmux-1.0", "vdmux-1", "vdmux-1.1"] {
            fs::create_dir_all(root.join("0000:00:04.0/misc").join(name)).unwrap();
        }
        fs::create_dir_all(root.join("0000:00:05.0")).unwrap();
        root
    }

    #[test]
    fn devices_resolve_to_control_nodes() {
        let sys = fake_sysfs();
        assert_eq!(
            resolve("/dev/vdmux-2", &sys).unwrap(),
            Path::new("/dev/vdmux-2")
        );
        assert_eq!(
            resolve("0000:00:04.0", &sys).unwrap(),
            Path::new("/dev/vdmux-1")
        );
        assert_eq!(resolve("00:04.0", &sys).unwrap(), Path::new("/dev/vdmux-1"));
        assert_eq!(
            resolve("00:05.0", &sys).unwrap_err().to_string(),
            "--device 00:05.0: PCI device 0000:00:05.0 has no vdmux nodes (is it bound to vdmux?)"
        );
        assert_eq!(
            resolve("00:06.0", &sys).unwrap_err().to_string(),
            "--device 00:06.0: no PCI device 0000:00:06.0"
        );
        assert_eq!(
            resolve("vdmux-1", &sys).unwrap_err().to_string(),
            "--device vdmux-1: neither a path nor a PCI address (0000:00:04.0)"
        );
        fs::remove_dir_all(sys).unwrap();
    }
}
