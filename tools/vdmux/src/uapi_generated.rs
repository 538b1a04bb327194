// SPDX-License-Identifier: GPL-2.0
// Generated from vdmux.h by scripts/gen-uapi-rs.sh: do not edit.

pub const VDMUX_IOC_MAGIC: u32 = 185;
pub const VDMUX_CONTROL: u32 = 4294967295;
pub const VDMUX_NONE: u32 = 4294967295;
pub const VDMUX_STATE_FOREGROUND: u32 = 0;
pub const VDMUX_STATE_BACKGROUND: u32 = 1;
pub const VDMUX_STATE_REMOVED: u32 = 2;
pub const VDMUX_STATE_CONTROL: u32 = 3;
pub const VDMUX_IOC_GET_RESERVED_SIZE: u32 = 2148055296;
pub const VDMUX_IOC_SET_RESERVED_SIZE: u32 = 1074313473;
pub const VDMUX_IOC_SWITCH: u32 = 47362;
pub const VDMUX_IOC_EJECT: u32 = 47363;
pub const VDMUX_IOC_INSERT: u32 = 47364;
pub const VDMUX_IOC_GET_STATUS: u32 = 2149628165;
pub const VDMUX_IOC_WAIT_FOREGROUND: u32 = 47366;
pub const VDMUX_IOC_SET_AUTOGROW: u32 = 47367;
pub const VDMUX_IOC_POPULATE: u32 = 1074837768;
pub const VDMUX_CTXMGT_MAX_TIMEOUT_MS: u32 = 10000;
pub const VDMUX_IOC_SET_CTXMGT: u32 = 1074313481;
pub const VDMUX_IOC_GET_CTXMGT: u32 = 2148055306;
pub type __u32 = ffi::c_uint;
pub type __u64 = ffi::c_ulonglong;
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct vdmux_status {
    pub index: __u32,
    pub state: __u32,
    pub foreground: __u32,
    pub nr_vdevs: __u32,
    pub reserved_size: __u64,
    pub generation: __u64,
}
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct vdmux_range {
    pub addr: __u64,
    pub len: __u64,
}
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct vdmux_ctxmgt {
    pub enable: __u32,
    pub timeout_ms: __u32,
}
