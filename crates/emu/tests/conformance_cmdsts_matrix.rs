//! Every CMDSTS error code, on every profile, through BAR0 registers and PCI config only.
//!
//! For each profile and each code of `CmdError::ALL` (an exhaustive match: a new code does not
//! compile until it has a scenario) the test issues commands through CMD/CMDSTS that must end
//! with exactly that code, or states why the code cannot occur on that profile and checks what
//! can be checked of the reason. Codes a part cannot produce because it supports a feature
//! (shared mode, block on fault, a wider transfer) are reached on the same part with that
//! capability bit cleared in its registers (GENCAP bit 0, WQCAP bit 48) and checked to be
//! accepted on the real part.

mod common;

use common::{Drv, WqSpec, PROFILES};
use idxd_emu::device::{EmuConfig, EmuDevice, ExecMode};
use idxd_hw::regs::{Cmd, CmdError, Command};
use idxd_hw::tables::{GrpCfg, WqCfg, WqMode};
use idxd_hw::{Capabilities, Profile};

fn cfg(pasid: bool) -> EmuConfig {
    EmuConfig {
        mode: ExecMode::Inline,
        pasid_enabled: pasid,
        ..Default::default()
    }
}

/// The profile with `edit` applied to its capability registers.
fn variant(name: &str, edit: impl FnOnce(&mut idxd_hw::CapRegisters), pasid: bool) -> Drv {
    let mut p = Profile::builtin(name).unwrap();
    edit(&mut p.registers);
    p.caps = Capabilities::decode(p.kind, &p.registers).unwrap();
    Drv {
        caps: p.caps,
        dev: EmuDevice::new(p, cfg(pasid)),
    }
}

fn grp(engines: &[u8], wqs: &[u16]) -> GrpCfg {
    let mut g = GrpCfg {
        tc_a: 1,
        tc_b: 1,
        ..Default::default()
    };
    engines.iter().for_each(|&e| g.add_engine(e));
    wqs.iter().for_each(|&w| g.add_wq(w));
    g
}

/// An enabled device with WQ 0 configured (not enabled) in group 0.
fn enabled(d: &Drv) {
    d.pci_enable();
    d.configure(&[WqSpec::dedicated(0, 8)]);
    assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0);
}

/// Writes `c` into WQ 0 of an enabled device and enables it.
fn try_wq(d: &Drv, c: WqCfg) -> u8 {
    d.write_wqcfg(0, &c);
    d.cmd_err(Command::EnableWq, 0)
}

fn case(name: &str, e: CmdError) -> Result<(), &'static str> {
    let code = e.code();
    let d = Drv::inline(name);
    let good = d.wq_cfg(&WqSpec::dedicated(0, 8));
    let got = match e {
        CmdError::Success => {
            enabled(&d);
            try_wq(&d, good)
        }
        CmdError::InvalidCommand => {
            d.pci_enable();
            assert_eq!(d.cmd_err_raw(15 << 20), code, "{name}: command 15");
            d.cmd_err_raw(0)
        }
        CmdError::InvalidWqIndex => {
            enabled(&d);
            d.cmd_err(Command::EnableWq, 200)
        }
        CmdError::HardwareError => return Err("commands never fail with a hardware error in the emulator"),
        CmdError::DevAlreadyEnabled => {
            enabled(&d);
            d.cmd_err(Command::EnableDevice, 0)
        }
        CmdError::DevConfigError => {
            // A WQ in no group.
            enabled(&d);
            d.write_wqcfg(2, &d.wq_cfg(&WqSpec::dedicated(2, 4)));
            d.cmd_err(Command::EnableWq, 2)
        }
        CmdError::BusMasterDisabled => {
            d.configure(&[WqSpec::dedicated(0, 8)]);
            d.cmd_err(Command::EnableDevice, 0)
        }
        CmdError::InvalidPasid => {
            return Err("drain/abort PASID take any 20-bit PASID; no command checks one against a table")
        }
        CmdError::WqSizeSumTooLarge => {
            d.pci_enable();
            d.configure(&[WqSpec::dedicated(0, 8)]);
            let mut c = d.wq_cfg(&WqSpec::dedicated(0, d.caps.total_wq_size()));
            d.write_wqcfg(0, &c);
            c.size = 1;
            d.write_wqcfg(1, &c);
            d.cmd_err(Command::EnableDevice, 0)
        }
        CmdError::GroupConfig1 | CmdError::GroupConfig2 | CmdError::GroupConfig3 | CmdError::GroupConfig4 => {
            d.pci_enable();
            d.configure(&[WqSpec::dedicated(0, 8)]);
            match e {
                // A group with a WQ and no engine.
                CmdError::GroupConfig1 => d.write_grpcfg(0, &grp(&[], &[0])),
                // An engine in two groups.
                CmdError::GroupConfig2 => d.write_grpcfg(1, &grp(&[0], &[])),
                // A WQ in two groups.
                CmdError::GroupConfig3 => {
                    d.write_grpcfg(0, &grp(&[0], &[0]));
                    d.write_grpcfg(1, &grp(&[1], &[0]));
                }
                _ => {
                    if d.caps.total_read_buffers() == 0 {
                        return Err("the part has no read buffers to over-reserve");
                    }
                    let mut g1 = grp(&[1], &[]);
                    g1.rdbufs_reserved = d.caps.total_read_buffers();
                    let mut g0 = grp(&[0], &[0]);
                    g0.rdbufs_reserved = 1;
                    d.write_grpcfg(0, &g0);
                    d.write_grpcfg(1, &g1);
                }
            }
            d.cmd_err(Command::EnableDevice, 0)
        }
        CmdError::DevNotEnabled => {
            d.pci_enable();
            d.configure(&[WqSpec::dedicated(0, 8)]);
            d.cmd_err(Command::EnableWq, 0)
        }
        CmdError::WqAlreadyEnabled => {
            enabled(&d);
            assert_eq!(try_wq(&d, good), 0);
            d.cmd_err(Command::EnableWq, 0)
        }
        CmdError::WqSize => {
            enabled(&d);
            try_wq(&d, WqCfg { size: 0, ..good })
        }
        CmdError::WqPriority => {
            enabled(&d);
            try_wq(&d, WqCfg { priority: 0, ..good })
        }
        CmdError::WqMode => {
            let shared = WqCfg {
                mode: WqMode::Shared,
                pasid_en: true,
                ..good
            };
            // The real part, with PASID: shared mode is accepted where WQCAP bit 48 says so.
            let real = variant(name, |_| {}, true);
            enabled(&real);
            let expect_real = if real.caps.wqcap.shared_mode { 0 } else { code };
            assert_eq!(
                try_wq(&real, shared),
                expect_real,
                "{name}: shared WQ on the real part"
            );
            // WQCAP bit 48 cleared.
            let v = variant(name, |r| r.wqcap &= !(1 << 48), true);
            assert!(!v.caps.wqcap.shared_mode);
            enabled(&v);
            try_wq(&v, shared)
        }
        CmdError::WqBlockOnFault => {
            let bof = WqCfg {
                block_on_fault: true,
                ..good
            };
            let real = variant(name, |_| {}, false);
            enabled(&real);
            let expect_real = if real.caps.gencap.block_on_fault { 0 } else { code };
            assert_eq!(
                try_wq(&real, bof),
                expect_real,
                "{name}: block on fault on the real part"
            );
            // GENCAP bit 0 cleared.
            let v = variant(name, |r| r.gencap &= !1, false);
            assert!(!v.caps.gencap.block_on_fault);
            enabled(&v);
            try_wq(&v, bof)
        }
        CmdError::WqPasidEnable => {
            // PASID enable without the PCI PASID capability (vfio-style device).
            enabled(&d);
            try_wq(
                &d,
                WqCfg {
                    pasid_en: true,
                    ..good
                },
            )
        }
        CmdError::WqMaxBatch => {
            enabled(&d);
            try_wq(
                &d,
                WqCfg {
                    max_batch_shift: d.caps.gencap.max_batch_shift + 1,
                    ..good
                },
            )
        }
        CmdError::WqMaxTransfer => {
            enabled(&d);
            if d.caps.gencap.max_xfer_shift < 31 {
                try_wq(
                    &d,
                    WqCfg {
                        max_xfer_shift: d.caps.gencap.max_xfer_shift + 1,
                        ..good
                    },
                )
            } else {
                // The largest shift the field holds is accepted; a part with a smaller limit
                // (GENCAP bits 20:16 lowered to 20) refuses 21.
                assert_eq!(
                    try_wq(
                        &d,
                        WqCfg {
                            max_xfer_shift: 31,
                            ..good
                        }
                    ),
                    0,
                    "{name}"
                );
                let v = variant(
                    name,
                    |r| r.gencap = (r.gencap & !(0x1f << 16)) | (20 << 16),
                    false,
                );
                assert_eq!(v.caps.gencap.max_xfer_shift, 20);
                enabled(&v);
                let g = v.wq_cfg(&WqSpec::dedicated(0, 8));
                try_wq(
                    &v,
                    WqCfg {
                        max_xfer_shift: 21,
                        ..g
                    },
                )
            }
        }
        CmdError::DisDevNotEnabled => {
            d.pci_enable();
            d.cmd_err(Command::DisableDevice, 0)
        }
        CmdError::WqNotEnabled => {
            enabled(&d);
            d.cmd(Cmd::wq(Command::DrainWq, 0)).error
        }
        CmdError::InvalidIntIndex | CmdError::NoIntHandle => {
            d.pci_enable();
            if !d
                .caps
                .cmdcap
                .is_some_and(|c| c.supports(Command::RequestIntHandle))
            {
                assert_eq!(
                    d.cmd_err(Command::RequestIntHandle, 1),
                    CmdError::InvalidCommand.code(),
                    "{name}"
                );
                return Err("no CMDCAP bit 13: command 13 is an invalid command here (checked)");
            }
            if e == CmdError::InvalidIntIndex {
                d.cmd_err(Command::RequestIntHandle, 500)
            } else {
                assert_eq!(d.cmd_err(Command::RequestIntHandle, 2), 0);
                d.cmd_err(Command::RequestIntHandle, 2)
            }
        }
    };
    assert_eq!(got, code, "{name}: CMDSTS {e}");
    Ok(())
}

#[test]
fn every_cmdsts_code_on_every_profile() {
    let mut report = Vec::new();
    for name in PROFILES {
        for &e in CmdError::ALL {
            if let Err(why) = case(name, e) {
                report.push(format!("{name} {:#04x}: impossible: {why}", e.code()));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}
