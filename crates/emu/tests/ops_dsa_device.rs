//! Descriptor rules that depend on device state, checked through portals: interrupt handles
//! (CMDCAP bit 13) and the privilege of descriptors on a dedicated WQ.

use std::time::Duration;

use idxd_emu::device::{EmuConfig, ExecMode};
use idxd_emu::testkit::{MiniDriver, PROFILES};
use idxd_hw::pci::DeviceKind;
use idxd_hw::regs::{off, Cmd, Command, SwErr};
use idxd_hw::{DsaOp, IaaOp, Limits, Submit};

const REC: u64 = 0x50_0000;
const T: Duration = Duration::from_secs(5);

fn up(name: &str) -> MiniDriver {
    let d = MiniDriver::up(
        name,
        EmuConfig {
            mode: ExecMode::Inline,
            ..Default::default()
        },
        8,
    );
    d.map(REC, 4096, true);
    d
}

/// A no-op with a record at `rec` and the given submit options.
fn noop(d: &MiniDriver, s: Submit) -> [u8; 64] {
    let lim = Limits::from_shifts(d.caps.gencap.max_xfer_shift, d.caps.gencap.max_batch_shift);
    match d.caps.kind {
        DeviceKind::Dsa => DsaOp::Noop.build(&s, &lim).unwrap().to_bytes(),
        DeviceKind::Iaa => IaaOp::Noop.build(&s, &lim).unwrap().to_bytes(),
    }
}

fn run(d: &MiniDriver, desc: &[u8; 64], rec: u64) -> u8 {
    d.write_mem(rec, &[0u8; 64]);
    d.submit(0, desc);
    d.wait_status(rec, T).expect("a record")
}

fn needs_handles(d: &MiniDriver) -> bool {
    d.caps
        .cmdcap
        .is_some_and(|c| c.supports(Command::RequestIntHandle))
}

#[test]
fn unrequested_interrupt_handle_completes_with_0x19() {
    // linux/idxd.h DSA_COMP_INT_HANDLE_INVAL / IAX_COMP_INT_HANDLE_INVAL = 0x19; the kernel
    // requests a handle per vector when CMDCAP has bit 13 (init.c, device.c).
    let mut checked = 0;
    for name in PROFILES {
        let d = up(name);
        let s = Submit {
            completion_addr: REC,
            interrupt: Some(3),
            ..Default::default()
        };
        let desc = noop(&d, s);
        if !needs_handles(&d) {
            // Without CMDCAP bit 13 the field holds the vector itself.
            assert_eq!(run(&d, &desc, REC), 1, "{name}");
            assert_eq!(d.dev.irq(3).unwrap().take(), 1, "{name}: vector 3 signalled");
            continue;
        }
        checked += 1;
        assert_eq!(run(&d, &desc, REC), 0x19, "{name}: handle never requested");
        assert_eq!(d.dev.irq(3).unwrap().take(), 0, "{name}: no interrupt");
        let e = SwErr::decode(std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64)));
        assert!(e.valid && e.desc_valid, "{name}: {e:?}");
        assert_eq!(
            (e.error, e.opcode, e.wq_idx_valid, e.wq_idx),
            (0x19, 0, true, 0),
            "{name}"
        );
        d.dev
            .write64(off::SWERR, SwErr::ack_value(d.dev.read64(off::SWERR)));
        // Once requested, the handle the device returned works.
        let st = d.cmd(Cmd {
            command: Command::RequestIntHandle,
            operand: 3,
            request_int: false,
        });
        assert_eq!(st.error, 0, "{name}");
        let desc = noop(
            &d,
            Submit {
                interrupt: Some(st.result),
                ..s
            },
        );
        assert_eq!(run(&d, &desc, REC), 1, "{name}: requested handle");
        assert_eq!(d.dev.irq(3).unwrap().take(), 1, "{name}");
        // Released (operand = the handle, device.c idxd_device_release_int_handle): invalid again.
        assert_eq!(
            d.cmd_err(Command::ReleaseIntHandle, st.result as u32),
            0,
            "{name}"
        );
        assert_eq!(run(&d, &desc, REC), 0x19, "{name}: released handle");
        // A descriptor without RCI never looks at the field.
        let desc = noop(
            &d,
            Submit {
                completion_addr: REC,
                ..Default::default()
            },
        );
        assert_eq!(run(&d, &desc, REC), 1, "{name}: no interrupt requested");
    }
    assert_eq!(checked, 3, "dsa-gnr, iaa-gnr and dsa-dmr have CMDCAP bit 13");
}

#[test]
fn privileged_descriptor_on_a_dedicated_wq_with_wqcfg_priv_0_succeeds() {
    // The kernel's vfio selftest (dsa.c) configures a dedicated WQ with WQCFG priv = 0 and
    // submits every descriptor with priv = 1, expecting success.
    for name in PROFILES {
        let d = up(name);
        assert!(!d.read_wqcfg(0).privileged, "{name}: WQCFG priv 0");
        let mut desc = noop(
            &d,
            Submit {
                completion_addr: REC,
                ..Default::default()
            },
        );
        desc[3] |= 0x80; // dword 0 bit 31: priv
        assert_eq!(run(&d, &desc, REC), 1, "{name}");
    }
}

#[test]
fn advertised_opcodes_the_emulator_does_not_execute_complete_with_0x10() {
    // What `idxd info` lists as not emulated is exactly what completes with 0x10.
    for name in PROFILES {
        let d = up(name);
        let base = noop(
            &d,
            Submit {
                completion_addr: REC,
                ..Default::default()
            },
        );
        let mut missing = Vec::new();
        for op in d.caps.opcap.opcodes() {
            let mut desc = base;
            desc[7] = op;
            let st = run(&d, &desc, REC);
            assert_eq!(
                st != 0x10,
                idxd_emu::ops::executes(d.caps.kind, op),
                "{name}: opcode {op:#x} status {st:#x}"
            );
            if st == 0x10 {
                missing.push(op);
            }
        }
        let want: &[u8] = match d.caps.kind {
            DeviceKind::Dsa => &[0x12, 0x13, 0x14, 0x15],
            DeviceKind::Iaa => &[0x48, 0x49, 0x4c, 0x4d, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56],
        };
        assert_eq!(missing, want, "{name}");
    }
}
