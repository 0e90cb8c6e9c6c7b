//! Every descriptor status code, on every profile, through registers and portals only.
//!
//! For each profile of a kind and each code of `DsaStatus::ALL` / `IaaStatus::ALL` (the match
//! is exhaustive, so a new code does not compile until it has a scenario), the test either
//! submits a descriptor through the WQ portal that must complete with exactly that status byte
//! (or, for record-address errors and refused interrupt handles, report it in SWERR), or states
//! why the code cannot occur on that profile and checks what can be checked of the reason.
//! The expected codes are the kernel's (`linux/idxd.h` `enum dsa_completion_status` /
//! `enum iax_completion_status`, the names in idxd-hw; their values are checked against the
//! header by tests/linux_header.rs) and, for the IAA page fault 0x03, QPL's `hw_status.h`.

mod common;

use std::time::{Duration, Instant};

use common::{Drv, WqSpec, PROFILES};
use idxd_emu::device::{EmuConfig, ExecMode, PortalResult, SubmitKind};
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_hw::desc::dsa_off;
use idxd_hw::regs::{off, Cmd, Command, SwErr};
use idxd_hw::tables::WqMode;
use idxd_hw::{
    CompressAecs, CompressFlags, CrcSeed, DecompressFlags, DescFlags, DsaOp, DsaOpcode, DsaStatus,
    EndProcessing, IaaOp, IaaOpcode, IaaStatus, Limits, Submit,
};

const RW: u64 = 0x10_0000;
const RW_LEN: usize = 1 << 20;
const REC: u64 = 0x50_0000;
const UNMAPPED: u64 = 0x60_0000;
const T: Duration = Duration::from_secs(5);

/// What one submission produced: the record's status byte (0 if never written) and SWERR.
#[derive(Debug)]
struct Seen {
    status: u8,
    swerr: Option<SwErr>,
}

fn cfg() -> EmuConfig {
    EmuConfig {
        mode: ExecMode::Inline,
        ..Default::default()
    }
}

fn setup(name: &str, c: EmuConfig) -> Drv {
    let d = Drv::up(name, c, 16);
    d.map(RW, RW_LEN, true);
    d.map(REC, 4096, true);
    d
}

fn lim(d: &Drv) -> Limits {
    Limits::from_shifts(d.caps.gencap.max_xfer_shift, d.caps.gencap.max_batch_shift)
}

fn swerr(d: &Drv) -> SwErr {
    SwErr::decode(std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64)))
}

/// Submits `bytes` through WQ 0's portal (MOVDIR64B, or ENQCMD for a shared WQ), SWERR
/// acknowledged and the record at `REC` cleared first, and waits for the record or SWERR.
fn submit_kind(d: &Drv, bytes: [u8; 64], kind: SubmitKind) -> Seen {
    d.dev
        .write64(off::SWERR, SwErr::ack_value(d.dev.read64(off::SWERR)));
    assert!(!swerr(d).valid, "SWERR acknowledged");
    d.write_mem(REC, &[0; 64]);
    assert_eq!(
        d.dev.portal_write(0, &bytes, kind).unwrap(),
        PortalResult::Accepted
    );
    let deadline = Instant::now() + T;
    loop {
        let status = d.dev.iommu().cpu_load_acquire_u8(REC).unwrap();
        let e = swerr(d);
        if status != 0 || e.valid {
            // A record and a SWERR entry may both come (0x19): give the second a moment.
            std::thread::sleep(Duration::from_millis(2));
            let e = swerr(d);
            return Seen {
                status: d.dev.iommu().cpu_load_acquire_u8(REC).unwrap(),
                swerr: e.valid.then_some(e),
            };
        }
        assert!(Instant::now() < deadline, "neither a record nor SWERR");
        std::thread::yield_now();
    }
}

fn submit(d: &Drv, bytes: [u8; 64]) -> Seen {
    submit_kind(d, bytes, SubmitKind::Movdir64b)
}

fn dsa_desc(d: &Drv, op: DsaOp) -> idxd_hw::DsaDesc {
    op.build(&Submit::polled(REC), &lim(d)).unwrap()
}

fn iaa_desc(d: &Drv, op: IaaOp) -> idxd_hw::IaaDesc {
    op.build(&Submit::polled(REC), &lim(d)).unwrap()
}

fn memmove(src: u64, dst: u64, len: u32) -> DsaOp {
    DsaOp::Memmove { src, dst, len }
}

/// A device whose first descriptor meets `fault`.
fn injected(name: &str, fault: Fault) -> Drv {
    setup(
        name,
        EmuConfig {
            inject: InjectConfig {
                schedule: vec![(0, fault)],
                ..Default::default()
            },
            ..cfg()
        },
    )
}

/// A shared WQ (PASID enabled, WQCFG priv = 0), where privileged descriptors are refused.
fn shared(name: &str) -> Option<Drv> {
    let d = Drv::new(
        name,
        EmuConfig {
            pasid_enabled: true,
            ..cfg()
        },
    );
    if !d.caps.wqcap.shared_mode {
        return None;
    }
    d.bring_up(&[WqSpec {
        wq: 0,
        group: 0,
        size: 8,
        mode: WqMode::Shared,
        priority: 1,
        threshold: 8,
    }]);
    d.map(REC, 4096, true);
    Some(d)
}

/// Whether the part hands out interrupt handles (CMDCAP bit 13, command 13).
fn needs_handles(d: &Drv) -> bool {
    d.caps
        .cmdcap
        .is_some_and(|c| c.supports(Command::RequestIntHandle))
}

/// Checks 0x19 (invalid interrupt handle) through a portal; on a part without handles, states
/// why the record status cannot occur and checks the SWERR report of a vector that does not
/// exist. `with_handle` builds the descriptor requesting a completion interrupt on `handle`.
fn int_handle_case(d: &Drv, name: &str, with_handle: impl Fn(u16) -> [u8; 64]) -> Result<(), &'static str> {
    if needs_handles(d) {
        // Handle 3 was never requested with command 13: 0x19, nothing run, and SWERR 0x19.
        let s = submit(d, with_handle(3));
        assert_eq!(s.status, 0x19, "{name}: unrequested handle");
        assert_eq!(
            s.swerr.map(|e| e.error),
            Some(0x19),
            "{name}: SWERR for the handle"
        );
        // Requested, it is accepted.
        let r = d.cmd(Cmd {
            command: Command::RequestIntHandle,
            operand: 3,
            request_int: false,
        });
        assert_eq!(r.error, 0, "{name}: request handle");
        let s = submit(d, with_handle(r.result));
        assert_eq!(
            (s.status, s.swerr.is_none()),
            (1, true),
            "{name}: requested handle"
        );
        Ok(())
    } else {
        // The handle is the MSI-X vector index: vector 1 is fine; a vector that does not
        // exist cannot be signalled (SWERR 0x19) but the descriptor has run.
        let s = submit(d, with_handle(1));
        assert_eq!((s.status, s.swerr.is_none()), (1, true), "{name}: vector 1");
        let s = submit(d, with_handle(0x7ff));
        assert_eq!(s.status, 1, "{name}");
        assert_eq!(s.swerr.map(|e| e.error), Some(0x19), "{name}: no such vector");
        Err("no CMDCAP bit 13: int_handle is the MSI-X vector index, never refused in the record")
    }
}

/// Checks the records never written: 0x1a and 0x1b go to SWERR.
fn record_address_case(d: &Drv, name: &str, code: u8, bytes: [u8; 64]) {
    let s = submit_kind(d, bytes, SubmitKind::Movdir64b);
    assert_eq!(s.status, 0, "{name}: no record at REC");
    assert_eq!(s.swerr.map(|e| e.error), Some(code), "{name}: SWERR {code:#x}");
}

/// Reaches `s` on DSA profile `name`, or says why it cannot be reached there.
fn dsa_case(d: &Drv, name: &str, s: DsaStatus) -> Result<(), &'static str> {
    let code = s.code();
    let expect = |seen: Seen, what: &str| assert_eq!(seen.status, code, "{name}: {s} via {what}: {seen:?}");
    match s {
        DsaStatus::None => {
            // A completed record is never 0.
            assert_ne!(submit(d, dsa_desc(d, DsaOp::Noop).to_bytes()).status, 0);
            return Err("0 means not yet completed: the device never writes it");
        }
        DsaStatus::Success => expect(submit(d, dsa_desc(d, DsaOp::Noop).to_bytes()), "noop"),
        DsaStatus::SuccessPred => {
            d.write_mem(RW, &[1; 16]);
            d.write_mem(RW + 0x100, &[2; 16]);
            let op = DsaOp::Compare {
                src1: RW,
                src2: RW + 0x100,
                len: 16,
                expected: Some(0),
            };
            expect(submit(d, dsa_desc(d, op).to_bytes()), "compare, false predicate");
        }
        DsaStatus::PageFaultNoBof => {
            let seen = submit(d, dsa_desc(d, memmove(UNMAPPED, RW, 64)).to_bytes());
            expect(seen, "memmove from an unmapped source");
        }
        DsaStatus::PageFaultIr => {
            return Err("needs an invalid page-request response: the emulator has no PRS (faults are reported, never requested)")
        }
        DsaStatus::BatchFail | DsaStatus::BatchPageFault | DsaStatus::DescCntErange | DsaStatus::DescListAlign => {
            if d.caps.gencap.max_batch_shift == 0 {
                return Err("no batch support on this part");
            }
            let list = RW + 0x2000;
            let good = dsa_desc(d, DsaOp::Noop);
            let bad = dsa_desc(d, memmove(UNMAPPED, RW, 64));
            let (addr, count) = match s {
                DsaStatus::BatchPageFault => (UNMAPPED, 2),
                DsaStatus::DescCntErange => (list, 1),
                DsaStatus::DescListAlign => (list + 8, 2),
                _ => (list, 2),
            };
            let mut members = Vec::new();
            members.extend_from_slice(&good.to_bytes());
            members.extend_from_slice(&bad.to_bytes());
            d.write_mem(list, &members);
            d.write_mem(list + 8, &members);
            let mut b = dsa_desc(
                d,
                DsaOp::Batch {
                    list_addr: list,
                    count: 2,
                },
            );
            b.src_addr = addr;
            b.xfer_size = count;
            expect(submit(d, b.to_bytes()), "batch");
        }
        DsaStatus::DrOffsetNoInc | DsaStatus::DrOffsetErange => {
            let words: [u16; 2] = if s == DsaStatus::DrOffsetNoInc { [4, 2] } else { [1, 8] };
            let mut rec = Vec::new();
            for w in words {
                rec.extend_from_slice(&w.to_le_bytes());
                rec.extend_from_slice(&[0x11; 8]);
            }
            d.write_mem(RW + 0x3000, &rec);
            let op = DsaOp::ApplyDelta {
                delta_addr: RW + 0x3000,
                delta_size: 20,
                dst: RW + 0x4000,
                len: 64,
            };
            expect(submit(d, dsa_desc(d, op).to_bytes()), "apply delta");
        }
        DsaStatus::DifErr => {
            let mut desc = dsa_desc(d, DsaOp::Noop);
            desc.set_opcode_flags(DsaOpcode::DifCheck.code(), desc.flags_raw());
            assert_eq!(submit(d, desc.to_bytes()).status, DsaStatus::BadOpcode.code(), "{name}");
            return Err("DIF operations are not executed (refused as unsupported opcodes, checked)");
        }
        DsaStatus::BadOpcode => {
            let mut desc = dsa_desc(d, DsaOp::Noop);
            desc.set_opcode_flags(0x30, desc.flags_raw());
            expect(submit(d, desc.to_bytes()), "opcode 0x30");
        }
        DsaStatus::InvalidFlags => {
            // Block on fault: the WQ does not enable it (WQCFG bit clear).
            let mut desc = dsa_desc(d, memmove(RW, RW + 0x100, 64));
            desc.set_opcode_flags(3, desc.flags_raw() | DescFlags::BLOCK_ON_FAULT.bits());
            expect(submit(d, desc.to_bytes()), "block on fault on a WQ without it");
        }
        DsaStatus::NonZeroReserved => {
            let mut desc = dsa_desc(d, DsaOp::Noop);
            desc.pasid_priv |= 1 << 20;
            expect(submit(d, desc.to_bytes()), "reserved dword 0 bit");
        }
        DsaStatus::XferErange => {
            let mut desc = dsa_desc(d, memmove(RW, RW + 0x100, 64));
            desc.xfer_size = 0;
            expect(submit(d, desc.to_bytes()), "zero transfer");
        }
        DsaStatus::DrErange => {
            let op = DsaOp::CreateDelta {
                src1: RW,
                src2: RW + 0x100,
                len: 64,
                delta_addr: RW + 0x3000,
                max_delta_size: 20,
                expected: None,
            };
            let mut desc = dsa_desc(d, op);
            desc.set_op_u32(dsa_off::MAX_DELTA_SIZE, 15);
            expect(submit(d, desc.to_bytes()), "delta record size 15");
        }
        DsaStatus::OverlapBuffers => {
            let op = DsaOp::CopyCrc {
                src: RW,
                dst: RW + 10,
                len: 64,
                seed: CrcSeed::Value(0),
            };
            expect(submit(d, dsa_desc(d, op).to_bytes()), "copy with CRC onto its source");
        }
        DsaStatus::DualcastAlign => {
            let op = DsaOp::Dualcast {
                src: RW,
                dst1: RW + 0x1000,
                dst2: RW + 0x2000,
                len: 64,
            };
            let mut desc = dsa_desc(d, op);
            desc.set_op_u64(dsa_off::DEST2, RW + 0x2008);
            expect(submit(d, desc.to_bytes()), "dualcast, bits 11:0 differ");
        }
        DsaStatus::IntHandleInval => {
            return int_handle_case(d, name, |h| {
                let sub = Submit {
                    interrupt: Some(h),
                    ..Submit::polled(REC)
                };
                DsaOp::Noop.build(&sub, &lim(d)).unwrap().to_bytes()
            })
        }
        DsaStatus::CraXlat | DsaStatus::CraAlign => {
            let mut desc = dsa_desc(d, DsaOp::Noop);
            desc.completion_addr = if s == DsaStatus::CraXlat { UNMAPPED } else { REC + 8 };
            record_address_case(d, name, code, desc.to_bytes());
        }
        DsaStatus::AddrAlign => {
            let op = DsaOp::CrcGen {
                src: RW,
                len: 64,
                seed: CrcSeed::Address(RW + 0x3000),
            };
            let mut desc = dsa_desc(d, op);
            desc.set_op_u64(dsa_off::SEED_ADDR, RW + 0x3002);
            expect(submit(d, desc.to_bytes()), "CRC seed address not 4-byte aligned");
        }
        DsaStatus::PrivBad => {
            let Some(sh) = shared(name) else {
                return Err("privilege is refused only on shared WQs, and this part has no shared mode");
            };
            let mut desc = DsaOp::Noop.build(&Submit::polled(REC), &lim(&sh)).unwrap();
            desc.set_pasid(1, true);
            let seen = submit_kind(&sh, desc.to_bytes(), SubmitKind::Enqcmd);
            expect(seen, "privileged descriptor on a shared WQ with WQCFG priv = 0");
        }
        DsaStatus::TrafficClassConf => return Err("traffic classes are not modelled"),
        DsaStatus::PfaultRdba | DsaStatus::HwErrDrb => {
            return Err("destination read-back of emulated memory cannot fail apart from the write")
        }
        DsaStatus::HwErr1 => {
            let dev = injected(name, Fault::HardwareError);
            expect(submit(&dev, dsa_desc(&dev, DsaOp::Noop).to_bytes()), "injected hardware error");
        }
        DsaStatus::TranslationFail => {
            return Err("every translation failure is reported as a page fault (0x03) by the emulated IOMMU")
        }
        DsaStatus::DrainEvl | DsaStatus::BatchEvlErr => return Err("the event log is not modelled"),
    }
    Ok(())
}

#[test]
fn every_dsa_status_through_a_portal_on_every_dsa_profile() {
    let mut report = Vec::new();
    for name in PROFILES.iter().filter(|n| n.starts_with("dsa")) {
        let d = setup(name, cfg());
        for &s in DsaStatus::ALL {
            if let Err(why) = dsa_case(&d, name, s) {
                report.push(format!("{name} {:#04x}: impossible: {why}", s.code()));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}

/// Reaches `s` on IAA profile `name`, or says why it cannot be reached there.
fn iaa_case(d: &Drv, name: &str, s: IaaStatus) -> Result<(), &'static str> {
    let code = s.code();
    let expect = |seen: Seen, what: &str| assert_eq!(seen.status, code, "{name}: {s} via {what}: {seen:?}");
    let aecs = RW + 0x8000;
    d.write_mem(aecs, CompressAecs::fixed().as_bytes());
    let compress = |src: u64, len: u32, dst: u64, max_dst: u32| IaaOp::Compress {
        src,
        len,
        dst,
        max_dst,
        aecs,
        aecs_size: 1568,
        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
        crc32c: false,
        aecs_write: idxd_hw::AecsWrite::Never,
        aecs_select: false,
    };
    let mv = |src: u64, dst: u64, len: u32| IaaOp::Memmove { src, dst, len };
    match s {
        IaaStatus::None => {
            assert_ne!(submit(d, iaa_desc(d, IaaOp::Noop).to_bytes()).status, 0);
            return Err("0 means not yet completed: the device never writes it");
        }
        IaaStatus::Success => expect(submit(d, iaa_desc(d, IaaOp::Noop).to_bytes()), "noop"),
        IaaStatus::PageFault => {
            expect(submit(d, iaa_desc(d, mv(UNMAPPED, RW, 64)).to_bytes()), "memmove from an unmapped source")
        }
        IaaStatus::PageFaultIr => {
            return Err("needs an invalid page-request response: the emulator has no PRS (faults are reported, never requested)")
        }
        IaaStatus::AnalyticsError => {
            d.write_mem(RW + 0x3000, &[0xff; 64]);
            let op = IaaOp::Decompress {
                src: RW + 0x3000,
                len: 64,
                dst: RW + 0x4000,
                max_dst: 4096,
                flags: DecompressFlags::empty(),
                crc32c: false,
            };
            expect(submit(d, iaa_desc(d, op).to_bytes()), "decompress of garbage");
        }
        IaaStatus::OutbufOverflow => {
            let page: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
            d.write_mem(RW, &page);
            let seen = submit(d, iaa_desc(d, compress(RW, 4096, RW + 0x1_0000, 8192)).to_bytes());
            assert_eq!(seen.status, 1, "{name}");
            let r = idxd_hw::IaaCompletion::from_bytes(&d.record::<64>(REC));
            let op = IaaOp::Decompress {
                src: RW + 0x1_0000,
                len: r.output_size,
                dst: RW + 0x2_0000,
                max_dst: 1000,
                flags: DecompressFlags::empty(),
                crc32c: false,
            };
            expect(submit(d, iaa_desc(d, op).to_bytes()), "decompress into too little room");
        }
        IaaStatus::BadOpcode => {
            let mut desc = iaa_desc(d, IaaOp::Noop);
            desc.set_opcode_flags(0x7f, desc.flags_raw());
            expect(submit(d, desc.to_bytes()), "opcode 0x7f");
        }
        IaaStatus::InvalidFlags => {
            let mut desc = iaa_desc(d, mv(RW, RW + 0x1000, 64));
            desc.set_opcode_flags(IaaOpcode::Memmove.code(), desc.flags_raw() | DescFlags::FENCE.bits());
            expect(submit(d, desc.to_bytes()), "fence on IAA");
        }
        IaaStatus::NonZeroReserved => {
            let mut desc = iaa_desc(d, mv(RW, RW + 0x1000, 64));
            desc.max_dst_size = 1;
            expect(submit(d, desc.to_bytes()), "memmove with max_dst_size set");
        }
        IaaStatus::InvalidSize => {
            let mut desc = iaa_desc(d, mv(RW, RW + 0x1000, 64));
            desc.src1_size = 0;
            expect(submit(d, desc.to_bytes()), "zero source size");
        }
        IaaStatus::OverlapBuffers => {
            let seen = submit(d, iaa_desc(d, compress(RW, 64, RW + 32, 4096)).to_bytes());
            expect(seen, "compress onto its source");
        }
        IaaStatus::IntHandleInval => {
            return int_handle_case(d, name, |h| {
                let sub = Submit {
                    interrupt: Some(h),
                    ..Submit::polled(REC)
                };
                IaaOp::Noop.build(&sub, &lim(d)).unwrap().to_bytes()
            })
        }
        IaaStatus::CraXlat | IaaStatus::CraAlign => {
            let mut desc = iaa_desc(d, IaaOp::Noop);
            desc.completion_addr = if s == IaaStatus::CraXlat { UNMAPPED } else { REC + 32 };
            record_address_case(d, name, code, desc.to_bytes());
        }
        IaaStatus::AddrAlign => {
            let mut desc = iaa_desc(d, compress(RW, 64, RW + 0x1_0000, 4096));
            desc.src2_addr = aecs + 16;
            expect(submit(d, desc.to_bytes()), "AECS not 32-byte aligned");
        }
        IaaStatus::PrivBad => {
            let Some(sh) = shared(name) else {
                return Err("privilege is refused only on shared WQs, and this part has no shared mode");
            };
            let mut desc = IaaOp::Noop.build(&Submit::polled(REC), &lim(&sh)).unwrap();
            desc.set_pasid(1, true);
            let seen = submit_kind(&sh, desc.to_bytes(), SubmitKind::Enqcmd);
            expect(seen, "privileged descriptor on a shared WQ with WQCFG priv = 0");
        }
        IaaStatus::TrafficClassConf => return Err("traffic classes are not modelled"),
        IaaStatus::PfaultRdba | IaaStatus::HwErrDrb => {
            return Err("destination read-back of emulated memory cannot fail apart from the write")
        }
        IaaStatus::HwErr1 | IaaStatus::Watchdog => {
            let fault = if s == IaaStatus::HwErr1 {
                Fault::HardwareError
            } else {
                Fault::Watchdog
            };
            let dev = injected(name, fault);
            let seen = submit(&dev, iaa_desc(&dev, mv(RW, RW + 0x1000, 64)).to_bytes());
            expect(seen, "injected fault");
        }
        IaaStatus::TranslationFail => {
            return Err("every translation failure is reported as a page fault (0x03) by the emulated IOMMU")
        }
        IaaStatus::PrsTimeout => return Err("no page requests are made (no PRS), so none time out"),
        IaaStatus::InvalidCompFlag => {
            let mut desc = iaa_desc(d, compress(RW, 64, RW + 0x1_0000, 4096));
            desc.op_flags |= 0x200;
            expect(submit(d, desc.to_bytes()), "undefined compress flag bit 9");
        }
        IaaStatus::InvalidFilterFlag
        | IaaStatus::InvalidInputSize
        | IaaStatus::InvalidNumElems
        | IaaStatus::InvalidSrc1Width
        | IaaStatus::InvalidInvertOut => {
            let mut desc = iaa_desc(d, mv(RW, RW + 0x1000, 64));
            desc.set_opcode_flags(IaaOpcode::Scan.code(), desc.flags_raw());
            assert_eq!(submit(d, desc.to_bytes()).status, IaaStatus::BadOpcode.code(), "{name}");
            return Err("analytics filter operations are not executed (refused as unsupported opcodes, checked)");
        }
    }
    Ok(())
}

#[test]
fn every_iaa_status_through_a_portal_on_every_iaa_profile() {
    let mut report = Vec::new();
    for name in PROFILES.iter().filter(|n| n.starts_with("iaa")) {
        let d = setup(name, cfg());
        for &s in IaaStatus::ALL {
            if let Err(why) = iaa_case(&d, name, s) {
                report.push(format!("{name} {:#04x}: impossible: {why}", s.code()));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
}
