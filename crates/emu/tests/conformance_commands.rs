//! Conformance of the register file and the command state machine, for every profile, driven
//! only through BAR0, PCI config and portal writes.

mod common;

use std::time::Duration;

use common::{Drv, WqSpec, PROFILES};
use idxd_emu::device::{EmuConfig, EmuDevice, ExecMode, PortalResult, SubmitKind};
use idxd_hw::regs::{off, Cmd, Command, DeviceState, GenCtrl, IntCause, SwErr};
use idxd_hw::tables::{GrpCfg, WqMode, WqState};
use idxd_hw::Profile;

fn inline() -> EmuConfig {
    EmuConfig {
        mode: ExecMode::Inline,
        ..Default::default()
    }
}

#[test]
fn capability_registers_read_back_the_profile() {
    for name in PROFILES {
        let d = Drv::inline(name);
        let p = Profile::builtin(name).unwrap();
        assert_eq!(d.dev.read32(off::VERSION), p.registers.version, "{name}");
        assert_eq!(d.dev.read64(off::GENCAP), p.registers.gencap);
        assert_eq!(d.dev.read64(off::WQCAP), p.registers.wqcap);
        assert_eq!(d.dev.read64(off::GRPCAP), p.registers.grpcap);
        assert_eq!(d.dev.read64(off::ENGCAP), p.registers.engcap);
        for i in 0..4 {
            assert_eq!(d.dev.read64(off::OPCAP + 8 * i), p.registers.opcap[i as usize]);
        }
        assert_eq!(d.dev.read64(off::OFFSETS), p.registers.offsets[0]);
        // read-only: writes are ignored
        d.dev.write64(off::GENCAP, 0);
        d.dev.write32(off::VERSION, 0);
        assert_eq!(d.dev.read64(off::GENCAP), p.registers.gencap);
        assert_eq!(d.dev.read32(off::VERSION), p.registers.version);
        // outside BAR0 reads all ones
        assert_eq!(d.dev.read32(p.bar0_size), u32::MAX);
        assert_eq!(d.dev.pci_read16(0), 0x8086);
        assert_eq!(d.dev.pci_read16(2), p.device);
    }
}

#[test]
fn bring_up_and_teardown_every_profile() {
    for name in PROFILES {
        let d = Drv::inline(name);
        d.bring_up(&[WqSpec::dedicated(0, 16), WqSpec::dedicated(3, 32)]);
        assert_eq!(d.gensts().state, DeviceState::Enabled, "{name}");
        assert_eq!(d.read_wqcfg(0).state, WqState::Enabled);
        assert_eq!(d.read_wqcfg(3).size, 32);
        assert_eq!(d.read_wqcfg(1).state, WqState::Disabled);
        // teardown: drain, reset WQs, disable device
        assert_eq!(d.cmd_err(Command::DrainWq, idxd_hw::regs::wq_mask_operand(0)), 0);
        assert_eq!(d.cmd(Cmd::wq(Command::ResetWq, 0)).error, 0);
        assert_eq!(d.read_wqcfg(0).state, WqState::Disabled);
        assert_eq!(d.read_wqcfg(0).size, 0, "reset WQ clears its configuration");
        let opcap = d.caps.opcap.0;
        if d.caps.wqcap.op_config {
            let oc = d.read_wqcfg(0).op_config;
            assert_eq!(
                oc[0] as u64 | (oc[1] as u64) << 32,
                opcap[0],
                "op config back to OPCAP"
            );
        }
        assert_eq!(d.cmd(Cmd::wq(Command::DisableWq, 3)).error, 0);
        assert_eq!(d.cmd_err(Command::DisableDevice, 0), 0);
        assert_eq!(d.gensts().state, DeviceState::Disabled);
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

#[test]
fn enable_device_errors() {
    for name in PROFILES {
        let d = Drv::inline(name);
        // Bus master not enabled.
        d.configure(&[WqSpec::dedicated(0, 8)]);
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x12, "{name}");
        d.pci_enable();
        // WQ sizes over the total.
        let total = d.caps.total_wq_size();
        let mut c = d.wq_cfg(&WqSpec::dedicated(0, total));
        d.write_wqcfg(0, &c);
        c.size = 1;
        d.write_wqcfg(1, &c);
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x14);
        c.size = 0;
        d.write_wqcfg(1, &c);
        // A group with a WQ and no engine.
        d.write_grpcfg(0, &grp(&[], &[0]));
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x15);
        // An engine in two groups.
        d.write_grpcfg(0, &grp(&[0], &[0]));
        d.write_grpcfg(1, &grp(&[0], &[]));
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x16);
        // A WQ in two groups.
        d.write_grpcfg(1, &grp(&[1], &[0]));
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x17);
        d.write_grpcfg(1, &grp(&[1], &[]));
        // Read buffers beyond the total (only where the part has read buffers).
        if d.caps.total_read_buffers() > 0 {
            let mut g = grp(&[0], &[0]);
            g.rdbufs_reserved = d.caps.total_read_buffers();
            d.write_grpcfg(0, &g);
            let mut g1 = grp(&[1], &[]);
            g1.rdbufs_reserved = 1;
            d.write_grpcfg(1, &g1);
            assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x18);
            d.write_grpcfg(1, &grp(&[1], &[]));
            d.write_grpcfg(0, &grp(&[0], &[0]));
        }
        // Enable WQ while the device is disabled.
        assert_eq!(d.cmd_err(Command::EnableWq, 0), 0x20);
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0);
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x10, "already enabled");
        // GRPCFG is locked while the device is enabled.
        let before = d.read_grpcfg(2);
        d.write_grpcfg(2, &grp(&[2], &[5]));
        assert_eq!(d.read_grpcfg(2), before);
        assert!(!before.has_wq(5));
        assert_eq!(d.cmd_err(Command::DisableDevice, 0), 0);
        assert_eq!(d.cmd_err(Command::DisableDevice, 0), 0x31);
    }
}

#[test]
fn enable_wq_errors() {
    for name in PROFILES {
        let d = Drv::inline(name);
        d.pci_enable();
        d.configure(&[WqSpec::dedicated(0, 8)]);
        d.write_grpcfg(0, &grp(&[0], &[0, 1]));
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0);
        let good = d.wq_cfg(&WqSpec::dedicated(1, 8));
        let try_cfg = |c: idxd_hw::WqCfg| {
            d.write_wqcfg(1, &c);
            d.cmd_err(Command::EnableWq, 1)
        };
        assert_eq!(try_cfg(idxd_hw::WqCfg { size: 0, ..good }), 0x22, "{name}");
        assert_eq!(try_cfg(idxd_hw::WqCfg { priority: 0, ..good }), 0x23);
        // Shared mode without PASID (vfio-style device: PCI PASID capability off).
        assert_eq!(
            try_cfg(idxd_hw::WqCfg {
                mode: WqMode::Shared,
                pasid_en: true,
                ..good
            }),
            0x26
        );
        assert_eq!(
            try_cfg(idxd_hw::WqCfg {
                mode: WqMode::Shared,
                pasid_en: false,
                ..good
            }),
            0x26
        );
        assert_eq!(
            try_cfg(idxd_hw::WqCfg {
                max_batch_shift: d.caps.gencap.max_batch_shift + 1,
                ..good
            }),
            0x27
        );
        if d.caps.gencap.max_xfer_shift < 31 {
            assert_eq!(
                try_cfg(idxd_hw::WqCfg {
                    max_xfer_shift: d.caps.gencap.max_xfer_shift + 1,
                    ..good
                }),
                0x28
            );
        } else {
            assert_eq!(
                try_cfg(idxd_hw::WqCfg {
                    max_xfer_shift: 31,
                    ..good
                }),
                0
            );
            assert_eq!(d.cmd(Cmd::wq(Command::DisableWq, 1)).error, 0);
        }
        // A WQ that belongs to no group.
        d.write_wqcfg(2, &d.wq_cfg(&WqSpec::dedicated(2, 4)));
        assert_eq!(d.cmd_err(Command::EnableWq, 2), 0x11);
        assert_eq!(try_cfg(good), 0);
        assert_eq!(d.cmd_err(Command::EnableWq, 1), 0x21, "already enabled");
        // WQCFG is locked while the WQ is enabled.
        d.write_wqcfg(1, &idxd_hw::WqCfg { size: 99, ..good });
        assert_eq!(d.read_wqcfg(1).size, 8);
        // Invalid WQ indices, in both operand forms.
        assert_eq!(d.cmd_err(Command::EnableWq, 200), 0x02);
        assert_eq!(d.cmd(Cmd::wq(Command::DisableWq, 200)).error, 0x02);
        assert_eq!(d.cmd_err(Command::DisableWq, 0), 0x02, "empty WQ mask");
        // WQ not enabled.
        assert_eq!(d.cmd(Cmd::wq(Command::DrainWq, 5)).error, 0x32);
        assert_eq!(d.cmd(Cmd::wq(Command::AbortWq, 5)).error, 0x32);
        assert_eq!(d.cmd(Cmd::wq(Command::ResetWq, 5)).error, 0x32);
        // Commands that do not exist.
        assert_eq!(d.cmd_err_raw(0), 0x01);
        assert_eq!(d.cmd_err_raw(15 << 20), 0x01);
    }
}

#[test]
fn mode_and_block_on_fault_refused_where_the_part_lacks_them() {
    let (_, text) = idxd_hw::profile::BUILTIN
        .iter()
        .find(|(n, _)| *n == "iaa-spr")
        .unwrap();
    // No shared mode (bit 48 clear), no block on fault (GENCAP bit 0 clear), max transfer 1 MiB.
    let text = text
        .replace("wqcap = 0x3f000000080080", "wqcap = 0x3e000000080080")
        .replace("gencap = 0x71f10901f0105", "gencap = 0x71f1090140104");
    let p = Profile::from_toml("test", &text).unwrap();
    let cfg = EmuConfig {
        mode: ExecMode::Inline,
        pasid_enabled: true,
        ..Default::default()
    };
    let d = Drv {
        caps: p.caps,
        dev: EmuDevice::new(p, cfg),
    };
    d.pci_enable();
    d.configure(&[WqSpec::dedicated(0, 8)]);
    assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0);
    let good = d.wq_cfg(&WqSpec::dedicated(0, 8));
    d.write_wqcfg(
        0,
        &idxd_hw::WqCfg {
            mode: WqMode::Shared,
            pasid_en: true,
            ..good
        },
    );
    assert_eq!(d.cmd_err(Command::EnableWq, 0), 0x24);
    d.write_wqcfg(
        0,
        &idxd_hw::WqCfg {
            block_on_fault: true,
            ..good
        },
    );
    assert_eq!(d.cmd_err(Command::EnableWq, 0), 0x25);
    assert_eq!(good.max_xfer_shift, 20);
    d.write_wqcfg(
        0,
        &idxd_hw::WqCfg {
            max_xfer_shift: 21,
            ..good
        },
    );
    assert_eq!(d.cmd_err(Command::EnableWq, 0), 0x28);
    d.write_wqcfg(0, &good);
    assert_eq!(d.cmd_err(Command::EnableWq, 0), 0);
}

#[test]
fn interrupt_handles() {
    for name in PROFILES {
        let d = Drv::inline(name);
        d.pci_enable();
        if d.caps.cmdcap.is_none() {
            assert_eq!(
                d.cmd_err(Command::RequestIntHandle, 1),
                0x01,
                "{name}: no CMDCAP, no command 13"
            );
            continue;
        }
        let s = d.cmd(Cmd {
            command: Command::RequestIntHandle,
            operand: 2,
            request_int: false,
        });
        assert_eq!((s.error, s.result), (0, 2));
        assert_eq!(d.cmd_err(Command::RequestIntHandle, 2), 0x42, "{name}");
        assert_eq!(d.cmd_err(Command::RequestIntHandle, 500), 0x41);
        assert_eq!(
            d.cmd_err(Command::RequestIntHandle, 0x1_0001),
            0x41,
            "IMS not modelled"
        );
        assert_eq!(d.cmd_err(Command::ReleaseIntHandle, 2), 0);
        assert_eq!(d.cmd_err(Command::ReleaseIntHandle, 2), 0x41);
    }
}

#[test]
fn intcause_is_write_one_to_clear_and_command_interrupts() {
    let d = Drv::inline("iaa-spr");
    d.pci_enable();
    d.dev.write32(
        off::CMD,
        Cmd {
            command: Command::DrainAll,
            operand: 0,
            request_int: true,
        }
        .encode(),
    );
    assert_eq!(d.dev.irq(0).unwrap().wait(Duration::from_secs(1)), 1);
    let cause = d.dev.read32(off::INTCAUSE);
    assert_eq!(cause, IntCause::COMMAND_DONE.bits());
    d.dev.write32(off::INTCAUSE, 0);
    assert_eq!(d.dev.read32(off::INTCAUSE), cause, "writing 0 clears nothing");
    d.dev.write32(off::INTCAUSE, cause);
    assert_eq!(d.dev.read32(off::INTCAUSE), 0);
}

#[test]
fn swerr_records_overflows_and_acknowledges() {
    for name in PROFILES {
        let d = Drv::inline(name);
        d.bring_up(&[WqSpec::dedicated(0, 8)]);
        d.dev.write32(
            off::GENCTRL,
            GenCtrl {
                softerr_int_en: true,
                halt_int_en: true,
            }
            .encode(),
        );
        let desc = [0u8; 64];
        // WQ 1 is disabled: a MOVDIR64B to it is dropped and recorded.
        assert_eq!(d.submit(1, &desc), PortalResult::Accepted);
        assert_eq!(d.dev.irq(0).unwrap().take(), 1);
        let q: [u64; 4] = std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64));
        let e = SwErr::decode(q);
        assert!(
            e.valid && !e.overflow && e.wq_idx_valid && e.desc_valid,
            "{name}: {e:?}"
        );
        assert_eq!(e.wq_idx, 1);
        assert_eq!(e.error, idxd_emu::device::swerr_code::WQ_DISABLED);
        assert_ne!(d.dev.read32(off::INTCAUSE) & IntCause::SOFTWARE_ERROR.bits(), 0);
        // A second error while one is recorded sets the overflow bit only.
        d.submit(2, &desc);
        let e2 = SwErr::decode(std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64)));
        assert!(e2.valid && e2.overflow);
        assert_eq!(e2.wq_idx, 1, "the first error is kept");
        // Acknowledge: write back q0 & (valid | overflow).
        let q0 = d.dev.read64(off::SWERR);
        d.dev.write64(off::SWERR, SwErr::ack_value(q0));
        assert_eq!(d.dev.read64(off::SWERR) & 0b11, 0);
        // MOVDIR64B to a dedicated WQ is fine; ENQCMD to it is refused and recorded.
        let r = d.dev.portal_write(0, &desc, SubmitKind::Enqcmd).unwrap();
        assert_eq!(r, PortalResult::Retry);
        let e3 = SwErr::decode(std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64)));
        assert_eq!(e3.error, idxd_emu::device::swerr_code::PORTAL_MODE);
        // Bad portal offsets are refused outright.
        assert!(d.dev.portal_write(32, &desc, SubmitKind::Movdir64b).is_err());
        assert!(d.dev.portal_write(1 << 40, &desc, SubmitKind::Movdir64b).is_err());
    }
}

#[test]
fn halted_device_refuses_commands_until_reset() {
    use idxd_emu::inject::{Fault, InjectConfig};
    for name in PROFILES {
        let inject = InjectConfig {
            schedule: vec![(0, Fault::Halt)],
            ..Default::default()
        };
        let d = Drv::up(
            name,
            EmuConfig {
                mode: ExecMode::Inline,
                inject,
                ..Default::default()
            },
            8,
        );
        d.dev.write32(
            off::GENCTRL,
            GenCtrl {
                softerr_int_en: false,
                halt_int_en: true,
            }
            .encode(),
        );
        let noop = noop_desc(&d);
        d.submit(0, &noop);
        let s = d.gensts();
        assert_eq!(s.state, DeviceState::Halted, "{name}");
        assert_eq!(s.reset_type, idxd_hw::regs::ResetType::Software);
        assert_ne!(d.dev.read32(off::INTCAUSE) & IntCause::HALT.bits(), 0);
        assert_eq!(d.dev.irq(0).unwrap().take(), 1);
        assert_eq!(
            d.read_mem(0x1000, 1)[0],
            0,
            "the halted descriptor's record is never written"
        );
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x01);
        assert_eq!(d.cmd_err(Command::ResetDevice, 0), 0);
        assert_eq!(d.gensts().state, DeviceState::Disabled);
        // Recover: configure and enable again, and the next descriptor completes.
        d.configure(&[WqSpec::dedicated(0, 8)]);
        assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0);
        assert_eq!(d.cmd_err(Command::EnableWq, 0), 0);
        d.submit(0, &noop);
        assert_eq!(d.wait_status(0x1000, Duration::from_secs(5)), Some(1));
    }
}

#[test]
fn function_reset_returns_to_power_on() {
    let d = Drv::up("dsa-spr", inline(), 8);
    d.dev.function_reset();
    assert_eq!(d.gensts().state, DeviceState::Disabled);
    assert_eq!(d.read_wqcfg(0).size, 0);
    assert_eq!(d.dev.pci_read16(idxd_hw::pci::PCI_COMMAND), 0);
    assert_eq!(d.cmd_err(Command::EnableDevice, 0), 0x12);
}

/// A no-op whose record goes to IOVA 0x1000 (mapped here).
pub fn noop_desc(d: &Drv) -> [u8; 64] {
    if d.dev.iommu().check(0x1000, 64, true).is_err() {
        d.map(0x1000, 4096, true);
    }
    let s = idxd_hw::Submit::polled(0x1000);
    let lim = idxd_hw::Limits::from_shifts(d.caps.gencap.max_xfer_shift, d.caps.gencap.max_batch_shift);
    match d.caps.kind {
        idxd_hw::DeviceKind::Dsa => idxd_hw::DsaOp::Noop.build(&s, &lim).unwrap().to_bytes(),
        idxd_hw::DeviceKind::Iaa => idxd_hw::IaaOp::Noop.build(&s, &lim).unwrap().to_bytes(),
    }
}
