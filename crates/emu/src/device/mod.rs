//! The emulated device: BAR0 register file, command state machine, WQs and portals, engines.
//!
//! A driver talks to an [`EmuDevice`] exactly as to hardware: 32/64-bit register reads and
//! writes at BAR0 offsets ([`EmuDevice::read32`], [`EmuDevice::write32`], ...), 64-byte portal
//! writes at BAR2 offsets with MOVDIR64B or ENQCMD semantics ([`EmuDevice::portal_write`]),
//! PCI configuration space (COMMAND), memory through the device's [`Iommu`], and interrupts
//! through one [`Notifier`] per MSI-X vector.

mod commands;
mod counters;
mod irq;
mod regs;
mod sched;

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use idxd_hw::pci::{DeviceKind, PCI_COMMAND};
use idxd_hw::profile::Profile;
use idxd_hw::regs::{GenSts, SwErr};
use idxd_hw::tables::WqCfg;
use idxd_hw::Capabilities;

pub use counters::{CounterSnapshot, Counters};
pub use irq::Notifier;
pub use sched::{PortalResult, SubmitKind};

use crate::inject::InjectConfig;
use crate::iommu::Iommu;
use crate::EmuError;

/// SWERR error codes the emulator records for errors that have no completion record.
///
/// No source defines these (docs/hardware.md, "SWERR"); the numbers are this model's, chosen outside the
/// completion-status range so a driver cannot confuse them with a descriptor status.
pub mod swerr_code {
    /// A descriptor written to the portal of a disabled WQ, or while the device is not enabled.
    pub const WQ_DISABLED: u8 = 0x40;
    /// A MOVDIR64B to a dedicated WQ that was already full: the descriptor was dropped.
    pub const WQ_FULL: u8 = 0x41;
    /// MOVDIR64B to a shared WQ or ENQCMD to a dedicated WQ.
    pub const PORTAL_MODE: u8 = 0x42;
    /// The device halted on an internal error.
    pub const HALT: u8 = 0x43;
}

/// How descriptors execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// One worker thread per engine: real concurrency, completions may come out of order
    /// across engines.
    #[default]
    Threads,
    /// The descriptor runs inside the portal write: deterministic, for tests and
    /// instruction-count benchmarks.
    Inline,
}

/// Options of an emulated device.
#[derive(Clone, Debug, Default)]
pub struct EmuConfig {
    /// Execution mode.
    pub mode: ExecMode,
    /// Fault injection.
    pub inject: InjectConfig,
    /// Whether the PCI PASID capability is enabled (true under the kernel's SVA, false for a
    /// vfio-pci driver): shared WQs and PASID-enabled WQs need it.
    pub pasid_enabled: bool,
}

/// A descriptor accepted into a WQ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queued {
    pub bytes: [u8; 64],
    pub seq: u64,
}

/// Run-time state of one WQ.
#[derive(Debug, Default)]
pub(crate) struct WqRun {
    pub queue: VecDeque<Queued>,
    pub in_flight: u32,
    pub enabled: bool,
    /// Configuration captured when the WQ was enabled.
    pub cfg: WqCfg,
    pub group: Option<u8>,
    /// Results of descriptors that started under an older generation are abandoned (abort,
    /// reset, halt, FLR mint a new one).
    pub gen: u64,
}

impl WqRun {
    pub fn occupancy(&self) -> u32 {
        self.queue.len() as u32 + self.in_flight
    }
}

/// Everything the register file holds, plus WQ run-time state, under one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub pci_command: u16,
    pub gencfg: u32,
    pub genctrl: u32,
    pub gensts: GenSts,
    pub intcause: u32,
    pub cmdsts: u32,
    pub swerr: [u64; 4],
    pub grpcfg: Vec<[u64; 8]>,
    pub wqcfg: Vec<[u32; 16]>,
    pub msix_perm: Vec<u64>,
    pub int_handles: Vec<bool>,
    pub wqs: Vec<WqRun>,
    /// Group of each engine, fixed at enable-device time.
    pub engine_group: Vec<Option<u8>>,
    pub stop: bool,
    /// Round-robin cursor among equal-priority WQs, per engine.
    pub rr: Vec<usize>,
}

impl State {
    fn power_on(p: &Profile) -> Self {
        let c = &p.caps;
        State {
            pci_command: 0,
            gencfg: 0,
            genctrl: 0,
            gensts: GenSts::default(),
            intcause: 0,
            cmdsts: 0,
            swerr: [0; 4],
            grpcfg: vec![[0; 8]; c.num_groups() as usize],
            wqcfg: vec![default_wqcfg(c); c.num_wqs() as usize],
            msix_perm: vec![0; p.msix_vectors as usize],
            int_handles: vec![false; p.msix_vectors as usize],
            wqs: (0..c.num_wqs()).map(|_| WqRun::default()).collect(),
            engine_group: vec![None; c.num_engines as usize],
            stop: false,
            rr: vec![0; c.num_engines as usize],
        }
    }
}

pub(crate) struct Shared {
    pub profile: Profile,
    pub caps: Capabilities,
    pub cfg: EmuConfig,
    pub iommu: Arc<Iommu>,
    pub st: Mutex<State>,
    /// Engines wait here for work.
    pub work_cv: Condvar,
    /// Drain waiters wait here for WQs to empty.
    pub idle_cv: Condvar,
    pub irqs: Vec<Notifier>,
    pub counters: Counters,
    pub seq: AtomicU64,
    /// Source of WQ generations.
    pub epoch: AtomicU64,
}

impl Shared {
    /// Abandons whatever runs on the given WQs: their results will not be delivered.
    pub fn new_generation(&self, st: &mut State, wqs: impl IntoIterator<Item = usize>) {
        for w in wqs {
            st.wqs[w].gen = self.epoch.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether descriptors must carry handles from command 13 (CMDCAP bit 13), not vector
    /// indexes.
    pub fn requires_int_handles(&self) -> bool {
        self.caps
            .cmdcap
            .is_some_and(|c| c.supports(idxd_hw::regs::Command::RequestIntHandle))
    }

    /// Whether `handle` was handed out by command 13 and not released since.
    pub fn handle_valid(&self, st: &State, handle: u16) -> bool {
        st.int_handles.get(handle as usize).copied().unwrap_or(false)
    }

    /// Records a software error: SWERR (or its overflow bit when one is pending), INTCAUSE,
    /// and the event interrupt (vector 0) when GENCTRL enables it.
    pub fn record_swerr(&self, st: &mut State, e: SwErr) {
        self.counters.swerr();
        let cur = SwErr::decode(st.swerr);
        if cur.valid {
            st.swerr[0] |= 0b10;
        } else {
            st.swerr = SwErr { valid: true, ..e }.encode();
        }
        st.intcause |= idxd_hw::regs::IntCause::SOFTWARE_ERROR.bits();
        if idxd_hw::regs::GenCtrl::decode(st.genctrl).softerr_int_en {
            self.irqs[0].signal();
        }
    }
}

/// An emulated DSA or IAA.
pub struct EmuDevice {
    sh: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for EmuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuDevice")
            .field("profile", &self.sh.profile.name)
            .field("mode", &self.sh.cfg.mode)
            .finish()
    }
}

impl EmuDevice {
    /// A device built from a profile, in its power-on state, with its own IOMMU domain.
    pub fn new(profile: Profile, cfg: EmuConfig) -> Self {
        Self::with_iommu(profile, cfg, Arc::new(Iommu::new()))
    }

    /// A device from a built-in profile name (`iaa-spr`, `dsa-spr`, ...).
    pub fn from_builtin(name: &str, cfg: EmuConfig) -> Result<Self, EmuError> {
        let p = Profile::builtin(name).map_err(EmuError::Profile)?;
        Ok(Self::new(p, cfg))
    }

    /// A device that translates through a given IOMMU domain (several devices may share one).
    pub fn with_iommu(profile: Profile, cfg: EmuConfig, iommu: Arc<Iommu>) -> Self {
        let caps = profile.caps;
        let irqs = (0..profile.msix_vectors).map(|_| Notifier::default()).collect();
        let st = State::power_on(&profile);
        let sh = Arc::new(Shared {
            profile,
            caps,
            cfg,
            iommu,
            st: Mutex::new(st),
            work_cv: Condvar::new(),
            idle_cv: Condvar::new(),
            irqs,
            counters: Counters::default(),
            seq: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        });
        let mut threads = Vec::new();
        if sh.cfg.mode == ExecMode::Threads {
            for e in 0..caps.num_engines {
                let sh2 = sh.clone();
                let name = format!("{}-eng{e}", sh.profile.name);
                let t = std::thread::Builder::new()
                    .name(name)
                    .spawn(move || sched::engine_loop(&sh2, e));
                match t {
                    Ok(t) => threads.push(t),
                    Err(err) => tracing_fallback(&format!("cannot start engine thread {e}: {err}")),
                }
            }
        }
        EmuDevice { sh, threads }
    }

    /// The profile the device was built from.
    pub fn profile(&self) -> &Profile {
        &self.sh.profile
    }

    /// DSA or IAA.
    pub fn kind(&self) -> DeviceKind {
        self.sh.profile.kind
    }

    /// The device's IOMMU domain: the driver maps DMA memory here.
    pub fn iommu(&self) -> &Arc<Iommu> {
        &self.sh.iommu
    }

    /// The notifier of MSI-X vector `v` (vector 0: device events; WQ completions: the handle
    /// given in the descriptor).
    pub fn irq(&self, v: u16) -> Option<&Notifier> {
        self.sh.irqs.get(v as usize)
    }

    /// Number of MSI-X vectors.
    pub fn msix_vectors(&self) -> u16 {
        self.sh.profile.msix_vectors
    }

    /// The device counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.sh.counters.snapshot()
    }

    /// Reads 16 bits of PCI configuration space (vendor, device, COMMAND; the rest reads 0).
    pub fn pci_read16(&self, off: u16) -> u16 {
        match off {
            0 => self.sh.profile.vendor,
            2 => self.sh.profile.device,
            PCI_COMMAND => self.sh.lock().pci_command,
            _ => 0,
        }
    }

    /// Writes 16 bits of PCI configuration space (only COMMAND is writable).
    pub fn pci_write16(&self, off: u16, v: u16) {
        if off == PCI_COMMAND {
            self.sh.lock().pci_command = v & 0x0547;
        }
    }

    /// Function-level reset: every register to its power-on value, every queued or running
    /// descriptor abandoned, interrupt handles released. Memory mappings stay.
    pub fn function_reset(&self) {
        let mut st = self.sh.lock();
        let n = st.wqs.len();
        for w in st.wqs.iter_mut() {
            w.queue.clear();
        }
        self.sh.new_generation(&mut st, 0..n);
        // Let running descriptors finish (their results are abandoned) before the state is
        // rebuilt, so no engine touches the new state's counters.
        while st.wqs.iter().any(|w| w.in_flight > 0) && !st.stop {
            st = self.sh.idle_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        *st = State::power_on(&self.sh.profile);
        self.sh.new_generation(&mut st, 0..n);
        self.sh.idle_cv.notify_all();
    }
}

impl Drop for EmuDevice {
    fn drop(&mut self) {
        {
            let mut st = self.sh.lock();
            st.stop = true;
            let n = st.wqs.len();
            self.sh.new_generation(&mut st, 0..n);
        }
        self.sh.work_cv.notify_all();
        self.sh.idle_cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The power-on value of a WQCFG entry: all zero, except the per-WQ operation configuration
/// (where the device has one), which enables every operation OPCAP lists.
pub(crate) fn default_wqcfg(c: &Capabilities) -> [u32; 16] {
    let mut d = [0u32; 16];
    if c.wqcap.op_config {
        for (i, w) in c.opcap.0.iter().enumerate() {
            d[8 + 2 * i] = *w as u32;
            d[9 + 2 * i] = (*w >> 32) as u32;
        }
    }
    d
}

/// The emulator has no logger dependency; a thread that cannot start is reported on stderr
/// and the device runs with fewer engines.
fn tracing_fallback(msg: &str) {
    eprintln!("idxd-emu: {msg}");
}
