//! Device-wide configuration, control and status: GENCFG, GENCTRL, GENSTS and INTCAUSE.

use crate::bits::{bit, flag, get};

/// GENCFG: general configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GenCfg {
    /// Bits 7:0: global read-buffer limit.
    pub read_buffer_limit: u8,
    /// Bit 12: user interrupts enabled.
    pub user_int_en: bool,
    /// Bit 13: event log enabled.
    pub event_log_en: bool,
}

impl GenCfg {
    /// Bits the register defines.
    pub const DEFINED: u32 = 0x30ff;
    /// Decodes the register.
    pub const fn decode(v: u32) -> Self {
        let v = v as u64;
        GenCfg {
            read_buffer_limit: get(v, 7, 0) as u8,
            user_int_en: bit(v, 12),
            event_log_en: bit(v, 13),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        (self.read_buffer_limit as u64 | flag(self.user_int_en, 12) | flag(self.event_log_en, 13)) as u32
    }
}

/// GENCTRL: general control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GenCtrl {
    /// Bit 0: software-error interrupt enable.
    pub softerr_int_en: bool,
    /// Bit 1: halt interrupt enable.
    pub halt_int_en: bool,
}

impl GenCtrl {
    /// Bits this type models (bit 2, the event-log interrupt enable, is [`GenCtrl::EVL_INT_EN`]
    /// and is not modelled: no profile's emulator has an event log).
    pub const DEFINED: u32 = 0x3;
    /// Bit 2: event-log interrupt enable (registers.h `evl_int_en`; devices with an event log).
    pub const EVL_INT_EN: u32 = 1 << 2;
    /// Decodes the register.
    pub const fn decode(v: u32) -> Self {
        GenCtrl {
            softerr_int_en: v & 1 != 0,
            halt_int_en: v & 2 != 0,
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        self.softerr_int_en as u32 | (self.halt_int_en as u32) << 1
    }
}

/// Device state in GENSTS\[1:0\].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DeviceState {
    /// 0.
    #[default]
    Disabled,
    /// 1.
    Enabled,
    /// 2.
    Draining,
    /// 3.
    Halted,
}

/// What a halted device needs (GENSTS\[3:2\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ResetType {
    /// 0: a software reset (reset device command) suffices.
    #[default]
    Software,
    /// 1: function-level reset.
    Flr,
    /// 2: warm reset of the platform.
    Warm,
    /// 3: cold reset of the platform.
    Cold,
}

/// GENSTS: device state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GenSts {
    /// State.
    pub state: DeviceState,
    /// Reset needed (meaningful when halted).
    pub reset_type: ResetType,
}

impl GenSts {
    /// Bits the register defines.
    pub const DEFINED: u32 = 0xf;
    /// Decodes the register.
    pub const fn decode(v: u32) -> Self {
        let state = match v & 3 {
            0 => DeviceState::Disabled,
            1 => DeviceState::Enabled,
            2 => DeviceState::Draining,
            _ => DeviceState::Halted,
        };
        let reset_type = match (v >> 2) & 3 {
            0 => ResetType::Software,
            1 => ResetType::Flr,
            2 => ResetType::Warm,
            _ => ResetType::Cold,
        };
        GenSts { state, reset_type }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        (self.state as u32) | (self.reset_type as u32) << 2
    }
}

bitflags::bitflags! {
    /// INTCAUSE: interrupt causes (write 1 to clear).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct IntCause: u32 {
        /// Software error.
        const SOFTWARE_ERROR = 1 << 0;
        /// Command completed.
        const COMMAND_DONE = 1 << 1;
        /// WQ occupancy below limit.
        const OCCUPANCY = 1 << 2;
        /// Perfmon overflow.
        const PERFMON_OVERFLOW = 1 << 3;
        /// Device halted.
        const HALT = 1 << 4;
        /// Event log.
        const EVENT_LOG = 1 << 5;
        /// Interrupt handles revoked.
        const HANDLES_REVOKED = 1 << 31;
    }
}

/// EVLCFG (0xe0, 2 x 64): where the event log lives (registers.h `union evlcfg_reg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EvlCfg {
    /// Qword 0 bit 0: PASID enable.
    pub pasid_en: bool,
    /// Qword 0 bit 1: privileged.
    pub privileged: bool,
    /// Qword 0 bits 63:12: base address (4 KiB aligned).
    pub base_addr: u64,
    /// Qword 1 bits 15:0: number of entries (the kernel uses 0x40..=0xffff).
    pub size: u16,
    /// Qword 1 bits 35:16: PASID.
    pub pasid: u32,
}

impl EvlCfg {
    /// Bits of each qword the register defines.
    pub const DEFINED: [u64; 2] = [0xffff_ffff_ffff_f003, 0xf_ffff_ffff];
    /// Decodes the two qwords.
    pub const fn decode(q: [u64; 2]) -> Self {
        EvlCfg {
            pasid_en: bit(q[0], 0),
            privileged: bit(q[0], 1),
            base_addr: q[0] & !0xfff,
            size: get(q[1], 15, 0) as u16,
            pasid: get(q[1], 35, 16) as u32,
        }
    }
    /// Encodes the two qwords.
    pub const fn encode(self) -> [u64; 2] {
        [
            flag(self.pasid_en, 0) | flag(self.privileged, 1) | (self.base_addr & !0xfff),
            self.size as u64 | (self.pasid as u64 & 0xf_ffff) << 16,
        ]
    }
}

/// EVLSTATUS (0xf0, 64): the event log's head (software), tail (device) and interrupt pending
/// (registers.h `union evl_status_reg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EvlStatus {
    /// Bits 15:0: head index (written by software).
    pub head: u16,
    /// Bits 47:32: tail index (written by the device).
    pub tail: u16,
    /// Bit 62: interrupt pending (write 1 to clear).
    pub int_pending: bool,
}

impl EvlStatus {
    /// Bits the register defines.
    pub const DEFINED: u64 = 0x4000_ffff_0000_ffff;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        EvlStatus {
            head: get(v, 15, 0) as u16,
            tail: get(v, 47, 32) as u16,
            int_pending: bit(v, 62),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        self.head as u64 | (self.tail as u64) << 32 | flag(self.int_pending, 62)
    }
}

#[cfg(test)]
mod evl_tests {
    use super::*;

    #[test]
    fn event_log_registers_follow_registers_h() {
        let c = EvlCfg {
            pasid_en: true,
            privileged: true,
            base_addr: 0x1234_5000,
            size: 0x40,
            pasid: 0xabcde,
        };
        assert_eq!(c.encode(), [0x1234_5003, 0x000a_bcde_0040]);
        assert_eq!(EvlCfg::decode(c.encode()), c);
        let s = EvlStatus::decode(0x4000_0007_0000_0003);
        assert_eq!((s.head, s.tail, s.int_pending), (3, 7, true));
        assert_eq!(s.encode(), 0x4000_0007_0000_0003);
        assert_eq!(GenCtrl::EVL_INT_EN, 4);
    }
}
