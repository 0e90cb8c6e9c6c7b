//! Capabilities decoded from the capability registers.

use crate::pci::DeviceKind;
use crate::regs::{
    CmdCap, EngCap, GenCap, GrpCap, IaaCap, Offsets, OpCap, Version, WqCap, GRPCFG_ENTRY_SIZE,
};
use crate::HwError;

/// The raw capability registers, as read from BAR0 (or a profile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CapRegisters {
    /// VERSION.
    pub version: u32,
    /// GENCAP.
    pub gencap: u64,
    /// WQCAP.
    pub wqcap: u64,
    /// GRPCAP.
    pub grpcap: u64,
    /// ENGCAP.
    pub engcap: u64,
    /// OPCAP.
    pub opcap: [u64; 4],
    /// OFFSETS.
    pub offsets: [u64; 2],
    /// CMDCAP (valid when GENCAP bit 4).
    pub cmdcap: u32,
    /// IAACAP (IAA >= 2.0) or DSACAP0 (DSA >= 3.0).
    pub iaacap: u64,
}

/// What a device can do, decoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// VERSION.
    pub version: Version,
    /// GENCAP, decoded.
    pub gencap: GenCap,
    /// WQCAP, decoded.
    pub wqcap: WqCap,
    /// GRPCAP, decoded.
    pub grpcap: GrpCap,
    /// Number of engines.
    pub num_engines: u8,
    /// Supported opcodes.
    pub opcap: OpCap,
    /// Table offsets.
    pub offsets: Offsets,
    /// Supported commands, when GENCAP says CMDCAP is valid.
    pub cmdcap: Option<CmdCap>,
    /// IAA 2.0+ capabilities.
    pub iaacap: Option<IaaCap>,
}

impl Capabilities {
    /// Decodes and checks the capability registers of a `kind` device.
    pub fn decode(kind: DeviceKind, r: &CapRegisters) -> Result<Self, HwError> {
        let version = Version::decode(r.version);
        if !(1..=3).contains(&version.major) {
            return Err(HwError::InvalidField {
                field: "VERSION",
                value: r.version as u64,
            });
        }
        let gencap = GenCap::decode(r.gencap);
        let wqcap = WqCap::decode(r.wqcap);
        let grpcap = GrpCap::decode(r.grpcap);
        let engcap = EngCap::decode(r.engcap);
        let offsets = Offsets::decode(r.offsets);
        if wqcap.num_wqs == 0 || wqcap.total_wq_size == 0 {
            return Err(HwError::InvalidField {
                field: "WQCAP (no WQs or no WQ entries)",
                value: r.wqcap,
            });
        }
        if grpcap.num_groups == 0 {
            return Err(HwError::InvalidField {
                field: "GRPCAP (no groups)",
                value: r.grpcap,
            });
        }
        if engcap.num_engines == 0 || engcap.num_engines > 64 {
            return Err(HwError::InvalidField {
                field: "ENGCAP (engines)",
                value: r.engcap,
            });
        }
        if !wqcap.shared_mode && !wqcap.dedicated_mode {
            return Err(HwError::InvalidField {
                field: "WQCAP (neither shared nor dedicated mode)",
                value: r.wqcap,
            });
        }
        if kind == DeviceKind::Iaa && gencap.max_batch_shift != 0 {
            return Err(HwError::InvalidField {
                field: "GENCAP max_batch_shift (IAA has no batch)",
                value: r.gencap,
            });
        }
        if kind == DeviceKind::Dsa && gencap.max_batch_shift == 0 {
            return Err(HwError::InvalidField {
                field: "GENCAP max_batch_shift (DSA needs batches)",
                value: r.gencap,
            });
        }
        if offsets.grpcfg == 0 || offsets.wqcfg == 0 {
            return Err(HwError::InvalidField {
                field: "OFFSETS (GRPCFG/WQCFG at 0)",
                value: r.offsets[0],
            });
        }
        let caps = Capabilities {
            kind,
            version,
            gencap,
            wqcap,
            grpcap,
            num_engines: engcap.num_engines,
            opcap: OpCap(r.opcap),
            offsets,
            cmdcap: gencap.cmd_cap.then_some(CmdCap(r.cmdcap)),
            iaacap: (kind == DeviceKind::Iaa && version.major >= 2).then(|| IaaCap::decode(r.iaacap)),
        };
        let (g0, g1) = (offsets.grpcfg_bytes(), caps.grpcfg_end());
        let (w0, w1) = (offsets.wqcfg_bytes(), caps.wqcfg_end());
        if g0 < w1 && w0 < g1 {
            return Err(HwError::InvalidField {
                field: "OFFSETS (GRPCFG and WQCFG tables overlap)",
                value: r.offsets[0],
            });
        }
        Ok(caps)
    }

    /// Maximum transfer size in bytes.
    pub const fn max_transfer_size(&self) -> u64 {
        self.gencap.max_transfer_size()
    }

    /// Maximum batch size (0 on IAA).
    pub const fn max_batch_size(&self) -> u32 {
        self.gencap.max_batch_size()
    }

    /// Number of WQs.
    pub const fn num_wqs(&self) -> u16 {
        self.wqcap.num_wqs as u16
    }

    /// Total WQ entries.
    pub const fn total_wq_size(&self) -> u16 {
        self.wqcap.total_wq_size
    }

    /// Number of groups.
    pub const fn num_groups(&self) -> u8 {
        self.grpcap.num_groups
    }

    /// Total read buffers.
    pub const fn total_read_buffers(&self) -> u8 {
        self.grpcap.total_read_buffers
    }

    /// Size of one WQCFG entry.
    pub const fn wqcfg_entry_size(&self) -> u64 {
        self.wqcap.wqcfg_entry_size()
    }

    /// BAR0 offset of WQ `wq`'s WQCFG entry.
    pub const fn wqcfg_offset(&self, wq: u16) -> u64 {
        self.offsets.wqcfg_bytes() + wq as u64 * self.wqcfg_entry_size()
    }

    /// BAR0 offset of group `g`'s GRPCFG entry.
    pub const fn grpcfg_offset(&self, g: u8) -> u64 {
        self.offsets.grpcfg_bytes() + g as u64 * GRPCFG_ENTRY_SIZE
    }

    /// End of the WQCFG table.
    pub const fn wqcfg_end(&self) -> u64 {
        self.wqcfg_offset(self.num_wqs())
    }

    /// End of the GRPCFG table.
    pub const fn grpcfg_end(&self) -> u64 {
        self.grpcfg_offset(self.num_groups())
    }

    /// Whether the device supports `opcode`.
    pub const fn supports(&self, opcode: u8) -> bool {
        self.opcap.supports(opcode)
    }
}
