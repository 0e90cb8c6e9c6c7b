//! The WQCFG and GRPCFG configuration tables.

use crate::bits::{bit, flag, get, put};

/// WQ mode (WQCFG dword 2 bit 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WqMode {
    /// Shared (ENQCMD; needs PASID).
    #[default]
    Shared,
    /// Dedicated (MOVDIR64B).
    Dedicated,
}

/// State of a WQ (WQCFG dword 6 bits 31:30, read-only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WqState {
    /// 0.
    #[default]
    Disabled,
    /// 1.
    Enabled,
    /// 2 or 3: values the hardware does not define (kept for a faithful round trip).
    Reserved(u8),
}

impl WqState {
    const fn decode(v: u8) -> Self {
        match v & 3 {
            0 => WqState::Disabled,
            1 => WqState::Enabled,
            x => WqState::Reserved(x),
        }
    }
    const fn encode(self) -> u32 {
        match self {
            WqState::Disabled => 0,
            WqState::Enabled => 1,
            WqState::Reserved(x) => (x & 3) as u32,
        }
    }
}

/// Number of dwords of a WQCFG entry this model knows (8 field dwords + 8 op-config dwords).
pub const WQCFG_DWORDS: usize = 16;

/// One WQCFG entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct WqCfg {
    /// dword 0 \[15:0\]: WQ size in entries.
    pub size: u16,
    /// dword 1 \[15:0\]: threshold for the limited portal of a shared WQ.
    pub threshold: u16,
    /// dword 2 \[0\]: mode.
    pub mode: WqMode,
    /// dword 2 \[1\]: block on fault.
    pub block_on_fault: bool,
    /// dword 2 \[2\]: ATS disable.
    pub ats_disable: bool,
    /// dword 2 \[3\]: PRS disable.
    pub prs_disable: bool,
    /// dword 2 \[7:4\]: priority, 1..=15.
    pub priority: u8,
    /// dword 2 \[27:8\]: PASID.
    pub pasid: u32,
    /// dword 2 \[28\]: PASID enable.
    pub pasid_en: bool,
    /// dword 2 \[29\]: privileged.
    pub privileged: bool,
    /// dword 3 \[4:0\]: log2 of the maximum transfer size.
    pub max_xfer_shift: u8,
    /// dword 3 \[8:5\]: log2 of the maximum batch size.
    pub max_batch_shift: u8,
    /// dword 4 \[15:0\]: occupancy interrupt handle.
    pub occ_int_handle: u16,
    /// dword 4 \[16\]: occupancy interrupt table select.
    pub occ_int_table: bool,
    /// dword 5 \[15:0\]: occupancy limit.
    pub occ_limit: u16,
    /// dword 5 \[16\]: occupancy interrupt enable.
    pub occ_int_en: bool,
    /// dword 6 \[15:0\]: occupancy (read-only).
    pub occupancy: u16,
    /// dword 6 \[16\]: occupancy interrupt pending (read-only).
    pub occ_int: bool,
    /// dword 6 \[29\]: mode support (read-only; registers.h `mode_support`).
    pub mode_support: bool,
    /// dword 6 \[31:30\]: state (read-only).
    pub state: WqState,
    /// dwords 8..15: per-WQ opcode enable bitmap (only with WQCAP bit 54).
    pub op_config: [u32; 8],
}

impl WqCfg {
    /// Bits of each dword the entry defines (dword 7 is reserved).
    pub const DEFINED: [u32; 8] = [
        0xffff,
        0xffff,
        0x3fff_ffff,
        0x1ff,
        0x1_ffff,
        0x1_ffff,
        0xe001_ffff,
        0,
    ];
    /// Bits of each dword software may write (dword 6 is read-only).
    pub const WRITABLE: [u32; 8] = [0xffff, 0xffff, 0x3fff_ffff, 0x1ff, 0x1_ffff, 0x1_ffff, 0, 0];

    /// Decodes an entry from its dwords (missing op-config dwords read as zero).
    pub fn decode(d: &[u32]) -> Self {
        let dw = |i: usize| d.get(i).copied().unwrap_or(0) as u64;
        let mut op_config = [0u32; 8];
        for (i, v) in op_config.iter_mut().enumerate() {
            *v = dw(8 + i) as u32;
        }
        WqCfg {
            size: get(dw(0), 15, 0) as u16,
            threshold: get(dw(1), 15, 0) as u16,
            mode: if bit(dw(2), 0) {
                WqMode::Dedicated
            } else {
                WqMode::Shared
            },
            block_on_fault: bit(dw(2), 1),
            ats_disable: bit(dw(2), 2),
            prs_disable: bit(dw(2), 3),
            priority: get(dw(2), 7, 4) as u8,
            pasid: get(dw(2), 27, 8) as u32,
            pasid_en: bit(dw(2), 28),
            privileged: bit(dw(2), 29),
            max_xfer_shift: get(dw(3), 4, 0) as u8,
            max_batch_shift: get(dw(3), 8, 5) as u8,
            occ_int_handle: get(dw(4), 15, 0) as u16,
            occ_int_table: bit(dw(4), 16),
            occ_limit: get(dw(5), 15, 0) as u16,
            occ_int_en: bit(dw(5), 16),
            occupancy: get(dw(6), 15, 0) as u16,
            occ_int: bit(dw(6), 16),
            mode_support: bit(dw(6), 29),
            state: WqState::decode(get(dw(6), 31, 30) as u8),
            op_config,
        }
    }

    /// Encodes the entry into 16 dwords (write only as many as the entry size holds).
    pub fn encode(&self) -> [u32; WQCFG_DWORDS] {
        let mut d = [0u32; WQCFG_DWORDS];
        d[0] = self.size as u32;
        d[1] = self.threshold as u32;
        d[2] = (flag(self.mode == WqMode::Dedicated, 0)
            | flag(self.block_on_fault, 1)
            | flag(self.ats_disable, 2)
            | flag(self.prs_disable, 3)
            | put(self.priority as u64, 7, 4)
            | put(self.pasid as u64, 27, 8)
            | flag(self.pasid_en, 28)
            | flag(self.privileged, 29)) as u32;
        d[3] = (put(self.max_xfer_shift as u64, 4, 0) | put(self.max_batch_shift as u64, 8, 5)) as u32;
        d[4] = self.occ_int_handle as u32 | (self.occ_int_table as u32) << 16;
        d[5] = self.occ_limit as u32 | (self.occ_int_en as u32) << 16;
        d[6] = self.occupancy as u32
            | (self.occ_int as u32) << 16
            | (self.mode_support as u32) << 29
            | self.state.encode() << 30;
        d[8..16].copy_from_slice(&self.op_config);
        d
    }
}

/// Traffic class the kernel programs for both TC-A and TC-B when VERSION <= 0x200.
pub const DEFAULT_TRAFFIC_CLASS: u8 = 1;

/// The GRPCFG traffic classes (TC-A, TC-B) a driver programs when its configuration names none,
/// as the kernel does (`init.c` `idxd_setup_groups`, `device.c` `idxd_group_flags_setup`, no
/// `tc_override`): VERSION <= 0x200 (compared as the raw register) both 1; later versions
/// TC-A 0, TC-B 1.
pub const fn default_traffic_classes(version: u32) -> (u8, u8) {
    if version <= 0x200 {
        (DEFAULT_TRAFFIC_CLASS, DEFAULT_TRAFFIC_CLASS)
    } else {
        (0, 1)
    }
}

/// One GRPCFG entry (64 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct GrpCfg {
    /// +0x00..+0x1f: WQs of the group (bit N = WQ N).
    pub wqs: [u64; 4],
    /// +0x20: engines of the group.
    pub engines: u64,
    /// +0x28 \[2:0\]: traffic class A.
    pub tc_a: u8,
    /// +0x28 \[5:3\]: traffic class B.
    pub tc_b: u8,
    /// +0x28 \[7\]: use the read-buffer limit.
    pub use_rdbuf_limit: bool,
    /// +0x28 \[15:8\]: read buffers reserved.
    pub rdbufs_reserved: u8,
    /// +0x28 \[27:20\]: read buffers allowed.
    pub rdbufs_allowed: u8,
    /// +0x28 \[33:32\]: descriptor progress limit (GRPCAP bit 18).
    pub desc_progress_limit: u8,
    /// +0x28 \[37:36\]: batch descriptor progress limit (GRPCAP bit 18).
    pub batch_progress_limit: u8,
}

impl GrpCfg {
    /// Bits of the flags word the entry defines.
    pub const FLAGS_DEFINED: u64 = 0x33_0ff0_ffbf;

    /// Decodes an entry from its 8 qwords.
    pub fn decode(q: &[u64; 8]) -> Self {
        GrpCfg {
            wqs: [q[0], q[1], q[2], q[3]],
            engines: q[4],
            tc_a: get(q[5], 2, 0) as u8,
            tc_b: get(q[5], 5, 3) as u8,
            use_rdbuf_limit: bit(q[5], 7),
            rdbufs_reserved: get(q[5], 15, 8) as u8,
            rdbufs_allowed: get(q[5], 27, 20) as u8,
            desc_progress_limit: get(q[5], 33, 32) as u8,
            batch_progress_limit: get(q[5], 37, 36) as u8,
        }
    }

    /// Encodes the entry into 8 qwords.
    pub fn encode(&self) -> [u64; 8] {
        let flags = put(self.tc_a as u64, 2, 0)
            | put(self.tc_b as u64, 5, 3)
            | flag(self.use_rdbuf_limit, 7)
            | put(self.rdbufs_reserved as u64, 15, 8)
            | put(self.rdbufs_allowed as u64, 27, 20)
            | put(self.desc_progress_limit as u64, 33, 32)
            | put(self.batch_progress_limit as u64, 37, 36);
        [
            self.wqs[0],
            self.wqs[1],
            self.wqs[2],
            self.wqs[3],
            self.engines,
            flags,
            0,
            0,
        ]
    }

    /// Whether WQ `wq` is in this group.
    pub fn has_wq(&self, wq: u16) -> bool {
        wq < 256 && self.wqs[(wq / 64) as usize] >> (wq % 64) & 1 != 0
    }

    /// Adds WQ `wq` (< 256) to the group.
    pub fn add_wq(&mut self, wq: u16) {
        if wq < 256 {
            self.wqs[(wq / 64) as usize] |= 1 << (wq % 64);
        }
    }

    /// Whether engine `e` is in this group.
    pub fn has_engine(&self, e: u8) -> bool {
        e < 64 && self.engines >> e & 1 != 0
    }

    /// Adds engine `e` (< 64) to the group.
    pub fn add_engine(&mut self, e: u8) {
        if e < 64 {
            self.engines |= 1 << e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_wqcfg_decodes() {
        // A live Sapphire Rapids WQCFG: dword0 0x10, dword2 0x10000071, dword3 0x15f, dword6 0x40000000.
        let c = WqCfg::decode(&[0x10, 0, 0x1000_0071, 0x15f, 0, 0, 0x4000_0000, 0]);
        assert_eq!(c.size, 16);
        assert_eq!(c.mode, WqMode::Dedicated);
        assert_eq!(c.priority, 7);
        assert!(c.pasid_en);
        assert_eq!(c.max_xfer_shift, 31);
        assert_eq!(c.max_batch_shift, 10);
        assert_eq!(c.state, WqState::Enabled);
        assert_eq!(
            &c.encode()[..8],
            &[0x10, 0, 0x1000_0071, 0x15f, 0, 0, 0x4000_0000, 0]
        );
    }

    #[test]
    fn traffic_class_defaults_follow_the_kernel() {
        // init.c idxd_setup_groups / device.c idxd_group_flags_setup.
        assert_eq!(default_traffic_classes(0x100), (1, 1));
        assert_eq!(default_traffic_classes(0x200), (1, 1));
        assert_eq!(default_traffic_classes(0x300), (0, 1));
    }

    #[test]
    fn registers_h_fields_round_trip() {
        // registers.h union group_flags: desc_progress_limit 33:32, batch_progress_limit 37:36.
        let g = GrpCfg::decode(&[0, 0, 0, 0, 0, 0x33_0000_0000, 0, 0]);
        assert_eq!((g.desc_progress_limit, g.batch_progress_limit), (3, 3));
        assert_eq!(g.encode()[5], 0x33_0000_0000);
        // union wqcfg dword 6: occupancy_int bit 16, mode_support bit 29.
        let c = WqCfg::decode(&[0, 0, 0, 0, 0, 0, 0x2001_0000, 0]);
        assert!(c.occ_int && c.mode_support);
        assert_eq!(c.encode()[6], 0x2001_0000);
    }

    #[test]
    fn group_membership() {
        let mut g = GrpCfg::default();
        g.add_wq(0);
        g.add_wq(130);
        g.add_engine(3);
        assert!(g.has_wq(130) && !g.has_wq(129) && g.has_engine(3));
        assert_eq!(g.encode()[2], 1 << 2);
        assert_eq!(GrpCfg::decode(&g.encode()), g);
    }
}
