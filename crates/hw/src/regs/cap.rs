//! The capability registers: VERSION, GENCAP, WQCAP, GRPCAP, ENGCAP, OPCAP, OFFSETS and
//! IAACAP. Read-only to software; the driver decodes them, the emulator encodes them from a
//! profile.

use crate::bits::{bit, flag, get, put};

use super::TABLE_MULT;

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
}
