// SPDX-License-Identifier: GPL-2.0

//! Loading and unloading: parameters, the device, and its nodes.

use crate::{
    config::Config, control::Control, misc::Node, module_parameters, mux::Mux, vdev::Vdev,
};
use kernel::{
    prelude::*,
    str::CString,
    sync::Arc, //
};

/// Permissions of `/dev/vdmux` (state changes need CAP_SYS_ADMIN anyway).
const CONTROL_MODE: u16 = 0o600;
/// Permissions of `/dev/vdmuxN`.
const VDEV_MODE: u16 = 0o660;

/// The loaded module. Unloading deregisters the nodes; the kernel refuses
/// it while any file or mapping of them exists.
pub(crate) struct VdmuxModule {
    mux: Arc<Mux>,
    _control: Pin<KBox<Node<Control>>>,
    _vdevs: KVec<Pin<KBox<Node<Vdev>>>>,
}

impl Drop for VdmuxModule {
    fn drop(&mut self) {
        // Before the nodes go (the fields are dropped after this).
        self.mux.notifier().forget_nodes();
    }
}

impl kernel::Module for VdmuxModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let config = Config::new(
            module_parameters::nr_vdevs.value(),
            module_parameters::reserved_size.value(),
            module_parameters::max_reserved_size.value(),
            module_parameters::fault_around_pages.value(),
        )
        .inspect_err(|msg| pr_err!("{msg}\n"))
        .map_err(|_| EINVAL)?;
        let mux = Mux::new(config)?;
        let mut vdevs = KVec::with_capacity(mux.nr_vdevs(), GFP_KERNEL)?;
        for index in 0..mux.nr_vdevs() {
            let name = CString::try_from_fmt(fmt!("vdmux{index}"))?;
            let vdev = Vdev::new(mux.clone(), index)?;
            vdevs.push(
                KBox::pin_init(Node::register(name, VDEV_MODE, vdev), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let name = CString::try_from_fmt(fmt!("vdmux"))?;
        let control = KBox::pin_init(
            Node::register(name, CONTROL_MODE, Control::new(mux.clone())?),
            GFP_KERNEL,
        )?;
        for (index, node) in vdevs.iter().enumerate() {
            // SAFETY: The node stays registered until `drop`, which calls
            // `forget_nodes` first.
            unsafe { mux.notifier().set_node(Some(index), node.as_raw()) };
        }
        // SAFETY: As above.
        unsafe { mux.notifier().set_node(None, control.as_raw()) };
        pr_info!(
            "{} virtual devices, reserved size {} bytes (max {})\n",
            config.nr_vdevs,
            config.reserved_size,
            config.max_reserved_size
        );
        Ok(Self {
            mux,
            _control: control,
            _vdevs: vdevs,
        })
    }
}
