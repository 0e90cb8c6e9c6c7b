//! Commands: CMD, the WQ bitmask operand, CMDSTS and its error codes, CMDCAP.

use crate::codes::code_enum;
use crate::HwError;

code_enum! {
    /// Device commands (CMD\[24:20\]).
    pub enum Command: u8 {
        EnableDevice = 1 => "enable device",
        DisableDevice = 2 => "disable device",
        DrainAll = 3 => "drain all",
        AbortAll = 4 => "abort all",
        ResetDevice = 5 => "reset device",
        EnableWq = 6 => "enable WQ",
        DisableWq = 7 => "disable WQ",
        DrainWq = 8 => "drain WQ",
        AbortWq = 9 => "abort WQ",
        ResetWq = 10 => "reset WQ",
        DrainPasid = 11 => "drain PASID",
        AbortPasid = 12 => "abort PASID",
        RequestIntHandle = 13 => "request interrupt handle",
        ReleaseIntHandle = 14 => "release interrupt handle",
    }
}

impl Command {
    /// Whether the operand is a WQ bitmask (`1 << (id % 16) | (id / 16) << 16`).
    pub const fn takes_wq_mask(self) -> bool {
        matches!(
            self,
            Command::DisableWq | Command::DrainWq | Command::AbortWq | Command::ResetWq
        )
    }
}

/// CMD: a command and its operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cmd {
    /// The command.
    pub command: Command,
    /// 20-bit operand.
    pub operand: u32,
    /// Bit 31: request a completion interrupt.
    pub request_int: bool,
}

impl Cmd {
    /// The operand mask.
    pub const OPERAND_MASK: u32 = 0xf_ffff;

    /// A command with operand 0.
    pub const fn new(command: Command) -> Self {
        Cmd {
            command,
            operand: 0,
            request_int: false,
        }
    }

    /// A WQ command with the operand in the form that command takes (index for enable WQ,
    /// bitmask form for disable/drain/abort/reset WQ).
    pub const fn wq(command: Command, wq: u16) -> Self {
        let operand = if command.takes_wq_mask() {
            wq_mask_operand(wq)
        } else {
            wq as u32
        };
        Cmd {
            command,
            operand,
            request_int: false,
        }
    }

    /// Decodes the register.
    pub fn decode(v: u32) -> Result<Self, HwError> {
        let command = Command::try_from(((v >> 20) & 0x1f) as u8)?;
        Ok(Cmd {
            command,
            operand: v & Self::OPERAND_MASK,
            request_int: v & (1 << 31) != 0,
        })
    }

    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        (self.operand & Self::OPERAND_MASK) | (self.command as u32) << 20 | (self.request_int as u32) << 31
    }
}

/// The bitmask operand of the WQ disable/drain/abort/reset commands: bit `id % 16` of the low
/// half selects the WQ within the block of 16 given in bits 19:16.
pub const fn wq_mask_operand(wq: u16) -> u32 {
    1u32 << (wq % 16) | ((wq / 16) as u32) << 16
}

/// The WQ indices a bitmask operand selects.
pub fn wqs_of_mask_operand(operand: u32) -> impl Iterator<Item = u16> {
    let block = ((operand >> 16) & 0xf) as u16;
    (0..16u16)
        .filter(move |i| operand >> i & 1 != 0)
        .map(move |i| block * 16 + i)
}

code_enum! {
    /// CMDSTS error codes (bits 7:0).
    pub enum CmdError: u8 {
        Success = 0x00 => "success",
        InvalidCommand = 0x01 => "invalid command",
        InvalidWqIndex = 0x02 => "invalid WQ index",
        HardwareError = 0x03 => "hardware error",
        DevAlreadyEnabled = 0x10 => "device already enabled",
        DevConfigError = 0x11 => "device configuration error",
        BusMasterDisabled = 0x12 => "bus master enable not set",
        InvalidPasid = 0x13 => "invalid PASID",
        WqSizeSumTooLarge = 0x14 => "sum of WQ sizes exceeds the total",
        /// registers.h `IDXD_CMDSTS_ERR_GRP_CONFIG`; no public source says which rule 0x15..0x18
        /// each stand for (the emulator's assignment is in docs/hardware.md).
        GroupConfig1 = 0x15 => "group configuration error 1",
        /// registers.h `IDXD_CMDSTS_ERR_GRP_CONFIG2`.
        GroupConfig2 = 0x16 => "group configuration error 2",
        /// registers.h `IDXD_CMDSTS_ERR_GRP_CONFIG3`.
        GroupConfig3 = 0x17 => "group configuration error 3",
        /// registers.h `IDXD_CMDSTS_ERR_GRP_CONFIG4`.
        GroupConfig4 = 0x18 => "group configuration error 4",
        DevNotEnabled = 0x20 => "device not enabled",
        WqAlreadyEnabled = 0x21 => "WQ already enabled",
        WqSize = 0x22 => "invalid WQ size",
        WqPriority = 0x23 => "invalid WQ priority",
        WqMode = 0x24 => "invalid WQ mode",
        WqBlockOnFault = 0x25 => "block-on-fault not supported",
        WqPasidEnable = 0x26 => "invalid PASID enable",
        WqMaxBatch = 0x27 => "invalid max batch size",
        WqMaxTransfer = 0x28 => "invalid max transfer size",
        DisDevNotEnabled = 0x31 => "device not enabled (disable)",
        /// registers.h `IDXD_CMDSTS_ERR_DEV_NOT_EN`, listed under "disable WQ, drain WQ, abort
        /// WQ, reset WQ": the kernel names it "device not enabled"; the emulator also reports
        /// it for a WQ that is not enabled.
        WqNotEnabled = 0x32 => "disable/drain/abort/reset WQ: device (or WQ) not enabled",
        InvalidIntIndex = 0x41 => "invalid interrupt index",
        NoIntHandle = 0x42 => "no interrupt handle available",
    }
}

impl CmdError {
    /// Whether the driver may treat this outcome as success ("already enabled").
    pub const fn is_benign(self) -> bool {
        matches!(
            self,
            CmdError::Success | CmdError::DevAlreadyEnabled | CmdError::WqAlreadyEnabled
        )
    }
}

/// CMDSTS: command status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CmdSts {
    /// Bits 7:0: error byte (see [`CmdError`]).
    pub error: u8,
    /// Bits 23:8: result (e.g. an interrupt handle).
    pub result: u16,
    /// Bit 31: a command is in progress.
    pub active: bool,
}

impl CmdSts {
    /// Bits the register defines.
    pub const DEFINED: u32 = 0x80ff_ffff;
    /// Decodes the register.
    pub const fn decode(v: u32) -> Self {
        CmdSts {
            error: v as u8,
            result: (v >> 8) as u16,
            active: v >> 31 != 0,
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        self.error as u32 | (self.result as u32) << 8 | (self.active as u32) << 31
    }
    /// The error byte as a [`CmdError`], if the hardware defines it.
    pub const fn error(self) -> Option<CmdError> {
        CmdError::from_code(self.error)
    }
}

/// CMDCAP: bit N set when command N is supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CmdCap(pub u32);

impl CmdCap {
    /// Whether `cmd` is supported.
    pub const fn supports(self, cmd: Command) -> bool {
        self.0 >> (cmd as u32) & 1 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wq_mask_operand_beyond_16() {
        assert_eq!(wq_mask_operand(3), 0b1000);
        assert_eq!(wq_mask_operand(17), 0x1_0002);
        assert_eq!(wqs_of_mask_operand(0x1_0002).collect::<Vec<_>>(), vec![17]);
        let c = Cmd::wq(Command::DisableWq, 17);
        assert_eq!(c.encode(), 7 << 20 | 0x1_0002);
        assert_eq!(Cmd::wq(Command::EnableWq, 17).operand, 17);
        assert_eq!(Cmd::decode(c.encode()).unwrap(), c);
        assert!(Cmd::decode(0).is_err());
    }
}
