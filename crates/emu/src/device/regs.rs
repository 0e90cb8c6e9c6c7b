//! BAR0: register reads and writes with each register's access type (read-only, read-write,
//! write-1-to-clear), and the GRPCFG, WQCFG and MSI-X permission tables at the profile's
//! offsets. Configuration is writable only while the device (GRPCFG, GENCFG) or the WQ (WQCFG)
//! is disabled, and only when GENCAP says configuration registers are writable.

use idxd_hw::regs::{off, DeviceState, GenCfg, GenCtrl, SwErr, MSIX_PERM_ENTRY_SIZE};
use idxd_hw::tables::{GrpCfg, WqCfg};

use super::{EmuDevice, State};

/// Where a BAR0 offset lands.
enum Target {
    Reg,
    Grpcfg { group: usize, dword: usize },
    Wqcfg { wq: usize, dword: usize },
    MsixPerm { vector: usize, dword: usize },
}

impl EmuDevice {
    fn target(&self, o: u64) -> Target {
        let c = &self.sh.caps;
        let g0 = c.offsets.grpcfg_bytes();
        if o >= g0 && o < c.grpcfg_end() {
            let rel = o - g0;
            return Target::Grpcfg {
                group: (rel / 64) as usize,
                dword: ((rel % 64) / 4) as usize,
            };
        }
        let w0 = c.offsets.wqcfg_bytes();
        if o >= w0 && o < c.wqcfg_end() {
            let rel = o - w0;
            let es = c.wqcfg_entry_size();
            return Target::Wqcfg {
                wq: (rel / es) as usize,
                dword: ((rel % es) / 4) as usize,
            };
        }
        let m0 = c.offsets.msix_perm_bytes();
        let m1 = m0 + self.sh.profile.msix_vectors as u64 * MSIX_PERM_ENTRY_SIZE;
        if o >= m0 && o < m1 {
            let rel = o - m0;
            return Target::MsixPerm {
                vector: (rel / 8) as usize,
                dword: ((rel % 8) / 4) as usize,
            };
        }
        Target::Reg
    }

    /// A 32-bit read at a 4-byte aligned BAR0 offset. Out-of-range or misaligned reads return
    /// all ones, as a PCI read that no register claims does.
    pub fn read32(&self, o: u64) -> u32 {
        if o % 4 != 0 || o + 4 > self.sh.profile.bar0_size {
            return u32::MAX;
        }
        let st = self.sh.lock();
        self.read32_locked(&st, o)
    }

    /// A 64-bit read (two dwords, low first, read under one lock so the value is consistent).
    pub fn read64(&self, o: u64) -> u64 {
        if o % 8 != 0 || o + 8 > self.sh.profile.bar0_size {
            return u64::MAX;
        }
        let st = self.sh.lock();
        self.read32_locked(&st, o) as u64 | (self.read32_locked(&st, o + 4) as u64) << 32
    }

    fn read32_locked(&self, st: &State, o: u64) -> u32 {
        let r = &self.sh.profile.registers;
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        match self.target(o) {
            Target::Grpcfg { group, dword } => {
                let q = st.grpcfg[group][dword / 2];
                return if dword % 2 == 0 { lo(q) } else { hi(q) };
            }
            Target::Wqcfg { wq, dword } => {
                if dword >= 16 {
                    return 0;
                }
                let mut d = st.wqcfg[wq][dword];
                if dword == 6 {
                    let run = &st.wqs[wq];
                    d = run.occupancy().min(0xffff) | (run.enabled as u32) << 30;
                }
                if dword >= 8 && !self.sh.caps.wqcap.op_config {
                    return 0;
                }
                return d;
            }
            Target::MsixPerm { vector, dword } => {
                let q = st.msix_perm[vector];
                return if dword == 0 { lo(q) } else { hi(q) };
            }
            Target::Reg => {}
        }
        match o {
            off::VERSION => r.version,
            0x10 => lo(r.gencap),
            0x14 => hi(r.gencap),
            0x20 => lo(r.wqcap),
            0x24 => hi(r.wqcap),
            0x30 => lo(r.grpcap),
            0x34 => hi(r.grpcap),
            0x38 => lo(r.engcap),
            0x3c => hi(r.engcap),
            0x40..=0x5c => dword_of(&r.opcap, o - 0x40),
            0x60..=0x6c => dword_of(&r.offsets, o - 0x60),
            off::GENCFG => st.gencfg,
            off::GENCTRL => st.genctrl,
            off::GENSTS => st.gensts.encode(),
            off::INTCAUSE => st.intcause,
            off::CMD => 0,
            off::CMDSTS => st.cmdsts,
            off::CMDCAP if self.sh.caps.gencap.cmd_cap => r.cmdcap,
            0xc0..=0xdc => dword_of(&st.swerr, o - 0xc0),
            0x180 => lo(r.iaacap),
            0x184 => hi(r.iaacap),
            _ => 0,
        }
    }

    /// A 32-bit write at a 4-byte aligned BAR0 offset. Writes to read-only registers and to
    /// configuration that is locked are ignored, as on hardware.
    pub fn write32(&self, o: u64, v: u32) {
        if o % 4 != 0 || o + 4 > self.sh.profile.bar0_size {
            return;
        }
        if o == off::CMD {
            self.command(v);
            return;
        }
        let mut st = self.sh.lock();
        self.write32_locked(&mut st, o, v);
    }

    /// A 64-bit write (low dword first).
    pub fn write64(&self, o: u64, v: u64) {
        if o % 8 != 0 || o + 8 > self.sh.profile.bar0_size {
            return;
        }
        if o == off::CMD {
            self.command(v as u32);
            return;
        }
        let mut st = self.sh.lock();
        self.write32_locked(&mut st, o, v as u32);
        self.write32_locked(&mut st, o + 4, (v >> 32) as u32);
    }

    fn write32_locked(&self, st: &mut State, o: u64, v: u32) {
        let writable = self.sh.caps.gencap.config_writable;
        let dev_disabled = st.gensts.state == DeviceState::Disabled;
        match self.target(o) {
            Target::Grpcfg { group, dword } => {
                if writable && dev_disabled {
                    let q = &mut st.grpcfg[group][dword / 2];
                    let (mask, shift) = if dword % 2 == 0 {
                        (0xffff_ffffu64, 0)
                    } else {
                        (0xffff_ffff << 32, 32)
                    };
                    let defined = match dword / 2 {
                        0..=4 => u64::MAX,
                        5 => GrpCfg::FLAGS_DEFINED,
                        _ => 0,
                    };
                    *q = (*q & !mask) | (((v as u64) << shift) & mask & defined);
                }
            }
            Target::Wqcfg { wq, dword } => {
                let wmask = match dword {
                    0..=7 => WqCfg::WRITABLE[dword],
                    8..=15 if self.sh.caps.wqcap.op_config => u32::MAX,
                    _ => 0,
                };
                if writable && !st.wqs[wq].enabled && dword < 16 {
                    let d = &mut st.wqcfg[wq][dword];
                    *d = (*d & !wmask) | (v & wmask);
                }
            }
            Target::MsixPerm { vector, dword } => {
                let q = &mut st.msix_perm[vector];
                let (mask, shift) = if dword == 0 {
                    (0xffff_ffffu64, 0)
                } else {
                    (0xffff_ffff << 32, 32)
                };
                *q = (*q & !mask) | ((v as u64) << shift);
            }
            Target::Reg => match o {
                off::GENCFG if writable && dev_disabled => st.gencfg = v & GenCfg::DEFINED,
                off::GENCTRL => st.genctrl = v & GenCtrl::DEFINED,
                off::INTCAUSE => st.intcause &= !v,
                0xc0 => {
                    // Acknowledge: write back the valid/overflow bits that were read.
                    let ack = SwErr::ack_value(v as u64);
                    if ack & 1 != 0 {
                        let overflow = st.swerr[0] & 0b10;
                        st.swerr = [overflow, 0, 0, 0];
                    }
                    if ack & 0b10 != 0 {
                        st.swerr[0] &= !0b10;
                    }
                }
                _ => {}
            },
        }
    }
}

/// The dword at byte offset `rel` of a little-endian array of qwords.
fn dword_of(qwords: &[u64], rel: u64) -> u32 {
    let q = qwords[(rel / 8) as usize];
    if rel % 8 == 0 {
        q as u32
    } else {
        (q >> 32) as u32
    }
}
