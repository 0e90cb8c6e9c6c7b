//! Golden CRC values through the emulated devices, submitted by portal writes: CRC catalogue
//! check values (reveng.sourceforge.io "Catalogue of parametrised CRC algorithms") and the
//! RFC 3720 appendix B.4 vectors, never values computed with the code under test.
//!
//! - DSA CRC generation and copy-with-CRC produce CRC-32C (CRC-32/ISCSI, check 0xE3069283).
//!   The seed is a finished CRC that the operation continues (seed 0 = the plain CRC-32C;
//!   `crc(seed = crc(a), b) == crc(a ++ b)`), which is how SPDK's DSA driver uses it
//!   (docs/hardware.md, "DSA CRC32C"), in the descriptor or read from `seed_addr` (flag bit 16).
//! - IAA compress records the CRC-32 (CRC-32/ISO-HDLC, check 0xCBF43926) of the uncompressed
//!   data, or CRC-32C with the RFC 3720 flag (`IDXD_OP_FLAG_CRC_RFC3720`).
//!
//! (The IAA CRC64 operation's catalogue vectors live with its flag semantics, elsewhere.)

mod common;

use std::time::Duration;

use common::{Drv, PROFILES};
use idxd_emu::device::{EmuConfig, ExecMode};
use idxd_hw::{
    CompressAecs, CompressFlags, CrcSeed, DeviceKind, DsaCompletion, DsaOp, EndProcessing, IaaCompletion,
    IaaOp, Limits, Submit,
};

const BUF: u64 = 0x10_0000;
const REC: u64 = 0x20_0000;
const T: Duration = Duration::from_secs(5);
const CHECK: &[u8] = b"123456789";

/// CRC-32/ISCSI check value (catalogue).
const CRC32C_CHECK: u32 = 0xE306_9283;
/// CRC-32/ISO-HDLC check value (catalogue).
const CRC32_CHECK: u32 = 0xCBF4_3926;

/// RFC 3720 appendix B.4: CRC-32C of 32-byte buffers (the CRC bytes there are listed in the
/// order they are sent, least significant first: "aa 36 91 8a" is 0x8A9136AA).
fn rfc3720_vectors() -> Vec<(&'static str, Vec<u8>, u32)> {
    vec![
        ("32 bytes of zeros", vec![0u8; 32], 0x8A91_36AA),
        ("32 bytes of 0xff", vec![0xffu8; 32], 0x62A8_AB43),
        ("32 incrementing bytes", (0..32u8).collect(), 0x46DD_794E),
        ("32 decrementing bytes", (0..32u8).rev().collect(), 0x113F_DB5C),
    ]
}

fn up(name: &str) -> Drv {
    let d = Drv::up(
        name,
        EmuConfig {
            mode: ExecMode::Inline,
            ..Default::default()
        },
        8,
    );
    d.map(BUF, 1 << 16, true);
    d.map(REC, 4096, true);
    d
}

fn lim(d: &Drv) -> Limits {
    Limits::from_shifts(d.caps.gencap.max_xfer_shift, d.caps.gencap.max_batch_shift)
}

fn dsa(d: &Drv, op: DsaOp) -> DsaCompletion {
    let desc = op.build(&Submit::polled(REC), &lim(d)).unwrap();
    d.write_mem(REC, &[0; 32]);
    d.submit(0, &desc.to_bytes());
    d.wait_status(REC, T).expect("record written");
    DsaCompletion::from_bytes(&d.record::<32>(REC))
}

fn crc_gen(d: &Drv, data: &[u8], seed: CrcSeed) -> u32 {
    d.write_mem(BUF, data);
    let r = dsa(
        d,
        DsaOp::CrcGen {
            src: BUF,
            len: data.len() as u32,
            seed,
        },
    );
    assert_eq!(r.status, 1, "{r:?}");
    assert_eq!(r.crc_val() >> 32, 0, "CRC-32C sits in the low half of crc_val");
    r.crc_val() as u32
}

#[test]
fn dsa_crc_generation_gives_the_catalogue_crc32c() {
    for name in PROFILES.iter().filter(|n| n.starts_with("dsa")) {
        let d = up(name);
        assert_eq!(d.caps.kind, DeviceKind::Dsa);
        assert_eq!(
            crc_gen(&d, CHECK, CrcSeed::Value(0)),
            CRC32C_CHECK,
            "{name}: CRC-32/ISCSI check"
        );
        for (what, data, want) in rfc3720_vectors() {
            assert_eq!(
                crc_gen(&d, &data, CrcSeed::Value(0)),
                want,
                "{name}: RFC 3720 B.4, {what}"
            );
        }
        // The seed continues a finished CRC: "12345" then "6789" seeded with the first CRC.
        let first = crc_gen(&d, &CHECK[..5], CrcSeed::Value(0));
        assert_ne!(first, CRC32C_CHECK);
        assert_eq!(
            crc_gen(&d, &CHECK[5..], CrcSeed::Value(first)),
            CRC32C_CHECK,
            "{name}: seeded continuation"
        );
        // The same seed read from memory (flag bit 16, `seed_addr`).
        let seed_at = BUF + 0x8000;
        d.write_mem(seed_at, &first.to_le_bytes());
        assert_eq!(
            crc_gen(&d, &CHECK[5..], CrcSeed::Address(seed_at)),
            CRC32C_CHECK,
            "{name}: seed from seed_addr"
        );
        // A wrong seed gives a different value (the seed is really used).
        assert_ne!(crc_gen(&d, &CHECK[5..], CrcSeed::Value(!first)), CRC32C_CHECK);

        // Copy with CRC: the same value, and the copy.
        d.write_mem(BUF, CHECK);
        d.write_mem(BUF + 0x1000, &[0; 16]);
        let r = dsa(
            &d,
            DsaOp::CopyCrc {
                src: BUF,
                dst: BUF + 0x1000,
                len: CHECK.len() as u32,
                seed: CrcSeed::Value(0),
            },
        );
        assert_eq!(
            (r.status, r.crc_val()),
            (1, CRC32C_CHECK as u64),
            "{name}: copy with CRC"
        );
        assert_eq!(d.read_mem(BUF + 0x1000, 16), [CHECK, &[0u8; 7][..]].concat());
    }
}

#[test]
fn iaa_compress_records_the_catalogue_crc32_or_crc32c() {
    for name in PROFILES.iter().filter(|n| n.starts_with("iaa")) {
        let d = up(name);
        assert_eq!(d.caps.kind, DeviceKind::Iaa);
        let aecs = BUF + 0x4000;
        d.write_mem(aecs, CompressAecs::fixed().as_bytes());
        d.write_mem(BUF, CHECK);
        for (crc32c, want, what) in [
            (false, CRC32_CHECK, "CRC-32/ISO-HDLC"),
            (true, CRC32C_CHECK, "CRC-32/ISCSI"),
        ] {
            let op = IaaOp::Compress {
                src: BUF,
                len: CHECK.len() as u32,
                dst: BUF + 0x1000,
                max_dst: 4096,
                aecs,
                aecs_size: 1568,
                flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
                crc32c,
                aecs_write: idxd_hw::AecsWrite::Never,
                aecs_select: false,
            };
            let desc = op.build(&Submit::polled(REC), &lim(&d)).unwrap();
            d.write_mem(REC, &[0; 64]);
            d.submit(0, &desc.to_bytes());
            d.wait_status(REC, T).expect("record written");
            let r = IaaCompletion::from_bytes(&d.record::<64>(REC));
            assert_eq!((r.status, r.crc), (1, want), "{name}: compress record, {what}");
            // Decompressing it records the same CRC of the (decompressed) data.
            let op = IaaOp::Decompress {
                src: BUF + 0x1000,
                len: r.output_size,
                dst: BUF + 0x2000,
                max_dst: 4096,
                flags: idxd_hw::DecompressFlags::empty(),
                crc32c,
            };
            let desc = op.build(&Submit::polled(REC), &lim(&d)).unwrap();
            d.write_mem(REC, &[0; 64]);
            d.submit(0, &desc.to_bytes());
            d.wait_status(REC, T).expect("record written");
            let r = IaaCompletion::from_bytes(&d.record::<64>(REC));
            assert_eq!(
                (r.status, r.output_size, r.crc),
                (1, CHECK.len() as u32, want),
                "{name}: decompress record, {what}"
            );
            assert_eq!(d.read_mem(BUF + 0x2000, CHECK.len()), CHECK);
        }
    }
}
