//! A minimal register-level driver for the emulator's own tests and benchmarks: it touches the
//! device only through BAR0 register accesses, PCI config, BAR2 portal writes and memory behind
//! the IOMMU, as a real driver would. It panics on anything unexpected (it is test support);
//! the real driver is the `idxd-driver` crate.

use std::time::{Duration, Instant};

use crate::device::{EmuConfig, EmuDevice, ExecMode, PortalResult, SubmitKind};
use idxd_hw::pci::{PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY};
use idxd_hw::regs::{off, Cmd, CmdSts, Command, GenSts};
use idxd_hw::tables::{GrpCfg, WqCfg, WqMode};
use idxd_hw::{Capabilities, Profile};

/// Every built-in profile.
pub const PROFILES: [&str; 5] = ["dsa-spr", "iaa-spr", "dsa-gnr", "iaa-gnr", "dsa-dmr"];

/// The device and its decoded capabilities.
pub struct MiniDriver {
    /// The device.
    pub dev: EmuDevice,
    /// Its capabilities.
    pub caps: Capabilities,
}

/// One WQ to configure.
#[derive(Clone, Copy, Debug)]
pub struct WqSpec {
    /// WQ index.
    pub wq: u16,
    /// Group.
    pub group: u8,
    /// Entries.
    pub size: u16,
    /// Mode.
    pub mode: WqMode,
    /// Priority (1..=15).
    pub priority: u8,
    /// Limited-portal threshold (shared WQs).
    pub threshold: u16,
}

impl WqSpec {
    /// A dedicated WQ of `size` entries in group 0, priority 1.
    pub fn dedicated(wq: u16, size: u16) -> Self {
        WqSpec {
            wq,
            group: 0,
            size,
            mode: WqMode::Dedicated,
            priority: 1,
            threshold: 0,
        }
    }
}

impl MiniDriver {
    /// A device from a built-in profile, in its power-on state.
    pub fn new(profile: &str, cfg: EmuConfig) -> Self {
        let p = Profile::builtin(profile).unwrap();
        let caps = p.caps;
        MiniDriver {
            dev: EmuDevice::new(p, cfg),
            caps,
        }
    }

    /// A device in inline execution mode.
    pub fn inline(profile: &str) -> Self {
        Self::new(
            profile,
            EmuConfig {
                mode: ExecMode::Inline,
                ..Default::default()
            },
        )
    }

    /// Sets Memory Space Enable and Bus Master Enable in PCI COMMAND.
    pub fn pci_enable(&self) {
        self.dev
            .pci_write16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }

    /// Issues a command and polls CMDSTS until it is no longer active.
    pub fn cmd(&self, c: Cmd) -> CmdSts {
        self.dev.write32(off::CMD, c.encode());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = CmdSts::decode(self.dev.read32(off::CMDSTS));
            if !s.active {
                return s;
            }
            assert!(Instant::now() < deadline, "command never completed");
            std::hint::spin_loop();
        }
    }

    /// Issues `c` with `operand` and returns the CMDSTS error byte.
    pub fn cmd_err(&self, c: Command, operand: u32) -> u8 {
        self.cmd(Cmd {
            command: c,
            operand,
            request_int: false,
        })
        .error
    }

    /// Reads GENSTS.
    pub fn gensts(&self) -> GenSts {
        GenSts::decode(self.dev.read32(off::GENSTS))
    }

    /// Writes WQ `wq`'s WQCFG entry, dword by dword.
    pub fn write_wqcfg(&self, wq: u16, c: &WqCfg) {
        let base = self.caps.wqcfg_offset(wq);
        let n = (self.caps.wqcfg_entry_size() / 4) as usize;
        for (i, d) in c.encode().iter().enumerate().take(n) {
            self.dev.write32(base + 4 * i as u64, *d);
        }
    }

    /// Reads WQ `wq`'s WQCFG entry.
    pub fn read_wqcfg(&self, wq: u16) -> WqCfg {
        let base = self.caps.wqcfg_offset(wq);
        let n = (self.caps.wqcfg_entry_size() / 4) as usize;
        let d: Vec<u32> = (0..n).map(|i| self.dev.read32(base + 4 * i as u64)).collect();
        WqCfg::decode(&d)
    }

    /// Writes group `g`'s GRPCFG entry.
    pub fn write_grpcfg(&self, g: u8, c: &GrpCfg) {
        let base = self.caps.grpcfg_offset(g);
        for (i, q) in c.encode().iter().enumerate() {
            self.dev.write64(base + 8 * i as u64, *q);
        }
    }

    /// Reads group `g`'s GRPCFG entry.
    pub fn read_grpcfg(&self, g: u8) -> GrpCfg {
        let base = self.caps.grpcfg_offset(g);
        let q: [u64; 8] = std::array::from_fn(|i| self.dev.read64(base + 8 * i as u64));
        GrpCfg::decode(&q)
    }

    /// The WQCFG entry for a spec, with the device's maximum shifts.
    pub fn wq_cfg(&self, s: &WqSpec) -> WqCfg {
        WqCfg {
            size: s.size,
            threshold: s.threshold,
            mode: s.mode,
            priority: s.priority,
            pasid_en: s.mode == WqMode::Shared,
            max_xfer_shift: self.caps.gencap.max_xfer_shift,
            max_batch_shift: self.caps.gencap.max_batch_shift,
            op_config: std::array::from_fn(|i| (self.caps.opcap.0[i / 2] >> (32 * (i % 2))) as u32),
            ..Default::default()
        }
    }

    /// Writes the configuration: every engine in group 0, the given WQs in their groups.
    pub fn configure(&self, wqs: &[WqSpec]) {
        let mut groups = vec![GrpCfg::default(); self.caps.num_groups() as usize];
        for e in 0..self.caps.num_engines {
            groups[0].add_engine(e);
        }
        for g in groups.iter_mut() {
            g.tc_a = 1;
            g.tc_b = 1;
            g.rdbufs_allowed = self.caps.total_read_buffers();
        }
        for s in wqs {
            groups[s.group as usize].add_wq(s.wq);
            self.write_wqcfg(s.wq, &self.wq_cfg(s));
        }
        for (i, g) in groups.iter().enumerate() {
            self.write_grpcfg(i as u8, g);
        }
    }

    /// Full bring-up: PCI enable, reset, configure, enable device and every WQ.
    pub fn bring_up(&self, wqs: &[WqSpec]) {
        self.pci_enable();
        assert_eq!(self.cmd_err(Command::ResetDevice, 0), 0);
        self.configure(wqs);
        assert_eq!(self.cmd_err(Command::EnableDevice, 0), 0);
        for s in wqs {
            assert_eq!(
                self.cmd_err(Command::EnableWq, s.wq as u32),
                0,
                "enable WQ {}",
                s.wq
            );
        }
    }

    /// The default test setup: WQ 0 dedicated with `size` entries.
    pub fn up(profile: &str, cfg: EmuConfig, size: u16) -> Self {
        let d = Self::new(profile, cfg);
        d.bring_up(&[WqSpec::dedicated(0, size)]);
        d
    }

    /// BAR2 offset of WQ `wq`'s unlimited portal.
    pub fn portal(&self, wq: u16) -> u64 {
        wq as u64 * 0x4000
    }

    /// MOVDIR64B of a descriptor to WQ `wq`.
    pub fn submit(&self, wq: u16, desc: &[u8; 64]) -> PortalResult {
        self.dev
            .portal_write(self.portal(wq), desc, SubmitKind::Movdir64b)
            .unwrap()
    }

    /// Maps `len` bytes of IOMMU-owned memory at `iova`.
    pub fn map(&self, iova: u64, len: usize, writable: bool) {
        self.dev.iommu().map_owned(iova, len, writable).unwrap();
    }

    /// CPU write to device memory.
    pub fn write_mem(&self, iova: u64, data: &[u8]) {
        self.dev.iommu().cpu_write(iova, data).unwrap();
    }

    /// CPU read of device memory.
    pub fn read_mem(&self, iova: u64, len: usize) -> Vec<u8> {
        self.dev.iommu().cpu_read_vec(iova, len).unwrap()
    }

    /// Polls a record's status byte (acquire) until non-zero; None after `timeout`.
    pub fn wait_status(&self, rec: u64, timeout: Duration) -> Option<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.dev.iommu().cpu_load_acquire_u8(rec).unwrap();
            if s != 0 {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::yield_now();
        }
    }

    /// Reads an `N`-byte completion record.
    pub fn record<const N: usize>(&self, rec: u64) -> [u8; N] {
        self.read_mem(rec, N).try_into().unwrap()
    }
}

impl MiniDriver {
    /// Writes a raw CMD value and returns the CMDSTS error byte.
    pub fn cmd_err_raw(&self, raw: u32) -> u8 {
        self.dev.write32(off::CMD, raw);
        CmdSts::decode(self.dev.read32(off::CMDSTS)).error
    }
}
