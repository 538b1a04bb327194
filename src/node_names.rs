// SPDX-License-Identifier: GPL-2.0

//! The names of the nodes, by instance: what programs open.

use crate::pci::Instance;
use kernel::{
    prelude::*,
    str::CString, //
};

/// The name of the control node of instance `instance` (`vdev` `None`),
/// or of its virtual device `vdev`.
///
/// Instance 0 (RAM device memory, or the first PCI device bound) has
/// `vdmux` and `vdmux0` ...: what programs have always opened. Instance
/// i ≥ 1 has `vdmux-i` and `vdmux-i.0` ...: the names of instance 0 are
/// `vdmux` and digits alone, so that no other instance's can be one of
/// them, and the dash and the dot delimit the numbers, so that no two
/// other instances' names meet either.
pub(crate) fn node_name(instance: Instance, vdev: Option<usize>) -> Result<CString> {
    match (instance.0, vdev) {
        (0, None) => CString::try_from_fmt(fmt!("vdmux")),
        (0, Some(vdev)) => CString::try_from_fmt(fmt!("vdmux{vdev}")),
        (i, None) => CString::try_from_fmt(fmt!("vdmux-{i}")),
        (i, Some(vdev)) => CString::try_from_fmt(fmt!("vdmux-{i}.{vdev}")),
    }
}

#[kernel::macros::kunit_tests(vdmux_node_names)]
mod tests {
    use super::*;

    fn name(instance: u32, vdev: Option<usize>) -> CString {
        node_name(Instance(instance), vdev).unwrap()
    }

    #[test]
    fn instance_0_has_the_names_of_one_device() {
        assert_eq!(name(0, None).to_bytes(), b"vdmux");
        assert_eq!(name(0, Some(0)).to_bytes(), b"vdmux0");
        assert_eq!(name(0, Some(63)).to_bytes(), b"vdmux63");
    }

    #[test]
    fn other_instances_meet_no_other_name() {
        assert_eq!(name(1, None).to_bytes(), b"vdmux-1");
        assert_eq!(name(1, Some(2)).to_bytes(), b"vdmux-1.2");
        assert_eq!(name(63, Some(0)).to_bytes(), b"vdmux-63.0");
        // Without the dot, instance 1's vdev 12 and instance 11's vdev 2
        // would both be vdmux-112.
        assert_ne!(name(1, Some(12)).to_bytes(), name(11, Some(2)).to_bytes());
        assert_ne!(name(1, None).to_bytes(), name(0, Some(1)).to_bytes());
    }
}
