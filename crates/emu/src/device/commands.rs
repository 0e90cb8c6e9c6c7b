//! The command state machine: CMD writes, CMDSTS results, and the configuration checks the
//! hardware makes on enable device and enable WQ.

use idxd_hw::pci::PCI_COMMAND_MASTER;
use idxd_hw::regs::{wqs_of_mask_operand, Cmd, CmdError, CmdSts, Command, DeviceState, GenSts, IntCause};
use idxd_hw::tables::{GrpCfg, WqCfg, WqMode};

use super::{EmuDevice, State};

impl EmuDevice {
    /// Executes a CMD write. Commands run to completion before this returns (drains wait for
    /// the engines), so CMDSTS.active is never observed set by the writer itself; a second
    /// thread reading CMDSTS meanwhile sees it set.
    pub(super) fn command(&self, raw: u32) {
        let mut st = self.sh.lock();
        st.cmdsts = CmdSts {
            error: 0,
            result: 0,
            active: true,
        }
        .encode();
        let (err, result) = match Cmd::decode(raw) {
            Err(_) => (CmdError::InvalidCommand, 0),
            Ok(cmd) => {
                let (e, r, guard) = self.run_command(st, cmd);
                st = guard;
                (e, r)
            }
        };
        st.cmdsts = CmdSts {
            error: err.code(),
            result,
            active: false,
        }
        .encode();
        if raw >> 31 != 0 {
            st.intcause |= IntCause::COMMAND_DONE.bits();
            drop(st);
            self.sh.irqs[0].signal();
        }
    }

    fn run_command<'a>(
        &'a self,
        mut st: std::sync::MutexGuard<'a, State>,
        cmd: Cmd,
    ) -> (CmdError, u16, std::sync::MutexGuard<'a, State>) {
        use CmdError as E;
        let caps = &self.sh.caps;
        if st.gensts.state == DeviceState::Halted && cmd.command != Command::ResetDevice {
            // A halted device accepts only a reset (or an FLR through PCI).
            return (E::InvalidCommand, 0, st);
        }
        if let Some(cap) = caps.cmdcap {
            if !cap.supports(cmd.command) {
                return (E::InvalidCommand, 0, st);
            }
        } else if matches!(cmd.command, Command::RequestIntHandle | Command::ReleaseIntHandle) {
            return (E::InvalidCommand, 0, st);
        }
        let num_wqs = caps.num_wqs();
        let mask_wqs = |operand: u32| -> Result<Vec<usize>, CmdError> {
            let v: Vec<u16> = wqs_of_mask_operand(operand).collect();
            if v.is_empty() || v.iter().any(|&w| w >= num_wqs) {
                return Err(E::InvalidWqIndex);
            }
            Ok(v.into_iter().map(usize::from).collect())
        };
        match cmd.command {
            Command::EnableDevice => {
                if st.gensts.state == DeviceState::Enabled {
                    return (E::DevAlreadyEnabled, 0, st);
                }
                if st.pci_command & PCI_COMMAND_MASTER == 0 {
                    return (E::BusMasterDisabled, 0, st);
                }
                if let Err(e) = self.check_device_config(&mut st) {
                    return (e, 0, st);
                }
                st.gensts = GenSts {
                    state: DeviceState::Enabled,
                    ..Default::default()
                };
                drop(st);
                self.sh.work_cv.notify_all();
                (E::Success, 0, self.sh.lock())
            }
            Command::DisableDevice => {
                if st.gensts.state != DeviceState::Enabled {
                    return (E::DisDevNotEnabled, 0, st);
                }
                st.gensts.state = DeviceState::Draining;
                let all: Vec<usize> = (0..num_wqs as usize).collect();
                st = self.wait_idle(st, &all);
                for w in st.wqs.iter_mut() {
                    w.enabled = false;
                }
                st.gensts = GenSts::default();
                (E::Success, 0, st)
            }
            Command::DrainAll | Command::DrainPasid => {
                let all: Vec<usize> = (0..num_wqs as usize).collect();
                (E::Success, 0, self.wait_idle(st, &all))
            }
            Command::AbortAll | Command::AbortPasid => {
                let all: Vec<usize> = (0..num_wqs as usize).collect();
                (E::Success, 0, self.abort(st, &all))
            }
            Command::ResetDevice => {
                let all: Vec<usize> = (0..num_wqs as usize).collect();
                st = self.abort(st, &all);
                let pci = st.pci_command;
                *st = super::State::power_on(&self.sh.profile);
                st.pci_command = pci;
                self.sh.new_generation(&mut st, all);
                (E::Success, 0, st)
            }
            Command::EnableWq => {
                let wq = cmd.operand as usize;
                if wq >= num_wqs as usize {
                    return (E::InvalidWqIndex, 0, st);
                }
                if st.gensts.state != DeviceState::Enabled {
                    return (E::DevNotEnabled, 0, st);
                }
                if st.wqs[wq].enabled {
                    return (E::WqAlreadyEnabled, 0, st);
                }
                let cfg = WqCfg::decode(&st.wqcfg[wq]);
                if let Err(e) = self.check_wq_config(&cfg) {
                    return (e, 0, st);
                }
                let group = st.grpcfg.iter().position(|g| GrpCfg::decode(g).has_wq(wq as u16));
                let Some(group) = group else {
                    return (E::DevConfigError, 0, st);
                };
                let run = &mut st.wqs[wq];
                run.enabled = true;
                run.cfg = cfg;
                run.group = Some(group as u8);
                (E::Success, 0, st)
            }
            Command::DisableWq | Command::DrainWq | Command::AbortWq | Command::ResetWq => {
                let wqs = match mask_wqs(cmd.operand) {
                    Ok(v) => v,
                    Err(e) => return (e, 0, st),
                };
                if wqs.iter().any(|&w| !st.wqs[w].enabled) {
                    return (E::WqNotEnabled, 0, st);
                }
                st = match cmd.command {
                    Command::AbortWq | Command::ResetWq => self.abort(st, &wqs),
                    _ => self.wait_idle(st, &wqs),
                };
                if matches!(cmd.command, Command::DisableWq | Command::ResetWq) {
                    for &w in &wqs {
                        st.wqs[w].enabled = false;
                        if cmd.command == Command::ResetWq {
                            st.wqcfg[w] = super::default_wqcfg(caps);
                        }
                    }
                }
                (E::Success, 0, st)
            }
            Command::RequestIntHandle => {
                let idx = cmd.operand as usize;
                if idx & 0x1_0000 != 0 || idx >= st.int_handles.len() {
                    return (E::InvalidIntIndex, 0, st);
                }
                if st.int_handles[idx] {
                    return (E::NoIntHandle, 0, st);
                }
                st.int_handles[idx] = true;
                (E::Success, idx as u16, st)
            }
            Command::ReleaseIntHandle => {
                let idx = cmd.operand as usize;
                if idx >= st.int_handles.len() || !st.int_handles[idx] {
                    return (E::InvalidIntIndex, 0, st);
                }
                st.int_handles[idx] = false;
                (E::Success, 0, st)
            }
        }
    }

    /// The checks of enable device, in the order the error codes are reported.
    fn check_device_config(&self, st: &mut State) -> Result<(), CmdError> {
        use CmdError as E;
        let caps = &self.sh.caps;
        let groups: Vec<GrpCfg> = st.grpcfg.iter().map(GrpCfg::decode).collect();
        let total: u32 = st.wqcfg.iter().map(|d| WqCfg::decode(d).size as u32).sum();
        if total > caps.total_wq_size() as u32 {
            return Err(E::WqSizeSumTooLarge);
        }
        let num_wqs = caps.num_wqs();
        for (i, g) in groups.iter().enumerate() {
            let has_wq = (0..num_wqs).any(|w| g.has_wq(w));
            if has_wq && g.engines & engine_mask(caps.num_engines) == 0 {
                return Err(E::GroupConfig1);
            }
            for other in &groups[i + 1..] {
                if g.engines & other.engines & engine_mask(caps.num_engines) != 0 {
                    return Err(E::GroupConfig2);
                }
                if (0..num_wqs).any(|w| g.has_wq(w) && other.has_wq(w)) {
                    return Err(E::GroupConfig3);
                }
            }
        }
        let rd_total = caps.total_read_buffers() as u32;
        let reserved: u32 = groups.iter().map(|g| g.rdbufs_reserved as u32).sum();
        if rd_total > 0 && (reserved > rd_total || groups.iter().any(|g| g.rdbufs_allowed as u32 > rd_total))
        {
            return Err(E::GroupConfig4);
        }
        for (e, slot) in st.engine_group.iter_mut().enumerate() {
            *slot = groups.iter().position(|g| g.has_engine(e as u8)).map(|g| g as u8);
        }
        Ok(())
    }

    /// The checks of enable WQ.
    fn check_wq_config(&self, c: &WqCfg) -> Result<(), CmdError> {
        use CmdError as E;
        let caps = &self.sh.caps;
        if c.size == 0 {
            return Err(E::WqSize);
        }
        if c.priority == 0 {
            return Err(E::WqPriority);
        }
        let mode_ok = match c.mode {
            WqMode::Dedicated => caps.wqcap.dedicated_mode,
            WqMode::Shared => caps.wqcap.shared_mode,
        };
        if !mode_ok {
            return Err(E::WqMode);
        }
        if c.block_on_fault && !caps.gencap.block_on_fault {
            return Err(E::WqBlockOnFault);
        }
        if (c.pasid_en && !self.sh.cfg.pasid_enabled) || (c.mode == WqMode::Shared && !c.pasid_en) {
            // Shared WQs take the PASID from ENQCMD and need PASID enabled; PASID needs the
            // PCI PASID capability, which a vfio-pci driver does not have.
            return Err(E::WqPasidEnable);
        }
        if c.max_batch_shift > caps.gencap.max_batch_shift {
            return Err(E::WqMaxBatch);
        }
        if c.max_xfer_shift > caps.gencap.max_xfer_shift {
            return Err(E::WqMaxTransfer);
        }
        Ok(())
    }

    /// Waits until the given WQs have nothing queued (unless the device halted: a halt drops
    /// the queues) and nothing running. Running descriptors are always waited for, halted or
    /// not: after a drain, abort or reset completes, no descriptor writes memory (a slow one of
    /// an aborted generation notices and drops itself, see `sched.rs`).
    fn wait_idle<'a>(
        &'a self,
        mut st: std::sync::MutexGuard<'a, State>,
        wqs: &[usize],
    ) -> std::sync::MutexGuard<'a, State> {
        let busy = |st: &State| {
            wqs.iter().any(|&w| {
                st.wqs[w].in_flight > 0
                    || (!st.wqs[w].queue.is_empty() && st.gensts.state != DeviceState::Halted)
            })
        };
        while busy(&st) && !st.stop {
            st = self.sh.idle_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st
    }

    /// Drops what is queued on the given WQs (no records written) and waits for what is
    /// running to finish; results of running descriptors are abandoned.
    fn abort<'a>(
        &'a self,
        mut st: std::sync::MutexGuard<'a, State>,
        wqs: &[usize],
    ) -> std::sync::MutexGuard<'a, State> {
        for &w in wqs {
            st.wqs[w].queue.clear();
        }
        self.sh.new_generation(&mut st, wqs.iter().copied());
        self.wait_idle(st, wqs)
    }
}

fn engine_mask(n: u8) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}
