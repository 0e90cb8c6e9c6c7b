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
    /// Bits the register defines.
    pub const DEFINED: u32 = 0x3;
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
