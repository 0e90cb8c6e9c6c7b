//! A device the driver owns (vfio-pci or emulator): bring-up from a [`DeviceConfig`], WQ
//! handles, SWERR and halt handling with recovery, orderly teardown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use idxd_hw::caps::CapRegisters;
use idxd_hw::pci::{PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY};
use idxd_hw::regs::{
    off, Cmd, CmdError, CmdSts, Command, DeviceState, GenCtrl, GenSts, IntCause, ResetType, SwErr,
};
use idxd_hw::tables::{default_traffic_classes, GrpCfg, WqCfg, WqMode, WqState};
use idxd_hw::{Capabilities, Limits};

use crate::config::{DeviceConfig, Mode};
use crate::wq::{Wq, WqParams};
use crate::{DeviceBacking, DriverError, PortalKind, RegisterAccess};

/// How long a device command may take (drains wait for the engines).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of [`Device::bring_up`].
#[derive(Clone, Copy, Debug)]
pub struct BringUpOptions {
    /// Reset and re-enable automatically when the device halts with a software reset type
    /// (or after an FLR where the halt asks for one).
    pub auto_recover: bool,
}

impl Default for BringUpOptions {
    fn default() -> Self {
        BringUpOptions { auto_recover: true }
    }
}

/// What the driver has seen of the device's health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Software errors read from SWERR (and acknowledged), oldest first (at most 64 kept).
    pub swerrs: Vec<SwErr>,
    /// Halts seen.
    pub halts: u64,
    /// Successful recoveries.
    pub recoveries: u64,
}

/// The interrupt handles of a device whose CMDCAP has bit 13 (Request Interrupt Handle): the
/// handle command 13 returned for each MSI-X vector (index = vector; vector 0, the device's
/// own interrupt, has none). Descriptors carry the handle, not the vector (docs/hardware.md,
/// "Interrupt handles"). Requested at every bring-up and recovery, released at teardown.
#[derive(Debug)]
pub(crate) struct IntHandles {
    backing: String,
    map: RwLock<Vec<Option<u16>>>,
}

impl IntHandles {
    /// The handle to put in a descriptor that asks for an interrupt on `vector`.
    pub(crate) fn translate(&self, vector: u16) -> Result<u16, DriverError> {
        let m = self.map.read().unwrap_or_else(|e| e.into_inner());
        m.get(vector as usize)
            .copied()
            .flatten()
            .ok_or_else(|| DriverError::NoSuchVector {
                backing: self.backing.clone(),
                vector,
                vectors: m.len(),
            })
    }
}

/// The most MSI-X vectors a function can have (the table size field is 11 bits).
const MAX_MSIX_VECTORS: u32 = 2048;

pub(crate) struct DeviceShared {
    backing: Arc<dyn DeviceBacking>,
    /// `Some` when the device requires interrupt handles (CMDCAP bit 13).
    int_handles: Option<Arc<IntHandles>>,
    caps: Capabilities,
    config: DeviceConfig,
    opts: BringUpOptions,
    wqs: Mutex<Vec<Arc<Wq>>>,
    halted: Arc<AtomicBool>,
    health: Mutex<Health>,
    /// Serialises recovery.
    recovering: Mutex<()>,
    checks: AtomicU64,
}

/// A DSA or IAA brought up by this driver.
pub struct Device {
    sh: Arc<DeviceShared>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("backing", &self.sh.backing.describe())
            .field("wqs", &self.sh.config.wqs.len())
            .finish()
    }
}

fn regs(b: &dyn DeviceBacking) -> Result<&dyn RegisterAccess, DriverError> {
    b.registers()
        .ok_or(DriverError::Unsupported("register access (kernel-owned WQ)"))
}

/// Issues a device command and waits for CMDSTS to go idle; returns the result field.
pub fn run_command(r: &dyn RegisterAccess, cmd: Cmd) -> Result<u16, DriverError> {
    r.write32(off::CMD, cmd.encode());
    let start = Instant::now();
    let s = loop {
        let s = CmdSts::decode(r.read32(off::CMDSTS));
        if !s.active {
            break s;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            return Err(DriverError::Timeout {
                what: "a device command",
                ms: COMMAND_TIMEOUT.as_millis() as u64,
            });
        }
        std::thread::yield_now();
    };
    match CmdError::from_code(s.error) {
        Some(e) if e.is_benign() => Ok(s.result),
        Some(code) => Err(DriverError::Command {
            command: cmd.command,
            code,
            field: None,
        }),
        None => Err(DriverError::CommandRaw {
            command: cmd.command,
            code: s.error,
        }),
    }
}

/// The configuration field a CMDSTS error points at.
fn field_for(code: CmdError, wq: Option<u16>) -> Option<String> {
    let w = |k: &str| wq.map(|w| format!("wq {w}.{k}"));
    match code {
        CmdError::WqSizeSumTooLarge => Some("wq.size (sum over all WQs)".into()),
        CmdError::GroupConfig1 => Some("group.engines (a group with WQs has no engine)".into()),
        CmdError::GroupConfig2 => Some("group.engines (an engine in two groups)".into()),
        CmdError::GroupConfig3 => Some("wq.group (a WQ in two groups)".into()),
        CmdError::GroupConfig4 => Some("group.read_buffers".into()),
        CmdError::BusMasterDisabled => Some("PCI COMMAND.bus_master".into()),
        CmdError::WqSize => w("size"),
        CmdError::WqPriority => w("priority"),
        CmdError::WqMode => w("mode"),
        CmdError::WqBlockOnFault => w("block_on_fault"),
        CmdError::WqPasidEnable => w("mode (shared WQs need PASID, which vfio-pci does not provide)"),
        CmdError::WqMaxBatch => w("max_batch_shift"),
        CmdError::WqMaxTransfer => w("max_transfer_shift"),
        CmdError::DevConfigError => {
            w("group (not in any group)").or_else(|| Some("device configuration".into()))
        }
        _ => None,
    }
}

fn with_field(e: DriverError, wq: Option<u16>) -> DriverError {
    match e {
        DriverError::Command {
            command,
            code,
            field: None,
        } => DriverError::Command {
            command,
            code,
            field: field_for(code, wq),
        },
        other => other,
    }
}

/// Reads the capability registers.
pub fn read_cap_registers(r: &dyn RegisterAccess) -> CapRegisters {
    CapRegisters {
        version: r.read32(off::VERSION),
        gencap: r.read64(off::GENCAP),
        wqcap: r.read64(off::WQCAP),
        grpcap: r.read64(off::GRPCAP),
        engcap: r.read64(off::ENGCAP),
        opcap: std::array::from_fn(|i| r.read64(off::OPCAP + 8 * i as u64)),
        offsets: [r.read64(off::OFFSETS), r.read64(off::OFFSETS + 8)],
        cmdcap: r.read32(off::CMDCAP),
        iaacap: r.read64(off::IAACAP),
    }
}

impl Device {
    /// Brings the device up: PCI memory and bus-master enable, reset (FLR first when a halt
    /// demands it), capabilities, GRPCFG and WQCFG from `config`, enable device, enable each WQ,
    /// check each WQ reads back enabled. A refusal names the CMDSTS code and the field.
    pub fn bring_up(
        backing: Arc<dyn DeviceBacking>,
        config: &DeviceConfig,
        opts: BringUpOptions,
    ) -> Result<Self, DriverError> {
        let r = regs(backing.as_ref())?;
        let caps = Capabilities::decode(backing.kind(), &read_cap_registers(r))
            .map_err(DriverError::BadCapabilities)?;
        config.validate(&caps)?;
        let needs_handles = caps.cmdcap.is_some_and(|c| c.supports(Command::RequestIntHandle));
        let sh = Arc::new(DeviceShared {
            backing: backing.clone(),
            int_handles: needs_handles.then(|| {
                Arc::new(IntHandles {
                    backing: backing.describe(),
                    map: RwLock::new(Vec::new()),
                })
            }),
            caps,
            config: config.clone(),
            opts,
            wqs: Mutex::new(Vec::new()),
            halted: Arc::new(AtomicBool::new(false)),
            health: Mutex::new(Health::default()),
            recovering: Mutex::new(()),
            checks: AtomicU64::new(0),
        });
        sh.configure_and_enable()?;
        let mut wqs = Vec::new();
        for w in &config.wqs {
            let wc = sh.wqcfg_for(w);
            wqs.push(Arc::new(Wq::new(WqParams {
                id: w.id,
                name: format!("{}/wq{}", backing.describe(), w.id),
                backing: backing.clone(),
                portal: Wq::portal_offset(w.id),
                portal_kind: match w.mode {
                    Mode::Dedicated => PortalKind::Movdir64b,
                    Mode::Shared => PortalKind::Enqcmd,
                },
                limits: Limits::from_shifts(wc.max_xfer_shift, wc.max_batch_shift),
                size: w.size as u32,
                device: Arc::downgrade(&sh),
                halted: sh.halted.clone(),
                int_handles: sh.int_handles.clone(),
            })?));
        }
        *sh.wqs.lock().unwrap_or_else(|e| e.into_inner()) = wqs;
        Ok(Device { sh })
    }

    /// The device's capabilities.
    pub fn caps(&self) -> &Capabilities {
        &self.sh.caps
    }

    /// The configuration it runs.
    pub fn config(&self) -> &DeviceConfig {
        &self.sh.config
    }

    /// The backing.
    pub fn backing(&self) -> &Arc<dyn DeviceBacking> {
        &self.sh.backing
    }

    /// Every enabled WQ, in configuration order.
    pub fn wqs(&self) -> Vec<Arc<Wq>> {
        self.sh.wqs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// WQ `id`, if configured.
    pub fn wq(&self, id: u16) -> Option<Arc<Wq>> {
        self.wqs().into_iter().find(|w| w.id() == id)
    }

    /// Reads GENSTS.
    pub fn state(&self) -> Result<GenSts, DriverError> {
        Ok(GenSts::decode(
            regs(self.sh.backing.as_ref())?.read32(off::GENSTS),
        ))
    }

    /// Checks for software errors and halts now (waits also do this, every millisecond).
    /// After a halt with automatic recovery this returns Ok once the device is back; every
    /// request that was in flight has completed as abandoned.
    pub fn check_health(&self) -> Result<(), DriverError> {
        self.sh.check_health()
    }

    /// What the driver has seen: SWERR entries, halts, recoveries.
    pub fn health(&self) -> Health {
        self.sh.health.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Orderly teardown: drain and reset every WQ, then disable the device.
    pub fn teardown(self) -> Result<(), DriverError> {
        self.sh.teardown()
    }
}

impl DeviceShared {
    fn r(&self) -> Result<&dyn RegisterAccess, DriverError> {
        regs(self.backing.as_ref())
    }

    fn wqcfg_for(&self, w: &crate::config::WqConfig) -> WqCfg {
        let c = &self.caps;
        WqCfg {
            size: w.size,
            threshold: w.threshold,
            mode: WqMode::from(w.mode),
            block_on_fault: w.block_on_fault,
            priority: w.priority,
            pasid_en: w.mode == Mode::Shared,
            max_xfer_shift: w.max_transfer_shift.unwrap_or(c.gencap.max_xfer_shift),
            max_batch_shift: w.max_batch_shift.unwrap_or(c.gencap.max_batch_shift),
            op_config: std::array::from_fn(|i| (c.opcap.0[i / 2] >> (32 * (i % 2))) as u32),
            ..Default::default()
        }
    }

    /// Reset, program the tables, enable device and WQs.
    fn configure_and_enable(&self) -> Result<(), DriverError> {
        let r = self.r()?;
        let b = &self.backing;
        let cmd = b.pci_read16(PCI_COMMAND)?;
        b.pci_write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)?;
        let st = GenSts::decode(r.read32(off::GENSTS));
        if st.state == DeviceState::Halted && st.reset_type != ResetType::Software {
            if st.reset_type != ResetType::Flr {
                return Err(DriverError::Halted { reset: st.reset_type });
            }
            b.function_reset()?;
            let cmd = b.pci_read16(PCI_COMMAND)?;
            b.pci_write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)?;
        }
        run_command(r, Cmd::new(Command::ResetDevice))?;
        let st = GenSts::decode(r.read32(off::GENSTS));
        if st.state != DeviceState::Disabled || CmdSts::decode(r.read32(off::CMDSTS)).active {
            return Err(DriverError::UnexpectedState {
                what: "GENSTS".into(),
                state: format!("{st:?}"),
                after: "Reset Device",
            });
        }
        // Acknowledge anything left over from before.
        let q0 = r.read64(off::SWERR);
        r.write64(off::SWERR, SwErr::ack_value(q0));
        r.write32(off::INTCAUSE, r.read32(off::INTCAUSE));
        let c = &self.caps;
        let (tc_a, tc_b) = default_traffic_classes(r.read32(off::VERSION));
        for g in 0..c.num_groups() {
            let mut e = GrpCfg {
                tc_a,
                tc_b,
                rdbufs_allowed: c.total_read_buffers(),
                ..Default::default()
            };
            if let Some(gc) = self.config.groups.iter().find(|x| x.id == g) {
                gc.engines.iter().for_each(|&x| e.add_engine(x));
                e.rdbufs_reserved = gc.read_buffers_reserved;
                e.rdbufs_allowed = gc.read_buffers_allowed.unwrap_or(c.total_read_buffers());
                e.use_rdbuf_limit = gc.use_read_buffer_limit;
            }
            for w in self.config.wqs.iter().filter(|w| w.group == g) {
                e.add_wq(w.id);
            }
            let base = c.grpcfg_offset(g);
            for (i, q) in e.encode().iter().enumerate() {
                r.write64(base + 8 * i as u64, *q);
            }
        }
        let dwords = (c.wqcfg_entry_size() / 4) as usize;
        for w in &self.config.wqs {
            // Read-modify-write: keep what this driver does not set.
            let base = c.wqcfg_offset(w.id);
            let cur: Vec<u32> = (0..dwords).map(|i| r.read32(base + 4 * i as u64)).collect();
            let mut want = self.wqcfg_for(w);
            let old = WqCfg::decode(&cur);
            (
                want.ats_disable,
                want.prs_disable,
                want.occ_int_handle,
                want.occ_limit,
            ) = (
                old.ats_disable,
                old.prs_disable,
                old.occ_int_handle,
                old.occ_limit,
            );
            for (i, d) in want.encode().iter().enumerate().take(dwords) {
                if i < 8 && WqCfg::WRITABLE[i] == 0 {
                    continue;
                }
                if i >= 8 && !c.wqcap.op_config {
                    continue;
                }
                r.write32(base + 4 * i as u64, *d);
            }
        }
        run_command(r, Cmd::new(Command::EnableDevice)).map_err(|e| with_field(e, None))?;
        self.request_int_handles(r)?;
        for w in &self.config.wqs {
            run_command(r, Cmd::wq(Command::EnableWq, w.id)).map_err(|e| with_field(e, Some(w.id)))?;
            let s = WqCfg::decode(&[0, 0, 0, 0, 0, 0, r.read32(c.wqcfg_offset(w.id) + 24), 0]).state;
            if s != WqState::Enabled {
                return Err(DriverError::UnexpectedState {
                    what: format!("wq {}", w.id),
                    state: format!("{s:?}"),
                    after: "Enable WQ",
                });
            }
        }
        r.write32(
            off::GENCTRL,
            GenCtrl {
                softerr_int_en: true,
                halt_int_en: true,
            }
            .encode(),
        );
        Ok(())
    }

    /// Requests a handle for every MSI-X vector from 1 up (command 13, operand = vector, handle
    /// in CMDSTS bits 23:8), as the kernel does for its WQ vectors, until the device answers
    /// "invalid interrupt index" (0x41: no such vector) or "no handle available" (0x42).
    /// Handles held from before (a recovery) are released first; a reset may already have
    /// dropped them, so failures to release are ignored.
    fn request_int_handles(&self, r: &dyn RegisterAccess) -> Result<(), DriverError> {
        let Some(h) = &self.int_handles else {
            return Ok(());
        };
        self.release_int_handles(r);
        let mut map = vec![None];
        for v in 1..MAX_MSIX_VECTORS {
            let cmd = Cmd {
                command: Command::RequestIntHandle,
                operand: v,
                request_int: false,
            };
            match run_command(r, cmd) {
                Ok(handle) => map.push(Some(handle)),
                Err(DriverError::Command {
                    code: CmdError::InvalidIntIndex | CmdError::NoIntHandle,
                    ..
                }) => break,
                Err(e) => return Err(e),
            }
        }
        *h.map.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }

    /// Releases every handle held (command 14, operand = the handle), as the kernel does when
    /// it frees a WQ's interrupt; errors are ignored (the handle may be gone after a reset).
    fn release_int_handles(&self, r: &dyn RegisterAccess) {
        let Some(h) = &self.int_handles else { return };
        let held = std::mem::take(&mut *h.map.write().unwrap_or_else(|e| e.into_inner()));
        for handle in held.into_iter().flatten() {
            let cmd = Cmd {
                command: Command::ReleaseIntHandle,
                operand: handle as u32,
                request_int: false,
            };
            if let Err(e) = run_command(r, cmd) {
                tracing::debug!(
                    "{}: release of interrupt handle {handle}: {e}",
                    self.backing.describe()
                );
            }
        }
    }

    /// Drain WQ `id`: returns when the device has finished every descriptor submitted to it.
    pub(crate) fn drain_wq(&self, id: u16) -> Result<(), DriverError> {
        run_command(self.r()?, Cmd::wq(Command::DrainWq, id)).map(|_| ())
    }

    pub(crate) fn check_health(&self) -> Result<(), DriverError> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let r = self.r()?;
        let cause = r.read32(off::INTCAUSE);
        if cause != 0 {
            r.write32(off::INTCAUSE, cause);
        }
        let q0 = r.read64(off::SWERR);
        if q0 & 1 != 0 {
            let q: [u64; 4] = [
                q0,
                r.read64(off::SWERR + 8),
                r.read64(off::SWERR + 16),
                r.read64(off::SWERR + 24),
            ];
            r.write64(off::SWERR, SwErr::ack_value(q0));
            let e = SwErr::decode(q);
            tracing::warn!("{}: software error {e:?}", self.backing.describe());
            let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
            if h.swerrs.len() == 64 {
                h.swerrs.remove(0);
            }
            h.swerrs.push(e);
        }
        let st = GenSts::decode(r.read32(off::GENSTS));
        if st.state != DeviceState::Halted && cause & IntCause::HALT.bits() == 0 {
            return Ok(());
        }
        if st.state != DeviceState::Halted {
            return Ok(());
        }
        self.handle_halt(st.reset_type)
    }

    fn handle_halt(&self, reset: ResetType) -> Result<(), DriverError> {
        let _g = self.recovering.lock().unwrap_or_else(|e| e.into_inner());
        // Another waiter may have recovered the device already.
        let r = self.r()?;
        let st = GenSts::decode(r.read32(off::GENSTS));
        if st.state != DeviceState::Halted {
            return Ok(());
        }
        let first = !self.halted.swap(true, Ordering::AcqRel);
        if first {
            self.health.lock().unwrap_or_else(|e| e.into_inner()).halts += 1;
        }
        let wqs = self.wqs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !self.opts.auto_recover || !matches!(reset, ResetType::Software | ResetType::Flr) {
            // No reset: every request in flight ends, but the device may not be done with its
            // memory, so the buffers stay held until a later reset (docs/design.md, "Buffer
            // ownership").
            for w in &wqs {
                w.abandon_all(false);
            }
            return Err(DriverError::Halted { reset });
        }
        tracing::warn!(
            "{}: device halted ({reset:?} reset); recovering",
            self.backing.describe()
        );
        // The reset first: once Reset Device completed no descriptor of before writes memory,
        // and the requests' buffers can go back. New submissions wait for the halted flag to
        // clear, after the abandoned requests are out of their slots.
        let res = self.configure_and_enable();
        for w in &wqs {
            w.abandon_all(res.is_ok());
        }
        res?;
        self.halted.store(false, Ordering::Release);
        self.health.lock().unwrap_or_else(|e| e.into_inner()).recoveries += 1;
        Ok(())
    }

    fn teardown(&self) -> Result<(), DriverError> {
        let r = self.r()?;
        if GenSts::decode(r.read32(off::GENSTS)).state != DeviceState::Enabled {
            return Ok(());
        }
        for w in &self.config.wqs {
            run_command(r, Cmd::wq(Command::DrainWq, w.id))?;
            run_command(r, Cmd::wq(Command::ResetWq, w.id))?;
        }
        run_command(r, Cmd::new(Command::DisableDevice))?;
        self.release_int_handles(r);
        Ok(())
    }
}

#[cfg(all(test, feature = "emu"))]
mod tests {
    use super::*;
    use crate::backing::emu::EmuBacking;
    use idxd_emu::device::EmuConfig;

    #[test]
    fn grpcfg_traffic_classes_follow_the_kernel_defaults() {
        // init.c idxd_setup_groups: VERSION <= 0x200 gives TC-A = TC-B = 1; later versions
        // leave them unset and device.c idxd_group_flags_setup then writes TC-A 0, TC-B 1.
        for (name, want) in [
            ("dsa-spr", (1, 1)),
            ("iaa-spr", (1, 1)),
            ("dsa-gnr", (1, 1)),
            ("iaa-gnr", (1, 1)),
            ("dsa-dmr", (0, 1)),
        ] {
            let b = Arc::new(EmuBacking::from_profile(name, EmuConfig::default()).unwrap());
            let caps = b.device().profile().caps;
            let dev = Device::bring_up(
                b.clone(),
                &DeviceConfig::dedicated(&caps, 1),
                BringUpOptions::default(),
            )
            .unwrap();
            for g in 0..caps.num_groups() {
                let base = caps.grpcfg_offset(g);
                let q: [u64; 8] = std::array::from_fn(|i| b.device().read64(base + 8 * i as u64));
                let e = GrpCfg::decode(&q);
                assert_eq!((e.tc_a, e.tc_b), want, "{name} group {g}");
            }
            dev.teardown().unwrap();
        }
    }

    #[test]
    fn interrupt_handles_are_requested_at_bring_up_and_released_at_teardown() {
        // CMDCAP bit 13: one handle per MSI-X vector from 1 (command 13), released with
        // command 14 when the device is torn down.
        let b = Arc::new(EmuBacking::from_profile("dsa-gnr", EmuConfig::default()).unwrap());
        let caps = b.device().profile().caps;
        let dev = Device::bring_up(
            b.clone(),
            &DeviceConfig::dedicated(&caps, 1),
            BringUpOptions::default(),
        )
        .unwrap();
        let h = dev.sh.int_handles.clone().expect("dsa-gnr needs handles");
        let vectors = b.device().msix_vectors();
        for v in 1..vectors {
            assert!(h.translate(v).is_ok(), "vector {v}");
        }
        assert!(h.translate(0).is_err() && h.translate(vectors).is_err());
        dev.teardown().unwrap();
        assert!(h.translate(1).is_err(), "released");
        // The device agrees: every vector's handle can be requested again.
        let r = b.registers().unwrap();
        assert_eq!(
            run_command(
                r,
                Cmd {
                    command: Command::RequestIntHandle,
                    operand: 1,
                    request_int: false
                }
            )
            .unwrap(),
            1
        );
        let spr = Arc::new(EmuBacking::from_profile("dsa-spr", EmuConfig::default()).unwrap());
        let caps = spr.device().profile().caps;
        let dev =
            Device::bring_up(spr, &DeviceConfig::dedicated(&caps, 1), BringUpOptions::default()).unwrap();
        assert!(
            dev.sh.int_handles.is_none(),
            "no CMDCAP, vectors go in descriptors"
        );
    }
}
