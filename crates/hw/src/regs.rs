//! The BAR0 register map: offsets and typed values for every register the driver and emulator
//! use. Each type decodes from and encodes to its raw value; bits the hardware reserves are
//! dropped on decode and written as zero on encode (`DEFINED` masks say which bits are kept).

use crate::bits::{bit, flag, get, put};
use crate::codes::code_enum;
use crate::HwError;

/// Register offsets in BAR0.
pub mod off {
    /// VERSION (32).
    pub const VERSION: u64 = 0x00;
    /// GENCAP (64).
    pub const GENCAP: u64 = 0x10;
    /// WQCAP (64).
    pub const WQCAP: u64 = 0x20;
    /// GRPCAP (64).
    pub const GRPCAP: u64 = 0x30;
    /// ENGCAP (64).
    pub const ENGCAP: u64 = 0x38;
    /// OPCAP (4 x 64).
    pub const OPCAP: u64 = 0x40;
    /// OFFSETS (2 x 64).
    pub const OFFSETS: u64 = 0x60;
    /// GENCFG (32).
    pub const GENCFG: u64 = 0x80;
    /// GENCTRL (32).
    pub const GENCTRL: u64 = 0x88;
    /// GENSTS (32).
    pub const GENSTS: u64 = 0x90;
    /// INTCAUSE (32, write 1 to clear).
    pub const INTCAUSE: u64 = 0x98;
    /// CMD (32).
    pub const CMD: u64 = 0xa0;
    /// CMDSTS (32).
    pub const CMDSTS: u64 = 0xa8;
    /// CMDCAP (32).
    pub const CMDCAP: u64 = 0xb0;
    /// SWERR (4 x 64).
    pub const SWERR: u64 = 0xc0;
    /// IAACAP (IAA >= 2.0) / DSACAP0 (DSA >= 3.0).
    pub const IAACAP: u64 = 0x180;
}

/// Multiplier of the OFFSETS fields: each value x 0x100 is a byte offset in BAR0.
pub const TABLE_MULT: u64 = 0x100;
/// Size of one GRPCFG entry.
pub const GRPCFG_ENTRY_SIZE: u64 = 64;
/// Size of one MSI-X permission entry.
pub const MSIX_PERM_ENTRY_SIZE: u64 = 8;

/// VERSION: major.minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Major version (1, 2, 3).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl Version {
    /// Bits the register defines.
    pub const DEFINED: u32 = 0xffff;
    /// Decodes the register.
    pub const fn decode(v: u32) -> Self {
        Version {
            major: (v >> 8) as u8,
            minor: v as u8,
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u32 {
        (self.major as u32) << 8 | self.minor as u32
    }
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// GENCAP: general capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GenCap {
    /// Bit 0: block on fault supported.
    pub block_on_fault: bool,
    /// Bit 1: overlapping copy supported.
    pub overlap_copy: bool,
    /// Bit 2: cache control (memory) supported.
    pub cache_control_mem: bool,
    /// Bit 3: cache control (cache) supported.
    pub cache_control_cache: bool,
    /// Bit 4: CMDCAP is valid.
    pub cmd_cap: bool,
    /// Bit 8: destination read-back supported.
    pub dest_readback: bool,
    /// Bit 9: drain descriptor read-back.
    pub drain_readback: bool,
    /// Bits 14:13: event log support.
    pub event_log: u8,
    /// Bit 15: batch continuation.
    pub batch_continuation: bool,
    /// Bits 20:16: log2 of the maximum transfer size.
    pub max_xfer_shift: u8,
    /// Bits 24:21: log2 of the maximum batch size (0: no batch).
    pub max_batch_shift: u8,
    /// Bits 30:25: maximum IMS multiplier.
    pub max_ims_mult: u8,
    /// Bit 31: configuration registers writable.
    pub config_writable: bool,
}

impl GenCap {
    /// Bits the register defines.
    pub const DEFINED: u64 = 0xffff_e31f;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        GenCap {
            block_on_fault: bit(v, 0),
            overlap_copy: bit(v, 1),
            cache_control_mem: bit(v, 2),
            cache_control_cache: bit(v, 3),
            cmd_cap: bit(v, 4),
            dest_readback: bit(v, 8),
            drain_readback: bit(v, 9),
            event_log: get(v, 14, 13) as u8,
            batch_continuation: bit(v, 15),
            max_xfer_shift: get(v, 20, 16) as u8,
            max_batch_shift: get(v, 24, 21) as u8,
            max_ims_mult: get(v, 30, 25) as u8,
            config_writable: bit(v, 31),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        flag(self.block_on_fault, 0)
            | flag(self.overlap_copy, 1)
            | flag(self.cache_control_mem, 2)
            | flag(self.cache_control_cache, 3)
            | flag(self.cmd_cap, 4)
            | flag(self.dest_readback, 8)
            | flag(self.drain_readback, 9)
            | put(self.event_log as u64, 14, 13)
            | flag(self.batch_continuation, 15)
            | put(self.max_xfer_shift as u64, 20, 16)
            | put(self.max_batch_shift as u64, 24, 21)
            | put(self.max_ims_mult as u64, 30, 25)
            | flag(self.config_writable, 31)
    }
    /// Maximum transfer size in bytes.
    pub const fn max_transfer_size(self) -> u64 {
        1u64 << self.max_xfer_shift
    }
    /// Maximum batch size (0 when batches are not supported).
    pub const fn max_batch_size(self) -> u32 {
        if self.max_batch_shift == 0 {
            0
        } else {
            1u32 << self.max_batch_shift
        }
    }
}

/// WQCAP: work-queue capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct WqCap {
    /// Bits 15:0: total WQ entries shared by all WQs.
    pub total_wq_size: u16,
    /// Bits 23:16: number of WQs.
    pub num_wqs: u8,
    /// Bits 27:24: WQCFG entry size is 32 B << this.
    pub wqcfg_size_shift: u8,
    /// Bit 48: shared mode supported.
    pub shared_mode: bool,
    /// Bit 49: dedicated mode supported.
    pub dedicated_mode: bool,
    /// Bit 50: ATS supported.
    pub ats: bool,
    /// Bit 51: WQ priority supported.
    pub priority: bool,
    /// Bit 52: occupancy reporting.
    pub occupancy: bool,
    /// Bit 53: occupancy interrupt.
    pub occupancy_int: bool,
    /// Bit 54: per-WQ operation configuration.
    pub op_config: bool,
    /// Bit 55: page request services.
    pub prs: bool,
}

impl WqCap {
    /// Bits the register defines.
    pub const DEFINED: u64 = 0x00ff_0000_0fff_ffff;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        WqCap {
            total_wq_size: get(v, 15, 0) as u16,
            num_wqs: get(v, 23, 16) as u8,
            wqcfg_size_shift: get(v, 27, 24) as u8,
            shared_mode: bit(v, 48),
            dedicated_mode: bit(v, 49),
            ats: bit(v, 50),
            priority: bit(v, 51),
            occupancy: bit(v, 52),
            occupancy_int: bit(v, 53),
            op_config: bit(v, 54),
            prs: bit(v, 55),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        put(self.total_wq_size as u64, 15, 0)
            | put(self.num_wqs as u64, 23, 16)
            | put(self.wqcfg_size_shift as u64, 27, 24)
            | flag(self.shared_mode, 48)
            | flag(self.dedicated_mode, 49)
            | flag(self.ats, 50)
            | flag(self.priority, 51)
            | flag(self.occupancy, 52)
            | flag(self.occupancy_int, 53)
            | flag(self.op_config, 54)
            | flag(self.prs, 55)
    }
    /// Size of one WQCFG entry in bytes.
    pub const fn wqcfg_entry_size(self) -> u64 {
        32u64 << self.wqcfg_size_shift
    }
}

/// GRPCAP: group capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GrpCap {
    /// Bits 7:0: number of groups.
    pub num_groups: u8,
    /// Bits 15:8: total read buffers.
    pub total_read_buffers: u8,
    /// Bit 16: read-buffer control.
    pub read_buffer_ctrl: bool,
    /// Bit 17: read-buffer limit.
    pub read_buffer_limit: bool,
}

impl GrpCap {
    /// Bits the register defines.
    pub const DEFINED: u64 = 0x3_ffff;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        GrpCap {
            num_groups: get(v, 7, 0) as u8,
            total_read_buffers: get(v, 15, 8) as u8,
            read_buffer_ctrl: bit(v, 16),
            read_buffer_limit: bit(v, 17),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        put(self.num_groups as u64, 7, 0)
            | put(self.total_read_buffers as u64, 15, 8)
            | flag(self.read_buffer_ctrl, 16)
            | flag(self.read_buffer_limit, 17)
    }
}

/// ENGCAP: engine capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EngCap {
    /// Bits 7:0: number of engines.
    pub num_engines: u8,
}

impl EngCap {
    /// Bits the register defines.
    pub const DEFINED: u64 = 0xff;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        EngCap { num_engines: v as u8 }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        self.num_engines as u64
    }
}

/// OPCAP: 256-bit bitmap of supported opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct OpCap(pub [u64; 4]);

impl OpCap {
    /// Whether opcode `op` is supported.
    pub const fn supports(&self, op: u8) -> bool {
        (self.0[(op / 64) as usize] >> (op % 64)) & 1 != 0
    }
    /// Marks `op` supported.
    pub fn set(&mut self, op: u8) {
        self.0[(op / 64) as usize] |= 1u64 << (op % 64);
    }
    /// Every supported opcode.
    pub fn opcodes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&op| self.supports(op))
    }
}

/// OFFSETS: where the tables are (each value x 0x100 bytes into BAR0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Offsets {
    /// GRPCFG table.
    pub grpcfg: u16,
    /// WQCFG table.
    pub wqcfg: u16,
    /// MSI-X permission table.
    pub msix_perm: u16,
    /// IMS.
    pub ims: u16,
    /// Perfmon.
    pub perfmon: u16,
}

impl Offsets {
    /// Decodes the two qwords.
    pub const fn decode(v: [u64; 2]) -> Self {
        Offsets {
            grpcfg: get(v[0], 15, 0) as u16,
            wqcfg: get(v[0], 31, 16) as u16,
            msix_perm: get(v[0], 47, 32) as u16,
            ims: get(v[0], 63, 48) as u16,
            perfmon: get(v[1], 15, 0) as u16,
        }
    }
    /// Encodes the two qwords.
    pub const fn encode(self) -> [u64; 2] {
        [
            self.grpcfg as u64
                | (self.wqcfg as u64) << 16
                | (self.msix_perm as u64) << 32
                | (self.ims as u64) << 48,
            self.perfmon as u64,
        ]
    }
    /// Byte offset of the GRPCFG table.
    pub const fn grpcfg_bytes(self) -> u64 {
        self.grpcfg as u64 * TABLE_MULT
    }
    /// Byte offset of the WQCFG table.
    pub const fn wqcfg_bytes(self) -> u64 {
        self.wqcfg as u64 * TABLE_MULT
    }
    /// Byte offset of the MSI-X permission table.
    pub const fn msix_perm_bytes(self) -> u64 {
        self.msix_perm as u64 * TABLE_MULT
    }
    /// Byte offset of the IMS table.
    pub const fn ims_bytes(self) -> u64 {
        self.ims as u64 * TABLE_MULT
    }
    /// Byte offset of the perfmon registers.
    pub const fn perfmon_bytes(self) -> u64 {
        self.perfmon as u64 * TABLE_MULT
    }
}

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

/// Device state in GENSTS[1:0].
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

/// What a halted device needs (GENSTS[3:2]).
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

code_enum! {
    /// Device commands (CMD[24:20]).
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
        GroupConfig1 = 0x15 => "group configuration error 1 (WQ in a group without engines)",
        GroupConfig2 = 0x16 => "group configuration error 2 (engine in more than one group)",
        GroupConfig3 = 0x17 => "group configuration error 3 (WQ in more than one group)",
        GroupConfig4 = 0x18 => "group configuration error 4 (invalid read-buffer configuration)",
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
        WqNotEnabled = 0x32 => "WQ not enabled",
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

/// SWERR: the software error register (4 qwords).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SwErr {
    /// q0 bit 0: an error is recorded.
    pub valid: bool,
    /// q0 bit 1: another error happened while one was recorded.
    pub overflow: bool,
    /// q0 bit 2: the descriptor fields (opcode, PASID, ...) are valid.
    pub desc_valid: bool,
    /// q0 bit 3: the WQ index is valid.
    pub wq_idx_valid: bool,
    /// q0 bit 4: the descriptor was in a batch.
    pub batch: bool,
    /// q0 bit 5: the fault was on a write.
    pub fault_rw: bool,
    /// q0 bit 6: privileged descriptor.
    pub privileged: bool,
    /// q0 bits 15:8: the error (a completion status code).
    pub error: u8,
    /// q0 bits 23:16: WQ index.
    pub wq_idx: u8,
    /// q0 bits 39:32: opcode.
    pub opcode: u8,
    /// q0 bits 59:40: PASID.
    pub pasid: u32,
    /// q1 bits 15:0: index in the batch.
    pub batch_idx: u16,
    /// q1 bits 63:32: invalid flags.
    pub invalid_flags: u32,
    /// q2: fault address.
    pub fault_addr: u64,
}

impl SwErr {
    /// Bits of q0 the register defines.
    pub const Q0_DEFINED: u64 = 0x0fff_ffff_00ff_ff7f;
    /// Decodes the four qwords.
    pub const fn decode(q: [u64; 4]) -> Self {
        SwErr {
            valid: bit(q[0], 0),
            overflow: bit(q[0], 1),
            desc_valid: bit(q[0], 2),
            wq_idx_valid: bit(q[0], 3),
            batch: bit(q[0], 4),
            fault_rw: bit(q[0], 5),
            privileged: bit(q[0], 6),
            error: get(q[0], 15, 8) as u8,
            wq_idx: get(q[0], 23, 16) as u8,
            opcode: get(q[0], 39, 32) as u8,
            pasid: get(q[0], 59, 40) as u32,
            batch_idx: get(q[1], 15, 0) as u16,
            invalid_flags: get(q[1], 63, 32) as u32,
            fault_addr: q[2],
        }
    }
    /// Encodes the four qwords.
    pub const fn encode(self) -> [u64; 4] {
        [
            flag(self.valid, 0)
                | flag(self.overflow, 1)
                | flag(self.desc_valid, 2)
                | flag(self.wq_idx_valid, 3)
                | flag(self.batch, 4)
                | flag(self.fault_rw, 5)
                | flag(self.privileged, 6)
                | put(self.error as u64, 15, 8)
                | put(self.wq_idx as u64, 23, 16)
                | put(self.opcode as u64, 39, 32)
                | put(self.pasid as u64, 59, 40),
            self.batch_idx as u64 | (self.invalid_flags as u64) << 32,
            self.fault_addr,
            0,
        ]
    }
    /// The value to write back to q0 to acknowledge: `q0 & (valid | overflow)`.
    pub const fn ack_value(q0: u64) -> u64 {
        q0 & 0b11
    }
}

/// IAACAP (IAA >= 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct IaaCap {
    /// Bit 0: generation-2 minimum capabilities.
    pub gen2_min: bool,
    /// Bit 3: force-array output modification.
    pub force_array_output: bool,
    /// Bit 4: partial AECS load.
    pub partial_aecs_load: bool,
    /// Bit 7: dictionary compression.
    pub dictionary: bool,
    /// Bit 8: deflate header generation.
    pub header_gen: bool,
}

impl IaaCap {
    /// Bits this model decodes.
    pub const DEFINED: u64 = 0x199;
    /// Decodes the register.
    pub const fn decode(v: u64) -> Self {
        IaaCap {
            gen2_min: bit(v, 0),
            force_array_output: bit(v, 3),
            partial_aecs_load: bit(v, 4),
            dictionary: bit(v, 7),
            header_gen: bit(v, 8),
        }
    }
    /// Encodes the register.
    pub const fn encode(self) -> u64 {
        flag(self.gen2_min, 0)
            | flag(self.force_array_output, 3)
            | flag(self.partial_aecs_load, 4)
            | flag(self.dictionary, 7)
            | flag(self.header_gen, 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sapphire_rapids_values_decode() {
        let g = GenCap::decode(0x40915f010f);
        assert_eq!(g.max_transfer_size(), 1 << 31);
        assert_eq!(g.max_batch_size(), 1024);
        assert!(g.block_on_fault && !g.cmd_cap && g.config_writable && g.dest_readback);
        let g = GenCap::decode(0x71f10901f0105);
        assert_eq!(g.max_transfer_size(), 1 << 31);
        assert_eq!(g.max_batch_size(), 0);
        let w = WqCap::decode(0x3f000000080080);
        assert_eq!((w.total_wq_size, w.num_wqs, w.wqcfg_entry_size()), (128, 8, 32));
        assert!(w.shared_mode && w.dedicated_mode && w.ats && w.priority && w.occupancy && w.occupancy_int);
        assert!(!w.op_config && !w.prs);
    }

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

    #[test]
    fn swerr_ack() {
        let q = SwErr {
            valid: true,
            overflow: true,
            error: 0x1b,
            ..Default::default()
        }
        .encode();
        assert_eq!(SwErr::ack_value(q[0]), 0b11);
        assert_eq!(SwErr::decode(q).error, 0x1b);
    }
}
