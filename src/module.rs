// SPDX-License-Identifier: GPL-2.0

//! Loading and unloading: parameters, the device, and its nodes.
//!
//! With `device_memory=ram` (the default) the device and its nodes are
//! created when the module loads and go when it unloads. With
//! `device_memory=pci` loading registers the PCI driver (`pci.rs`) and
//! nothing else: the device and its nodes are created when a PCI device
//! binds ([`PciBinding`]) and go when it is unbound, which revokes
//! every mapping as an EJECT of every virtual device does. Files still open
//! then keep their (old) device alive, and every access through them fails
//! as on a removed virtual device; a device bound again is a new one.
//! Every PCI device bound has a device of its own, with nodes named after
//! its instance number (see [`node_name`]).

use crate::{
    bar::BarMemory,
    config::{
        Config,
        MemoryKind,
        Params,
        DEFAULT_RESERVED_SIZE, //
    },
    control::Control,
    device_memory::{
        DetachableBar,
        DeviceMemory, //
    },
    kernel_ext::{
        compat::param_value,
        misc_node::Node, //
    },
    module_parameters,
    mux::Mux,
    node_names::node_name,
    pci::{
        BarClient,
        BarDriver,
        Instance, //
    },
    pci_helpers,
    store::Store,
    vdev::Vdev,
};
use kernel::{
    device::{
        Core,
        Device, //
    },
    driver,
    pci,
    prelude::*,
    sync::Arc, //
};

/// Permissions of the control nodes (state changes need CAP_SYS_ADMIN
/// anyway).
const CONTROL_MODE: u16 = 0o600;
/// Permissions of the vdev nodes.
const VDEV_MODE: u16 = 0o660;

/// The loaded module. Unloading deregisters the nodes, or the PCI driver
/// (which unbinds its device); the kernel refuses it while any file or
/// mapping of the nodes exists.
pub(crate) struct VdmuxModule {
    _memory: Memory,
}

/// What the module holds, depending on where the device memory is.
enum Memory {
    /// The device and its nodes, on RAM device memory.
    Ram { _nodes: Nodes },
    /// The PCI driver, whose bound devices hold a device and its nodes each.
    Pci {
        _driver: Pin<KBox<driver::Registration<pci::Adapter<BarDriver<PciBinding>>>>>,
    },
}

/// The module parameters as given.
fn params() -> Result<Params> {
    // SAFETY: The parameter is C's `charp`: a NUL-terminated string that
    // does not change after the module is loaded (it is read-only in sysfs).
    let device_memory = unsafe { CStr::from_char_ptr(pci_helpers::vdmux_device_memory_param()) };
    Params::new(
        param_value(&module_parameters::nr_vdevs),
        param_value(&module_parameters::reserved_size),
        param_value(&module_parameters::max_reserved_size),
        param_value(&module_parameters::fault_around_pages),
        device_memory.to_bytes(),
        param_value(&module_parameters::bar),
    )
    .inspect_err(|msg| pr_err!("{msg}\n"))
    .map_err(|_| EINVAL)
}

/// The device and its nodes: `/dev/vdmux` and `/dev/vdmux0` ... for
/// instance 0 (see [`node_name`]).
struct Nodes {
    mux: Arc<Mux>,
    _control: Pin<KBox<Node<Control>>>,
    _vdevs: KVec<Pin<KBox<Node<Vdev>>>>,
}

impl Nodes {
    /// Creates the device for `config` and registers the nodes of
    /// `instance`, children of `parent` in sysfs if given.
    fn register(
        config: Config,
        device_memory: DeviceMemory,
        instance: Instance,
        parent: Option<&Device>,
    ) -> Result<Self> {
        let mux = Mux::new(config, device_memory)?;
        // No node can be opened before all are registered (see
        // `Mux::check_reachable`); a failure on the way still detaches,
        // so that the device memory is released with nothing mapping it.
        Self::register_all(&mux, config, instance, parent).inspect_err(|_| drop(mux.detach()))
    }

    fn register_all(
        mux: &Arc<Mux>,
        config: Config,
        instance: Instance,
        parent: Option<&Device>,
    ) -> Result<Self> {
        // Allocated before the nodes are wired to the notifier, after which
        // nothing may fail (see below).
        let control_name = node_name(instance, None)?;
        let mut vdevs = KVec::with_capacity(mux.nr_vdevs(), GFP_KERNEL)?;
        for index in 0..mux.nr_vdevs() {
            let name = node_name(instance, Some(index))?;
            let vdev = Vdev::new(mux.clone(), index)?;
            vdevs.push(
                KBox::pin_init(Node::register(name, VDEV_MODE, parent, vdev), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let name = node_name(instance, None)?;
        let control = KBox::pin_init(
            Node::register(name, CONTROL_MODE, parent, Control::new(mux.clone())?),
            GFP_KERNEL,
        )?;
        for (index, node) in vdevs.iter().enumerate() {
            // SAFETY: Nothing below fails: the node goes into the `Nodes`
            // returned, whose `drop` calls `Mux::forget_nodes` (which
            // excludes every send) before the node is deregistered. The
            // nodes are the module's and the notifier the device's: only
            // this owner of both can promise it.
            unsafe { mux.notifier().set_vdev_node(index, node) };
        }
        // SAFETY: As above.
        unsafe { mux.notifier().set_control_node(&control) };
        mux.make_reachable();
        pr_info!(
            "{}: {} virtual devices, reserved size {} bytes (max {})\n",
            &*control_name,
            config.nr_vdevs,
            config.reserved_size,
            config.max_reserved_size
        );
        Ok(Self {
            mux: mux.clone(),
            _control: control,
            _vdevs: vdevs,
        })
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        // Before the nodes go (the fields are dropped after this).
        self.mux.forget_nodes();
    }
}

/// What a bound PCI device holds: the device created on its BAR (which
/// the device holds as its device memory until the unbinding takes it
/// back), with the nodes of the device's instance.
pub(crate) struct PciBinding {
    /// `None` once dropping has begun.
    nodes: Option<Nodes>,
    mux: Arc<Mux>,
}

impl BarClient for PciBinding {
    fn bind(pdev: &pci::Device<Core<'_>>, bar: BarMemory, instance: Instance) -> Result<Self> {
        let config = params()?
            .bar_config(bar.len() as u64)
            .inspect_err(|msg| dev_err!(pdev, "{msg}\n"))
            .map_err(|_| EINVAL)?;
        let nodes = Nodes::register(
            config,
            DeviceMemory::Bar(DetachableBar::new(bar)?),
            instance,
            Some(pdev.as_ref()),
        )?;
        let mux = nodes.mux.clone();
        Ok(Self {
            nodes: Some(nodes),
            mux,
        })
    }

    fn wanted_bar() -> Option<u32> {
        // Checked at load: it cannot fail now.
        params().ok().and_then(|params| params.bar)
    }
}

impl Drop for PciBinding {
    fn drop(&mut self) {
        // The nodes go first, so that nothing new is opened; then every
        // mapping is revoked and every virtual device removed for good:
        // their next access raises SIGBUS, and read, write and mmap through
        // a file still open fail with ENODEV. Nothing maps the BAR after
        // this, and it is released before the device is unbound.
        drop(self.nodes.take());
        drop(self.mux.detach());
    }
}

impl kernel::Module for VdmuxModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let params = params()?;
        params
            .check()
            .inspect_err(|msg| pr_err!("{msg}\n"))
            .map_err(|_| EINVAL)?;
        let memory = match params.device_memory {
            MemoryKind::Ram => Memory::Ram {
                _nodes: {
                    let config = params.ram_config().map_err(|_| EINVAL)?;
                    if params.reserved_size.is_none()
                        && config.reserved_size as u64 != DEFAULT_RESERVED_SIZE
                    {
                        pr_info!(
                            "reserved_size: {} bytes by default, rounded up to one page: {}\n",
                            DEFAULT_RESERVED_SIZE,
                            config.reserved_size
                        );
                    }
                    let memory = DeviceMemory::Ram(Store::new(config.max_reserved_size)?);
                    Nodes::register(config, memory, Instance(0), None)?
                },
            },
            MemoryKind::Pci => {
                let driver =
                    KBox::pin_init(driver::Registration::new(c"vdmux", module), GFP_KERNEL)?;
                match params.bar {
                    None => pr_info!(
                        "device memory: the largest prefetchable memory BAR of each PCI device bound\n"
                    ),
                    Some(n) => {
                        pr_info!("device memory: BAR {n} of each PCI device bound\n")
                    }
                }
                Memory::Pci { _driver: driver }
            }
        };
        Ok(Self { _memory: memory })
    }
}
