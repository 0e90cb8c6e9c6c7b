//! Property tests: every register and table entry encodes and decodes losslessly (reserved bits
//! aside), raw descriptors and records survive their byte form, and every builder's descriptor
//! decodes back to the request it was built from.

use idxd_hw::regs::*;
use idxd_hw::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn registers_round_trip(v in any::<u64>(), w in any::<u64>(), x in any::<u64>()) {
        prop_assert_eq!(GenCap::decode(v).encode(), v & GenCap::DEFINED);
        prop_assert_eq!(WqCap::decode(v).encode(), v & WqCap::DEFINED);
        prop_assert_eq!(GrpCap::decode(v).encode(), v & GrpCap::DEFINED);
        prop_assert_eq!(EngCap::decode(v).encode(), v & EngCap::DEFINED);
        prop_assert_eq!(IaaCap::decode(v).encode(), v & IaaCap::DEFINED);
        let v32 = v as u32;
        prop_assert_eq!(Version::decode(v32).encode(), v32 & Version::DEFINED);
        prop_assert_eq!(GenCfg::decode(v32).encode(), v32 & GenCfg::DEFINED);
        prop_assert_eq!(GenCtrl::decode(v32).encode(), v32 & GenCtrl::DEFINED);
        prop_assert_eq!(GenSts::decode(v32).encode(), v32 & GenSts::DEFINED);
        prop_assert_eq!(CmdSts::decode(v32).encode(), v32 & CmdSts::DEFINED);
        prop_assert_eq!(Offsets::decode([v, w]).encode(), [v, w & 0xffff]);
        let q = SwErr::decode([v, w, x, 0]).encode();
        prop_assert_eq!(q, [v & SwErr::Q0_DEFINED, w & 0xffff_ffff_0000_ffff, x, 0]);
        prop_assert_eq!(IntCause::from_bits_retain(v32).bits(), v32);
        let op = OpCap([v, w, x, v ^ w]);
        for code in op.opcodes() {
            prop_assert!(op.supports(code));
        }
        prop_assert_eq!(op.opcodes().count() as u32, v.count_ones() + w.count_ones() + x.count_ones() + (v ^ w).count_ones());
    }

    #[test]
    fn commands_round_trip(code in 1u8..=14, operand in 0u32..(1 << 20), int in any::<bool>(), wq in 0u16..256) {
        let cmd = Cmd { command: Command::from_code(code).unwrap(), operand, request_int: int };
        prop_assert_eq!(Cmd::decode(cmd.encode()).unwrap(), cmd);
        let mask = wq_mask_operand(wq);
        prop_assert_eq!(wqs_of_mask_operand(mask).collect::<Vec<_>>(), vec![wq]);
    }

    #[test]
    fn table_entries_round_trip(d in prop::array::uniform16(any::<u32>()), q in prop::array::uniform8(any::<u64>())) {
        let e = WqCfg::decode(&d).encode();
        for i in 0..8 {
            prop_assert_eq!(e[i], d[i] & WqCfg::DEFINED[i], "dword {}", i);
        }
        prop_assert_eq!(&e[8..], &d[8..]);
        let c = WqCfg::decode(&d);
        prop_assert_eq!(WqCfg::decode(&c.encode()), c);
        let g = GrpCfg::decode(&q).encode();
        prop_assert_eq!(g, [q[0], q[1], q[2], q[3], q[4], q[5] & GrpCfg::FLAGS_DEFINED, 0, 0]);
    }

    #[test]
    fn raw_descriptors_and_records_round_trip(b in prop::collection::vec(any::<u8>(), 64)) {
        let b: [u8; 64] = b.try_into().unwrap();
        prop_assert_eq!(DsaDesc::from_bytes(&b).to_bytes(), b);
        prop_assert_eq!(IaaDesc::from_bytes(&b).to_bytes(), b);
        prop_assert_eq!(IaaCompletion::from_bytes(&b).to_bytes(), b);
        let h: [u8; 32] = b[..32].try_into().unwrap();
        prop_assert_eq!(DsaCompletion::from_bytes(&h).to_bytes(), h);
    }

    #[test]
    fn dsa_builders_decode_to_their_request(op in dsa_op(), s in submit(32)) {
        let lim = Limits { max_transfer: 1 << 31, max_batch: 1024 };
        let mut s = s;
        if matches!(op, DsaOp::Batch { .. }) { s.block_on_fault = false; }
        if matches!(op, DsaOp::CacheFlush { .. }) { s.cache_control = false; }
        let d = op.build(&s, &lim).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let d = DsaDesc::from_bytes(&d.to_bytes());
        prop_assert_eq!(DsaOp::decode(&d).unwrap(), (s, op));
    }

    #[test]
    fn iaa_builders_decode_to_their_request(op in iaa_op(), s in submit(64)) {
        let lim = Limits { max_transfer: 1 << 31, max_batch: 0 };
        let s = Submit { fence: false, ..s };
        let d = op.build(&s, &lim).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let d = IaaDesc::from_bytes(&d.to_bytes());
        prop_assert_eq!(IaaOp::decode(&d).unwrap(), (s, op));
    }
}

fn len() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=4096, 1u32..=(1 << 31)]
}

fn submit(align: u64) -> impl Strategy<Value = Submit> {
    (
        any::<u64>(),
        prop_oneof![
            Just(RecordMode::None),
            Just(RecordMode::OnError),
            Just(RecordMode::Always)
        ],
        proptest::option::of(any::<u16>()),
        any::<[bool; 4]>(),
        0u32..(1 << 20),
    )
        .prop_map(move |(addr, record, interrupt, b, pasid)| Submit {
            completion_addr: addr & !(align - 1),
            record,
            interrupt,
            fence: b[0],
            block_on_fault: b[1],
            cache_control: b[2],
            pasid,
            privileged: b[3],
        })
}

fn seed() -> impl Strategy<Value = CrcSeed> {
    prop_oneof![
        any::<u32>().prop_map(CrcSeed::Value),
        any::<u64>().prop_map(|a| CrcSeed::Address(a & !3))
    ]
}

fn dsa_op() -> impl Strategy<Value = DsaOp> {
    let a = any::<u64>;
    let delta_len = (1u32..=0x1_0000).prop_map(|n| n * 8);
    prop_oneof![
        Just(DsaOp::Noop),
        Just(DsaOp::Drain),
        (a(), 2u32..=1024).prop_map(|(l, count)| DsaOp::Batch {
            list_addr: l & !63,
            count
        }),
        (a(), a(), len()).prop_map(|(src, dst, len)| DsaOp::Memmove { src, dst, len }),
        (a(), a(), len()).prop_map(|(pattern, dst, len)| DsaOp::Fill { pattern, dst, len }),
        (a(), a(), len(), proptest::option::of(0u8..=1)).prop_map(|(src1, src2, len, expected)| {
            DsaOp::Compare {
                src1,
                src2,
                len,
                expected,
            }
        }),
        (a(), a(), len(), proptest::option::of(0u8..=1)).prop_map(|(src, pattern, len, expected)| {
            DsaOp::ComparePattern {
                src,
                pattern,
                len,
                expected,
            }
        }),
        (a(), len(), seed()).prop_map(|(src, len, seed)| DsaOp::CrcGen { src, len, seed }),
        (a(), a(), len(), seed()).prop_map(|(src, dst, len, seed)| DsaOp::CopyCrc { src, dst, len, seed }),
        (a(), a(), a(), len()).prop_map(|(src, d1, d2, len)| DsaOp::Dualcast {
            src,
            dst1: d1,
            dst2: (d2 & !0xfff) | (d1 & 0xfff),
            len
        }),
        (
            a(),
            a(),
            delta_len.clone(),
            a(),
            1u32..1000,
            proptest::option::of(any::<u8>())
        )
            .prop_map(|(src1, src2, len, da, n, expected)| DsaOp::CreateDelta {
                src1,
                src2,
                len,
                delta_addr: da & !7,
                max_delta_size: n * 10,
                expected
            }),
        (a(), 1u32..1000, a(), delta_len).prop_map(|(delta_addr, n, dst, len)| DsaOp::ApplyDelta {
            delta_addr,
            delta_size: n * 10,
            dst,
            len
        }),
        (a(), len(), any::<bool>()).prop_map(|(dst, len, invalidate)| DsaOp::CacheFlush {
            dst,
            len,
            invalidate
        }),
    ]
}

fn iaa_op() -> impl Strategy<Value = IaaOp> {
    let a = any::<u64>;
    let aecs_write = prop_oneof![
        Just(AecsWrite::Never),
        Just(AecsWrite::Always),
        Just(AecsWrite::OnOverflow)
    ];
    prop_oneof![
        Just(IaaOp::Noop),
        Just(IaaOp::Drain),
        (a(), a(), len()).prop_map(|(src, dst, len)| IaaOp::Memmove { src, dst, len }),
        (
            a(),
            len(),
            a(),
            1u32..,
            a(),
            0u16..16,
            any::<[bool; 2]>(),
            aecs_write,
            1568u32..=4096
        )
            .prop_map(
                |(src, len, dst, max_dst, aecs, f, b, aecs_write, size)| IaaOp::Compress {
                    src,
                    len,
                    dst,
                    max_dst,
                    aecs: aecs & !31,
                    // One copy, a multiple of 32 (QPL: HW_AECS_COMPRESSION_SIZE with or
                    // without the select bit). Statistics mode has no AECS: left out here.
                    aecs_size: (size & !31).max(1568),
                    flags: CompressFlags::from_bits_retain(f & !1),
                    crc32c: b[0],
                    aecs_write,
                    aecs_select: b[1],
                }
            ),
        (a(), len(), a(), 1u32.., any::<u16>(), any::<bool>()).prop_map(
            |(src, len, dst, max_dst, f, crc32c)| {
                IaaOp::Decompress {
                    src,
                    len,
                    dst,
                    max_dst,
                    flags: DecompressFlags::from_bits_retain(f & DecompressFlags::DEFINED_MASK & !1),
                    crc32c,
                }
            }
        ),
        (a(), len(), 1u64.., 0u16..4).prop_map(|(src, len, poly, f)| IaaOp::Crc64 {
            src,
            len,
            poly,
            flags: Crc64Flags::from_bits_retain(f << 14)
        }),
    ]
}
