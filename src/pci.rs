// SPDX-License-Identifier: GPL-2.0

//! `device_memory=pci`: the PCI driver that finds the device memory.
//!
//! vdmux binds to QEMU's ivshmem-plain devices (1af4:1110), whose BAR 2 is
//! memory shared with the host (a file of a `memory-backend-file` with
//! `share=on`), and to any other PCI device that user space hands it the
//! way vfio-pci and uio_pci_generic are given devices: its
//! `driver_override` set to `vdmux`, then `drivers_probe`. (The driver's
//! `new_id` takes a device ID only with the `driver_data` of an entry of the
//! ID table, which the 7.3 kernel crate makes a pointer: "VENDOR DEVICE"
//! alone is refused with `EINVAL` there.) The device memory is one memory BAR of the device (see
//! `bar_choice`): the largest prefetchable one unless `bar=` chooses.
//!
//! Every device that binds gives that BAR, as a [`BarMemory`], to a
//! [`BarClient`] of its own, which creates a multiplexer and its nodes on
//! it, numbered with the lowest instance number no bound device has (see
//! [`Instance`]); when that device is unbound (`remove`, through sysfs or
//! because the driver or the module goes), its client is dropped, which
//! removes its nodes and revokes every mapping of them, the BAR is
//! released, and the number is free again. Other bound devices are not
//! touched.
//!
//! The driver is registered only when the module is loaded with
//! `device_memory=pci`. Its ID table is not exported as a module alias, so
//! that an ivshmem device never loads vdmux by itself (with
//! `device_memory=ram`, the default, it would be useless, and another
//! driver may be meant to have it).

use crate::{
    bar::BarMemory,
    bar_choice,
    config::NR_BARS,
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
        AtomicU64,
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
    fn bind(pdev: &pci::Device<Core<'_>>, bar: BarMemory, instance: Instance) -> Result<Self>;

    /// The BAR that must be the device memory (`bar=`), if one is chosen.
    fn wanted_bar() -> Option<u32>;
}

/// The most devices bound at once: one bit each in [`INSTANCES`].
pub(crate) const MAX_INSTANCES: u32 = u64::BITS;

/// The instance numbers of the bound devices, one bit each. An atomic
/// word rather than a lock: a number is taken and given back in one
/// atomic operation each, and nothing else reads it.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// The number of a bound device's multiplexer, which names its nodes:
/// unique among the devices bound at the same time, the lowest one free
/// when the device binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instance(pub(crate) u32);

/// ivshmem, by vendor and device ID (any subsystem). Not exported as a
/// module alias: see the module documentation.
static ID_TABLE: IdArray<pci::DeviceId, (), 1> = IdArray::new([(
    pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, IVSHMEM_DEVICE_ID),
    id_info(&()),
)]);

/// The PCI driver of ivshmem devices and of the devices user space hands
/// it, handing the memory BAR of each one bound to a `C` of its own.
pub(crate) struct BarDriver<C>(PhantomData<C>);

/// The driver's data of a bound device. The fields are dropped in order:
/// the client first (nodes, mappings, the BAR), then the device is
/// disabled, then its instance number is free (its nodes' names are, by
/// then).
pub(crate) struct Binding<'bound, C: BarClient> {
    _client: C,
    enabled: EnabledMem<'bound>,
    _claim: Claim,
}

/// A bound device's instance number, given back on drop.
struct Claim(Instance);

impl Claim {
    /// The lowest instance number free, or `None` with [`MAX_INSTANCES`]
    /// devices bound.
    fn take() -> Option<Self> {
        INSTANCES
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken != u64::MAX).then(|| taken | (1 << (!taken).trailing_zeros()))
            })
            .ok()
            .map(|taken| Self(Instance((!taken).trailing_zeros())))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        INSTANCES.fetch_and(!(1 << self.0 .0), Ordering::AcqRel);
    }
}

impl<C: BarClient> Drop for Binding<'_, C> {
    fn drop(&mut self) {
        // Before the fields go: the client first.
        dev_info!(self.enabled.device(), "unbinding: the device memory goes\n");
    }
}

impl<C: BarClient> pci::Driver for BarDriver<C> {
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

impl<C: BarClient> BarDriver<C> {
    fn bind<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<Binding<'bound, C>> {
        // What is wrong with the device itself is said first.
        let mut bars = KVec::with_capacity(NR_BARS as usize, GFP_KERNEL)?;
        for n in 0..NR_BARS {
            bars.push(BarInfo::of(pdev, n)?, GFP_KERNEL)?;
        }
        let index = bar_choice::choose(&bars, C::wanted_bar()).map_err(|refusal| {
            refusal.log(pdev.as_ref());
            refusal.errno()
        })?;
        let Some(claim) = Claim::take() else {
            dev_err!(
                pdev,
                "{MAX_INSTANCES} devices are bound already: not binding\n"
            );
            return Err(ENOSPC);
        };
        let info = bars[index as usize];
        let enabled = EnabledMem::enable(pdev)?;
        let mut bar = BarMemory::new(
            WcBar::new(pdev, index, c"vdmux")
                .inspect_err(|e| dev_err!(pdev, "cannot map BAR {index}: {e:?}\n"))?,
        );
        bar.check_and_clear()
            .inspect_err(|_| dev_err!(pdev, "BAR {index} does not keep what is written\n"))?;
        dev_info!(
            pdev,
            "instance {}, BAR {}: {} bytes at {:#x}, {}{}, mapped write-combining, {} aligned PMD blocks\n",
            claim.0 .0,
            index,
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
        let client = C::bind(pdev, bar, claim.0)?;
        Ok(Binding {
            _client: client,
            enabled,
            _claim: claim,
        })
    }
}
