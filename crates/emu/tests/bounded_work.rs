//! A descriptor's declared sizes cost nothing beyond what is mapped: a hostile descriptor
//! declaring a 2 GiB source (or a 2 GiB destination) over a 4 KiB mapping faults at the end of
//! the mapping without the emulator first allocating (and zero-filling) the declared size.

use idxd_emu::testkit::MiniDriver;
use idxd_hw::{DecompressFlags, IaaOp, IaaStatus, Limits, Submit};

const SRC: u64 = 0x1_0000_0000;
const DST: u64 = 0x20_0000;
const REC: u64 = 0x2_0000_0000;
const HUGE: u32 = 0x7fff_f000;

/// Peak resident memory of this process, from /proc (kB).
fn peak_rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn decompress(d: &MiniDriver, len: u32, max_dst: u32) -> (u8, u64) {
    let desc = IaaOp::Decompress {
        src: SRC,
        len,
        dst: DST,
        max_dst,
        flags: DecompressFlags::empty(),
        crc32c: false,
    }
    .build(&Submit::polled(REC), &Limits::from_shifts(31, 0))
    .unwrap()
    .to_bytes();
    d.write_mem(REC, &[0u8; 64]);
    d.submit(0, &desc);
    let status = d
        .wait_status(REC, std::time::Duration::from_secs(5))
        .expect("a record");
    let rec: [u8; 64] = d.record(REC);
    (status, u64::from_le_bytes(rec[8..16].try_into().unwrap()))
}

#[test]
fn declared_sizes_beyond_the_mapping_fault_without_allocating_them() {
    let d = MiniDriver::inline("iaa-spr");
    d.bring_up(&[idxd_emu::testkit::WqSpec::dedicated(0, 8)]);
    d.map(SRC, 4096, false);
    d.map(DST, 4096, true);
    d.map(REC, 4096, true);
    // The declared source runs 2 GiB past the 4 KiB mapping.
    let before = peak_rss_kb();
    let (status, fault) = decompress(&d, HUGE, 4096);
    let grew = peak_rss_kb().saturating_sub(before);
    assert_eq!(status & 0x7f, IaaStatus::PageFault.code(), "a read fault");
    assert_eq!(fault, SRC + 4096, "at the first unmapped source byte");
    assert!(
        grew < 256 * 1024,
        "peak RSS grew by {grew} kB for a 2 GiB declared source"
    );

    // A stream of zeros that expands to 64 KiB at the start of a 1 MiB mapped source (the rest
    // follows its final block), into a destination declared as 2 GiB but mapped for 4 KiB: a
    // write fault at the end of the mapping. Sized by the source alone, the output room would be
    // about 1 GiB.
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(9));
    std::io::Write::write_all(&mut enc, &vec![0u8; 65536]).unwrap();
    let stream = enc.finish().unwrap();
    d.map(SRC + 4096, (1 << 20) - 4096, false);
    d.write_mem(SRC, &stream);
    let before = peak_rss_kb();
    let (status, fault) = decompress(&d, 1 << 20, HUGE);
    let grew = peak_rss_kb().saturating_sub(before);
    assert_eq!(status, IaaStatus::PageFault.code() | 0x80, "a write fault");
    assert_eq!(fault, DST + 4096, "at the first unmapped destination byte");
    assert!(
        grew < 256 * 1024,
        "peak RSS grew by {grew} kB for a 2 GiB declared destination"
    );
}
