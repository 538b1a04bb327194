// SPDX-License-Identifier: GPL-2.0

//! `device_memory=pci`: the PCI driver that finds the device memory.
//!
//! vdmux binds to QEMU's ivshmem-plain devices (1af4:1110), whose BAR 2 is
//! memory shared with the host (a file of a `memory-backend-file` with
//! `share=on`). The first device that binds gives its BAR 2, as a
//! [`BarMemory`], to a [`BarClient`], which creates the device and its nodes
//! from it; when that device is unbound (`remove`, through sysfs or because
//! the driver or the module goes), the client is dropped, which removes the
//! nodes and revokes every mapping, and the BAR is released. Other devices
//! are not bound while one is (their probe says so and fails with
//! `ENODEV`); one of them may be bound once the first is unbound.
//!
//! The driver is registered only when the module is loaded with
//! `device_memory=pci`. Its ID table is not exported as a module alias, so
//! that an ivshmem device never loads vdmux by itself (with
//! `device_memory=ram`, the default, it would be useless, and another
//! driver may be meant to have it).

use crate::{
    bar::BarMemory,
    kernel_ext::{
        compat::{
            id_info,
            ProbeIdInfo, //
        },
        wc_bar::{
            BarInfo,
            EnabledMem,
            WcBar, //
        },
    },
};
use core::{
    marker::PhantomData,
    sync::atomic::{
        AtomicBool,
        Ordering, //
    },
};
use kernel::{
    device::Core,
    device_id::IdArray,
    pci,
    prelude::*, //
};

/// The PCI device ID of QEMU's ivshmem (`ivshmem-plain` and
/// `ivshmem-doorbell`), under the Red Hat/Qumranet vendor ID 0x1af4.
pub(crate) const IVSHMEM_DEVICE_ID: u32 = 0x1110;

/// The BAR of ivshmem that is the shared memory (BAR 0 holds its
/// registers, BAR 1 the MSI-X table of `ivshmem-doorbell`).
pub(crate) const SHMEM_BAR: u32 = 2;

/// What the module does with the device memory of a bound device.
pub(crate) trait BarClient: Send + Sized + 'static {
    /// Takes the BAR of the device being bound, which becomes the device
    /// memory, and creates what lives while it is bound. An error fails the
    /// probe (the BAR is released).
    ///
    /// The value is dropped when the device is unbound, before the driver
    /// core releases the device: by then nothing may map or touch the BAR
    /// any more, and the [`BarMemory`] must have been dropped (see its
    /// documentation).
    fn bind(pdev: &pci::Device<Core<'_>>, bar: BarMemory) -> Result<Self>;
}

/// Whether a device is bound: only the first one is the device memory.
static CLAIMED: AtomicBool = AtomicBool::new(false);

/// ivshmem, by vendor and device ID (any subsystem). Not exported as a
/// module alias: see the module documentation.
static ID_TABLE: IdArray<pci::DeviceId, (), 1> = IdArray::new([(
    pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, IVSHMEM_DEVICE_ID),
    id_info(&()),
)]);

/// The PCI driver of ivshmem devices, handing the BAR of the first one
/// bound to a `C`.
pub(crate) struct IvshmemDriver<C>(PhantomData<C>);

/// The driver's data of a bound device. The fields are dropped in order:
/// the client first (nodes, mappings, the BAR), then the device is
/// disabled, then another device may bind.
pub(crate) struct Binding<'bound, C: BarClient> {
    _client: C,
    enabled: EnabledMem<'bound>,
    _claim: Claim,
}

/// The claim on being the device memory, given up on drop.
struct Claim;

impl Claim {
    fn take() -> Option<Self> {
        (!CLAIMED.swap(true, Ordering::AcqRel)).then_some(Self)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        CLAIMED.store(false, Ordering::Release);
    }
}

impl<C: BarClient> Drop for Binding<'_, C> {
    fn drop(&mut self) {
        // Before the fields go: the client first.
        dev_info!(self.enabled.device(), "unbinding: the device memory goes\n");
    }
}

impl<C: BarClient> pci::Driver for IvshmemDriver<C> {
    type IdInfo = ();
    type Data<'bound> = Binding<'bound, C>;
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &ID_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: ProbeIdInfo<'bound, Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        Self::bind(pdev)
    }
}

impl<C: BarClient> IvshmemDriver<C> {
    fn bind<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<Binding<'bound, C>> {
        let Some(claim) = Claim::take() else {
            dev_info!(
                pdev,
                "another ivshmem device is the device memory: not binding\n"
            );
            return Err(ENODEV);
        };
        let info = BarInfo::of(pdev, SHMEM_BAR)?;
        if !info.mem || info.len == 0 {
            dev_err!(pdev, "BAR {SHMEM_BAR} is not a memory BAR\n");
            return Err(ENODEV);
        }
        let enabled = EnabledMem::enable(pdev)?;
        let mut bar = BarMemory::new(
            WcBar::new(pdev, SHMEM_BAR, c"vdmux")
                .inspect_err(|e| dev_err!(pdev, "cannot map BAR {SHMEM_BAR}: {e:?}\n"))?,
        );
        bar.check_and_clear()
            .inspect_err(|_| dev_err!(pdev, "BAR {SHMEM_BAR} does not keep what is written\n"))?;
        dev_info!(
            pdev,
            "BAR {}: {} bytes at {:#x}, {}{}, mapped write-combining, {} aligned 2 MiB blocks\n",
            SHMEM_BAR,
            bar.len(),
            bar.phys_addr(),
            if info.mem64 { "64-bit" } else { "32-bit" },
            if bar.prefetchable() {
                ", prefetchable"
            } else {
                ""
            },
            bar.huge_blocks(bar.len())
        );
        let client = C::bind(pdev, bar)?;
        Ok(Binding {
            _client: client,
            enabled,
            _claim: claim,
        })
    }
}
