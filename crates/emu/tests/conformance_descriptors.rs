//! Conformance of descriptor execution through the device, for every profile: each status the
//! implemented operations produce, reached by portal writes and read back from memory, and the
//! batch rules (status 5 with member records, status 6 with resubmission).

mod common;

use std::time::Duration;

use common::{Drv, PROFILES};
use idxd_emu::device::{EmuConfig, ExecMode};
use idxd_hw::regs::{off, SwErr};
use idxd_hw::{
    CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, DeviceKind, DsaCompletion, DsaOp,
    EndProcessing, IaaCompletion, IaaOp, Limits, Submit,
};

const RW: u64 = 0x10_0000; // 1 MiB read-write
const RW_LEN: usize = 1 << 20;
const RO: u64 = 0x40_0000; // 4 KiB read-only
const REC: u64 = 0x50_0000; // records, read-write
const UNMAPPED: u64 = 0x60_0000;
const T: Duration = Duration::from_secs(5);

fn setup(name: &str, mode: ExecMode) -> Drv {
    let d = Drv::up(
        name,
        EmuConfig {
            mode,
            ..Default::default()
        },
        32,
    );
    d.map(RW, RW_LEN, true);
    d.map(RO, 4096, false);
    d.map(REC, 64 * 1024, true);
    d
}

/// CRC-32C written here from its definition (RFC 3720: reflected polynomial 0x82F63B78, initial
/// value and final XOR all ones), independent of the emulator's implementation.
fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = (c >> 1) ^ (0x82F6_3B78 & (c & 1).wrapping_neg());
        }
    }
    !c
}

#[test]
fn the_bitwise_crc32c_reference_gives_the_catalogue_check_value() {
    assert_eq!(crc32c_bitwise(b"123456789"), 0xE306_9283);
}

fn lim(d: &Drv) -> Limits {
    Limits::from_shifts(d.caps.gencap.max_xfer_shift, d.caps.gencap.max_batch_shift)
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Submits a DSA op with its record at `rec` and returns the record.
fn dsa(d: &Drv, op: DsaOp, rec: u64) -> DsaCompletion {
    let desc = op.build(&Submit::polled(rec), &lim(d)).unwrap();
    dsa_raw(d, desc.to_bytes(), rec)
}

fn dsa_raw(d: &Drv, bytes: [u8; 64], rec: u64) -> DsaCompletion {
    d.write_mem(rec, &[0; 32]);
    d.submit(0, &bytes);
    d.wait_status(rec, T).expect("record written");
    DsaCompletion::from_bytes(&d.record::<32>(rec))
}

fn iaa(d: &Drv, op: IaaOp, rec: u64) -> IaaCompletion {
    let desc = op.build(&Submit::polled(rec), &lim(d)).unwrap();
    iaa_raw(d, desc.to_bytes(), rec)
}

fn iaa_raw(d: &Drv, bytes: [u8; 64], rec: u64) -> IaaCompletion {
    d.write_mem(rec, &[0; 64]);
    d.submit(0, &bytes);
    d.wait_status(rec, T).expect("record written");
    IaaCompletion::from_bytes(&d.record::<64>(rec))
}

fn swerr(d: &Drv) -> SwErr {
    SwErr::decode(std::array::from_fn(|i| d.dev.read64(off::SWERR + 8 * i as u64)))
}

fn ack_swerr(d: &Drv) {
    let q0 = d.dev.read64(off::SWERR);
    d.dev.write64(off::SWERR, SwErr::ack_value(q0));
}

#[test]
fn dsa_operations_and_statuses() {
    for name in PROFILES.iter().filter(|n| n.starts_with("dsa")) {
        for mode in [ExecMode::Inline, ExecMode::Threads] {
            dsa_suite(name, mode);
        }
    }
}

fn dsa_suite(name: &str, mode: ExecMode) {
    let d = setup(name, mode);
    let src = pattern(8192, 7);
    d.write_mem(RW, &src);
    // memmove
    let r = dsa(
        &d,
        DsaOp::Memmove {
            src: RW,
            dst: RW + 0x4000,
            len: 8192,
        },
        REC,
    );
    assert_eq!(r.status, 1, "{name} {mode:?}");
    assert_eq!(d.read_mem(RW + 0x4000, 8192), src);
    // fill
    let r = dsa(
        &d,
        DsaOp::Fill {
            pattern: 0x1122_3344_5566_7788,
            dst: RW + 0x8000,
            len: 100,
        },
        REC,
    );
    assert_eq!(r.status, 1);
    let f = d.read_mem(RW + 0x8000, 100);
    assert_eq!(&f[..8], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(f[96..100], 0x1122_3344_5566_7788u64.to_le_bytes()[..4]);
    // compare: equal, different, and check-result mismatch (success with false predicate)
    let r = dsa(
        &d,
        DsaOp::Compare {
            src1: RW,
            src2: RW + 0x4000,
            len: 8192,
            expected: None,
        },
        REC,
    );
    assert_eq!((r.status, r.result), (1, 0));
    d.write_mem(RW + 0x4000 + 1000, &[src[1000] ^ 1]);
    let r = dsa(
        &d,
        DsaOp::Compare {
            src1: RW,
            src2: RW + 0x4000,
            len: 8192,
            expected: None,
        },
        REC,
    );
    assert_eq!((r.status, r.result, r.bytes_completed), (1, 1, 1000));
    let r = dsa(
        &d,
        DsaOp::Compare {
            src1: RW,
            src2: RW + 0x4000,
            len: 8192,
            expected: Some(0),
        },
        REC,
    );
    assert_eq!((r.status, r.result), (2, 1));
    // compare pattern
    let r = dsa(
        &d,
        DsaOp::ComparePattern {
            src: RW + 0x8000,
            pattern: 0x1122_3344_5566_7788,
            len: 96,
            expected: None,
        },
        REC,
    );
    assert_eq!((r.status, r.result), (1, 0));
    // CRC: generate and copy+CRC agree
    let r1 = dsa(
        &d,
        DsaOp::CrcGen {
            src: RW,
            len: 4096,
            seed: idxd_hw::CrcSeed::Value(0),
        },
        REC,
    );
    let r2 = dsa(
        &d,
        DsaOp::CopyCrc {
            src: RW,
            dst: RW + 0xa000,
            len: 4096,
            seed: idxd_hw::CrcSeed::Value(0),
        },
        REC + 32,
    );
    assert_eq!((r1.status, r2.status), (1, 1));
    // Against an independent bitwise CRC-32C (itself checked on the catalogue value below),
    // not against each other.
    assert_eq!(
        r1.crc_val(),
        crc32c_bitwise(&src[..4096]) as u64,
        "{name}: CRC generate"
    );
    assert_eq!(
        r2.crc_val(),
        crc32c_bitwise(&src[..4096]) as u64,
        "{name}: copy with CRC"
    );
    d.write_mem(RW + 0xc000, b"123456789");
    let r = dsa(
        &d,
        DsaOp::CrcGen {
            src: RW + 0xc000,
            len: 9,
            seed: idxd_hw::CrcSeed::Value(0),
        },
        REC,
    );
    assert_eq!(
        r.crc_val(),
        0xE306_9283,
        "{name}: CRC-32/ISCSI catalogue check value"
    );
    assert_eq!(d.read_mem(RW + 0xa000, 4096), src[..4096]);
    // dualcast
    let r = dsa(
        &d,
        DsaOp::Dualcast {
            src: RW,
            dst1: RW + 0x1_0000,
            dst2: RW + 0x2_0000,
            len: 4096,
        },
        REC,
    );
    assert_eq!(r.status, 1);
    assert_eq!(d.read_mem(RW + 0x2_0000, 4096), src[..4096]);
    // create + apply delta
    let mut modified = src[..4096].to_vec();
    modified[8] ^= 0xff;
    modified[4000] ^= 0x55;
    d.write_mem(RW + 0x3_0000, &modified);
    let r = dsa(
        &d,
        DsaOp::CreateDelta {
            src1: RW,
            src2: RW + 0x3_0000,
            len: 4096,
            delta_addr: RW + 0x4_0000,
            max_delta_size: 100,
            expected: None,
        },
        REC,
    );
    assert_eq!(
        (r.status, r.result, r.delta_rec_size()),
        (1, 1, 20),
        "{name}: two 8-byte words differ"
    );
    d.write_mem(RW + 0x5_0000, &src[..4096]);
    let r = dsa(
        &d,
        DsaOp::ApplyDelta {
            delta_addr: RW + 0x4_0000,
            delta_size: 20,
            dst: RW + 0x5_0000,
            len: 4096,
        },
        REC,
    );
    assert_eq!(r.status, 1);
    assert_eq!(d.read_mem(RW + 0x5_0000, 4096), modified);
    // cache flush, noop, drain
    assert_eq!(
        dsa(
            &d,
            DsaOp::CacheFlush {
                dst: RW,
                len: 4096,
                invalidate: true
            },
            REC
        )
        .status,
        1
    );
    assert_eq!(dsa(&d, DsaOp::Noop, REC).status, 1);
    assert_eq!(dsa(&d, DsaOp::Drain, REC).status, 1);

    // Page fault writing past the mapping: partial completion, fault address, write bit.
    let dst = RW + RW_LEN as u64 - 4096;
    let r = dsa(
        &d,
        DsaOp::Memmove {
            src: RW,
            dst,
            len: 8192,
        },
        REC,
    );
    assert_eq!(r.status, 0x83, "{name}: page fault on write");
    assert_eq!(r.fault_addr, RW + RW_LEN as u64);
    assert_eq!(r.bytes_completed, 4096);
    // The remainder can be resubmitted once the page is there.
    // Read-only destination.
    let r = dsa(
        &d,
        DsaOp::Memmove {
            src: RW,
            dst: RO,
            len: 64,
        },
        REC,
    );
    assert_eq!((r.status, r.fault_addr), (0x83, RO));
    // Unmapped source: read fault.
    let r = dsa(
        &d,
        DsaOp::Memmove {
            src: UNMAPPED,
            dst: RW,
            len: 64,
        },
        REC,
    );
    assert_eq!((r.status, r.fault_addr, r.bytes_completed), (0x03, UNMAPPED, 0));

    // Validation statuses, from raw descriptors.
    let good = DsaOp::Memmove {
        src: RW,
        dst: RW + 0x4000,
        len: 64,
    }
    .build(&Submit::polled(REC), &lim(&d))
    .unwrap();
    let mut bad = good;
    bad.set_opcode_flags(0x0a, good.flags_raw()); // not in OPCAP
    assert_eq!(dsa_raw(&d, bad.to_bytes(), REC).status, 0x10);
    let mut bad = good;
    bad.pasid_priv |= 1 << 20; // reserved bit of dword 0
    assert_eq!(dsa_raw(&d, bad.to_bytes(), REC).status, 0x12);
    let mut bad = good;
    bad.xfer_size = 0;
    assert_eq!(dsa_raw(&d, bad.to_bytes(), REC).status, 0x13);
    let mut bad = good;
    bad.set_opcode_flags(3, good.flags_raw() | idxd_hw::DescFlags::BLOCK_ON_FAULT.bits());
    assert_eq!(
        dsa_raw(&d, bad.to_bytes(), REC).status,
        0x11,
        "block on fault not enabled in the WQ"
    );
    // priv = 1 on a dedicated WQ with WQCFG priv = 0 runs (the kernel's vfio selftest dsa.c
    // relies on it; docs/hardware.md, "Where earlier notes were wrong" 7).
    let mut privileged = good;
    privileged.set_pasid(0, true);
    assert_eq!(
        dsa_raw(&d, privileged.to_bytes(), REC).status,
        0x01,
        "privileged on a dedicated WQ"
    );
    let mut dc = DsaOp::Dualcast {
        src: RW,
        dst1: RW,
        dst2: RW + 0x1000,
        len: 64,
    }
    .build(&Submit::polled(REC), &lim(&d))
    .unwrap();
    dc.set_op_u64(idxd_hw::desc::dsa_off::DEST2, RW + 0x1008);
    assert_eq!(dsa_raw(&d, dc.to_bytes(), REC).status, 0x17);
    let mut cd = good;
    cd.set_opcode_flags(7, good.flags_raw());
    cd.xfer_size = 64;
    cd.set_op_u64(idxd_hw::desc::dsa_off::DELTA_ADDR, RW + 0x4_0000);
    cd.set_op_u32(idxd_hw::desc::dsa_off::MAX_DELTA_SIZE, 15);
    assert_eq!(dsa_raw(&d, cd.to_bytes(), REC).status, 0x15);
    // Misaligned record: nothing written in memory, SWERR says 0x1b.
    ack_swerr(&d);
    let mut bad = good;
    bad.completion_addr = REC + 8;
    d.write_mem(REC, &[0; 64]);
    d.submit(0, &bad.to_bytes());
    wait_swerr(&d);
    let e = swerr(&d);
    assert_eq!((e.valid, e.error), (true, 0x1b), "{name}");
    assert_eq!(d.read_mem(REC + 8, 1)[0], 0);
    ack_swerr(&d);
    // Untranslatable record: SWERR 0x1a.
    let mut bad = good;
    bad.completion_addr = UNMAPPED;
    d.submit(0, &bad.to_bytes());
    wait_swerr(&d);
    assert_eq!(swerr(&d).error, 0x1a);
    ack_swerr(&d);

    batch_rules(&d, name);
}

fn wait_swerr(d: &Drv) {
    let deadline = std::time::Instant::now() + T;
    while d.dev.read64(off::SWERR) & 1 == 0 {
        assert!(std::time::Instant::now() < deadline, "no SWERR");
        std::thread::yield_now();
    }
}

fn batch_rules(d: &Drv, name: &str) {
    let l = lim(d);
    let list = RW + 0x6_0000;
    let member_rec = |i: u64| REC + 0x1000 + 32 * i;
    let members = |fail_at: Option<usize>| -> Vec<[u8; 64]> {
        (0..4)
            .map(|i| {
                let src = if Some(i) == fail_at { UNMAPPED } else { RW };
                DsaOp::Memmove {
                    src,
                    dst: RW + 0x7_0000 + 0x100 * i as u64,
                    len: 64,
                }
                .build(&Submit::polled(member_rec(i as u64)), &l)
                .unwrap()
                .to_bytes()
            })
            .collect()
    };
    let write_list = |m: &[[u8; 64]]| {
        for (i, b) in m.iter().enumerate() {
            d.write_mem(list + 64 * i as u64, b);
        }
        d.write_mem(REC + 0x1000, &[0; 256]);
    };
    // All succeed: batch status 1, every member record written.
    write_list(&members(None));
    let r = dsa(
        d,
        DsaOp::Batch {
            list_addr: list,
            count: 4,
        },
        REC,
    );
    assert_eq!((r.status, r.bytes_completed), (1, 4), "{name}");
    for i in 0..4 {
        assert_eq!(d.read_mem(member_rec(i), 1)[0], 1);
    }
    // One member fails: batch status 5, the member's own record says why.
    write_list(&members(Some(2)));
    let r = dsa(
        d,
        DsaOp::Batch {
            list_addr: list,
            count: 4,
        },
        REC,
    );
    assert_eq!(r.status, 5);
    assert_eq!(d.read_mem(member_rec(2), 1)[0], 3);
    assert_eq!(d.read_mem(member_rec(3), 1)[0], 1);
    // Count out of range, misaligned list.
    let mut b = DsaOp::Batch {
        list_addr: list,
        count: 4,
    }
    .build(&Submit::polled(REC), &l)
    .unwrap();
    b.xfer_size = 1;
    assert_eq!(dsa_raw(d, b.to_bytes(), REC).status, 0x14);
    b.xfer_size = l.max_batch + 1;
    assert_eq!(dsa_raw(d, b.to_bytes(), REC).status, 0x14);
    b.xfer_size = 4;
    b.src_addr = list + 32;
    assert_eq!(dsa_raw(d, b.to_bytes(), REC).status, 0x18);
    // A list that runs off the mapping: status 6 with the descriptors done; resubmit the rest.
    let tail = RW + RW_LEN as u64 - 128; // room for two descriptors
    let m = members(None);
    d.write_mem(tail, &m[0]);
    d.write_mem(tail + 64, &m[1]);
    d.write_mem(REC + 0x1000, &[0; 256]);
    let r = dsa(
        d,
        DsaOp::Batch {
            list_addr: tail,
            count: 4,
        },
        REC,
    );
    assert_eq!(
        (r.status, r.bytes_completed),
        (6, 2),
        "{name}: fault reading the list"
    );
    assert_eq!(d.read_mem(member_rec(1), 1)[0], 1);
    // Resubmit from list + done * 64, with the rest of the list where it can be read.
    d.write_mem(list, &m[2]);
    d.write_mem(list + 64, &m[3]);
    let r = dsa(
        d,
        DsaOp::Batch {
            list_addr: list,
            count: 2,
        },
        REC,
    );
    assert_eq!(r.status, 1);
    assert_eq!(d.read_mem(member_rec(3), 1)[0], 1);
}

#[test]
fn iaa_operations_and_statuses() {
    for name in PROFILES.iter().filter(|n| n.starts_with("iaa")) {
        for mode in [ExecMode::Inline, ExecMode::Threads] {
            iaa_suite(name, mode);
        }
    }
}

fn iaa_suite(name: &str, mode: ExecMode) {
    let d = setup(name, mode);
    assert_eq!(d.caps.kind, DeviceKind::Iaa);
    let page: Vec<u8> = (0..4096u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog "[(i % 44) as usize] ^ (i / 977) as u8)
        .collect();
    d.write_mem(RW, &page);
    let aecs = RW + 0x8000;
    d.write_mem(aecs, CompressAecs::fixed().as_bytes());
    let compress = |max_dst: u32| IaaOp::Compress {
        src: RW,
        len: 4096,
        dst: RW + 0x1_0000,
        max_dst,
        aecs,
        aecs_size: 1568,
        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
        crc32c: false,
        aecs_write: idxd_hw::AecsWrite::Never,
        aecs_select: false,
    };
    let r = iaa(&d, compress(4096), REC);
    assert_eq!(r.status, 1, "{name} {mode:?}: {r:?}");
    let clen = r.output_size;
    assert!(clen > 0 && clen < 2048, "{clen}");
    assert_eq!(r.crc, crc32fast::hash(&page));
    // decompress: success, then too little room (0x0b), then enough again
    let decompress = |max_dst: u32| IaaOp::Decompress {
        src: RW + 0x1_0000,
        len: clen,
        dst: RW + 0x2_0000,
        max_dst,
        flags: DecompressFlags::empty(),
        crc32c: false,
    };
    let r = iaa(&d, decompress(4096), REC);
    assert_eq!((r.status, r.output_size), (1, 4096));
    assert_eq!(d.read_mem(RW + 0x2_0000, 4096), page);
    assert_eq!(iaa(&d, decompress(1000), REC).status, 0x0b);
    assert_eq!(iaa(&d, decompress(4096), REC).status, 1);
    // compress output that cannot fit: analytics error 25
    let r = iaa(&d, compress(16), REC);
    assert_eq!((r.status, r.error_code), (0x0a, 25));
    // garbage input: an analytics error with a code
    d.write_mem(RW + 0x3_0000, &[0xff; 64]);
    let r = iaa(
        &d,
        IaaOp::Decompress {
            src: RW + 0x3_0000,
            len: 64,
            dst: RW + 0x2_0000,
            max_dst: 4096,
            flags: DecompressFlags::empty(),
            crc32c: false,
        },
        REC,
    );
    assert_eq!(r.status, 0x0a);
    assert!(
        idxd_hw::AnalyticsError::from_code(r.error_code).is_some(),
        "{}",
        r.error_code
    );
    // CRC64 (gzip's CRC-32 in the 64-bit form)
    d.write_mem(RW + 0x3_0000, b"123456789");
    let r = iaa(
        &d,
        IaaOp::Crc64 {
            src: RW + 0x3_0000,
            len: 9,
            poly: 0x04C1_1DB7_0000_0000,
            flags: Crc64Flags::INVERT,
        },
        REC,
    );
    assert_eq!(r.status, 1);
    assert_ne!(r.crc64(), 0);
    // memmove, and a page fault: status 4, no partial completion
    assert_eq!(
        iaa(
            &d,
            IaaOp::Memmove {
                src: RW,
                dst: RW + 0x4_0000,
                len: 4096
            },
            REC
        )
        .status,
        1
    );
    let r = iaa(
        &d,
        IaaOp::Memmove {
            src: RW,
            dst: RW + RW_LEN as u64 - 100,
            len: 4096,
        },
        REC,
    );
    // QPL hw_status.h: AD_STATUS_WRITE_PAGE_FAULT, 0x03 with bit 7 (a write).
    assert_eq!(r.status, 0x83, "{name}: IAA write fault");
    assert_eq!(r.fault_addr, RW + RW_LEN as u64);
    assert_eq!(r.bytes_completed, 0);
    // validation
    let good = IaaOp::Memmove {
        src: RW,
        dst: RW + 0x4_0000,
        len: 64,
    }
    .build(&Submit::polled(REC), &lim(&d))
    .unwrap();
    let mut bad = good;
    bad.set_opcode_flags(0x45, good.flags_raw());
    assert_eq!(iaa_raw(&d, bad.to_bytes(), REC).status, 0x10);
    let mut bad = good;
    bad.pasid_priv |= 1 << 25;
    assert_eq!(iaa_raw(&d, bad.to_bytes(), REC).status, 0x12);
    let mut bad = good;
    bad.src1_size = 0;
    assert_eq!(iaa_raw(&d, bad.to_bytes(), REC).status, 0x13);
    let mut c = compress(4096).build(&Submit::polled(REC), &lim(&d)).unwrap();
    c.src2_addr = aecs + 16;
    assert_eq!(iaa_raw(&d, c.to_bytes(), REC).status, 0x1c, "misaligned AECS");
    ack_swerr(&d);
    let mut bad = good;
    bad.completion_addr = REC + 32;
    d.submit(0, &bad.to_bytes());
    wait_swerr(&d);
    assert_eq!(swerr(&d).error, 0x1b);
    ack_swerr(&d);
}

#[test]
fn interrupts_are_signalled_on_the_descriptor_handle() {
    let d = setup("dsa-spr", ExecMode::Threads);
    let s = Submit {
        interrupt: Some(3),
        ..Submit::polled(REC)
    };
    let desc = DsaOp::Noop.build(&s, &lim(&d)).unwrap();
    d.submit(0, &desc.to_bytes());
    assert_eq!(d.dev.irq(3).unwrap().wait(T), 1);
    assert_eq!(d.wait_status(REC, T), Some(1));
    let c = d.dev.counters();
    assert_eq!(c.opcode(0), 1);
    assert_eq!(c.status(1), 1);
}
