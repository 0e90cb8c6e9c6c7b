//! Typed DSA operations: build a validated [`DsaDesc`] from a [`DsaOp`], and decode a descriptor
//! back into the operation it requests.

use crate::desc::{dsa_off, DsaDesc};
use crate::flags::DescFlags;
use crate::opcode::DsaOpcode;
use crate::submit::{check_align, check_len, check_submit, BuildError, Limits, Submit};
use crate::HwError;

/// Alignment of a DSA completion record.
pub const DSA_RECORD_ALIGN: u64 = 32;
/// Alignment of a batch descriptor list.
pub const BATCH_LIST_ALIGN: u64 = 64;
/// Size of one delta-record entry (2-byte offset + 8 bytes of data).
pub const DELTA_ENTRY_SIZE: u32 = 10;
/// Largest transfer a create/apply delta operation accepts (offsets are 16-bit, in 8-byte units).
pub const DELTA_MAX_TRANSFER: u32 = 0x8_0000;

/// Where a CRC operation takes its seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrcSeed {
    /// The 32-bit seed in the descriptor.
    Value(u32),
    /// Read the seed from this address.
    Address(u64),
}

/// A DSA operation and its operands (addresses are I/O virtual addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DsaOp {
    /// No operation: only the completion (useful as a fence or a probe).
    Noop,
    /// Wait for every earlier descriptor of the WQ.
    Drain,
    /// Process `count` descriptors stored at `list_addr`.
    Batch {
        /// 64-byte aligned descriptor list.
        list_addr: u64,
        /// Number of descriptors, in [2, max batch].
        count: u32,
    },
    /// Copy `len` bytes (overlap allowed where GENCAP says so).
    Memmove {
        /// Source.
        src: u64,
        /// Destination.
        dst: u64,
        /// Bytes.
        len: u32,
    },
    /// Fill `len` bytes with an 8-byte pattern.
    Fill {
        /// The pattern.
        pattern: u64,
        /// Destination.
        dst: u64,
        /// Bytes.
        len: u32,
    },
    /// Compare two buffers; result 0 equal, 1 different (first difference in bytes_completed).
    Compare {
        /// First source.
        src1: u64,
        /// Second source.
        src2: u64,
        /// Bytes.
        len: u32,
        /// With check-result: the expected result (a mismatch completes with "success, false predicate").
        expected: Option<u8>,
    },
    /// Compare a buffer with an 8-byte pattern.
    ComparePattern {
        /// Source.
        src: u64,
        /// The pattern.
        pattern: u64,
        /// Bytes.
        len: u32,
        /// With check-result: the expected result.
        expected: Option<u8>,
    },
    /// CRC32C of a buffer.
    CrcGen {
        /// Source.
        src: u64,
        /// Bytes.
        len: u32,
        /// Seed.
        seed: CrcSeed,
    },
    /// Copy a buffer and compute its CRC32C.
    CopyCrc {
        /// Source.
        src: u64,
        /// Destination.
        dst: u64,
        /// Bytes.
        len: u32,
        /// Seed.
        seed: CrcSeed,
    },
    /// Copy one source to two destinations (bits 11:0 of the two must be equal).
    Dualcast {
        /// Source.
        src: u64,
        /// First destination.
        dst1: u64,
        /// Second destination.
        dst2: u64,
        /// Bytes.
        len: u32,
    },
    /// Record the 8-byte words where `src2` differs from `src1`.
    CreateDelta {
        /// Original.
        src1: u64,
        /// Modified.
        src2: u64,
        /// Bytes (multiple of 8, at most 512 KiB).
        len: u32,
        /// Where the delta record goes.
        delta_addr: u64,
        /// Room for the delta record (multiple of 10).
        max_delta_size: u32,
        /// With check-result: the expected result.
        expected: Option<u8>,
    },
    /// Apply a delta record to a buffer.
    ApplyDelta {
        /// The delta record.
        delta_addr: u64,
        /// Its size (multiple of 10).
        delta_size: u32,
        /// The buffer to patch.
        dst: u64,
        /// Its size (multiple of 8).
        len: u32,
    },
    /// Flush cache lines covering a range.
    CacheFlush {
        /// Start.
        dst: u64,
        /// Bytes.
        len: u32,
        /// Invalidate the lines (else they may stay cached, written back).
        invalidate: bool,
    },
}

impl DsaOp {
    /// The opcode of this operation.
    pub const fn opcode(&self) -> DsaOpcode {
        match self {
            DsaOp::Noop => DsaOpcode::Noop,
            DsaOp::Drain => DsaOpcode::Drain,
            DsaOp::Batch { .. } => DsaOpcode::Batch,
            DsaOp::Memmove { .. } => DsaOpcode::Memmove,
            DsaOp::Fill { .. } => DsaOpcode::Fill,
            DsaOp::Compare { .. } => DsaOpcode::Compare,
            DsaOp::ComparePattern { .. } => DsaOpcode::ComparePattern,
            DsaOp::CrcGen { .. } => DsaOpcode::CrcGen,
            DsaOp::CopyCrc { .. } => DsaOpcode::CopyCrc,
            DsaOp::Dualcast { .. } => DsaOpcode::Dualcast,
            DsaOp::CreateDelta { .. } => DsaOpcode::CreateDelta,
            DsaOp::ApplyDelta { .. } => DsaOpcode::ApplyDelta,
            DsaOp::CacheFlush { .. } => DsaOpcode::CacheFlush,
        }
    }

    /// Builds the descriptor, checking everything the hardware would refuse.
    pub fn build(&self, submit: &Submit, limits: &Limits) -> Result<DsaDesc, BuildError> {
        check_submit(submit, DSA_RECORD_ALIGN)?;
        let name = self.opcode().description();
        let mut d = DsaDesc::default();
        let mut flags = submit.flags();
        match *self {
            DsaOp::Noop | DsaOp::Drain => {}
            DsaOp::Batch { list_addr, count } => {
                if submit.block_on_fault {
                    return Err(BuildError::InvalidFlags {
                        op: name,
                        why: "block-on-fault is reserved in a batch",
                    });
                }
                if count < 2 || count > limits.max_batch {
                    return Err(BuildError::BatchCount {
                        count,
                        max: limits.max_batch,
                    });
                }
                check_align("batch descriptor list", list_addr, BATCH_LIST_ALIGN)?;
                d.src_addr = list_addr;
                d.xfer_size = count;
            }
            DsaOp::Memmove { src, dst, len } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (src, dst, len);
            }
            DsaOp::Fill { pattern, dst, len } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (pattern, dst, len);
            }
            DsaOp::Compare {
                src1,
                src2,
                len,
                expected,
            } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (src1, src2, len);
                set_expected(&mut d, &mut flags, expected)?;
            }
            DsaOp::ComparePattern {
                src,
                pattern,
                len,
                expected,
            } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (src, pattern, len);
                set_expected(&mut d, &mut flags, expected)?;
            }
            DsaOp::CrcGen { src, len, seed } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.xfer_size) = (src, len);
                set_seed(&mut d, &mut flags, seed)?;
            }
            DsaOp::CopyCrc { src, dst, len, seed } => {
                check_len(name, len, limits)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (src, dst, len);
                set_seed(&mut d, &mut flags, seed)?;
            }
            DsaOp::Dualcast { src, dst1, dst2, len } => {
                check_len(name, len, limits)?;
                if dst1 & 0xfff != dst2 & 0xfff {
                    return Err(BuildError::Misaligned {
                        what: "dualcast second destination (bits 11:0 differ)",
                        addr: dst2,
                        align: 4096,
                    });
                }
                (d.src_addr, d.dst_addr, d.xfer_size) = (src, dst1, len);
                d.set_op_u64(dsa_off::DEST2, dst2);
            }
            DsaOp::CreateDelta {
                src1,
                src2,
                len,
                delta_addr,
                max_delta_size,
                expected,
            } => {
                check_len(name, len, limits)?;
                check_delta_len(len)?;
                if max_delta_size == 0 || max_delta_size % DELTA_ENTRY_SIZE != 0 {
                    return Err(BuildError::OutOfRange {
                        what: "max delta record size",
                        value: max_delta_size as u64,
                    });
                }
                check_align("delta record", delta_addr, 8)?;
                (d.src_addr, d.dst_addr, d.xfer_size) = (src1, src2, len);
                d.set_op_u64(dsa_off::DELTA_ADDR, delta_addr);
                d.set_op_u32(dsa_off::MAX_DELTA_SIZE, max_delta_size);
                if let Some(e) = expected {
                    flags |= DescFlags::CHECK_RESULT;
                    d.set_op_u8(dsa_off::EXPECTED_RES_MASK, e);
                }
            }
            DsaOp::ApplyDelta {
                delta_addr,
                delta_size,
                dst,
                len,
            } => {
                check_len(name, len, limits)?;
                check_delta_len(len)?;
                if delta_size == 0 || delta_size % DELTA_ENTRY_SIZE != 0 {
                    return Err(BuildError::OutOfRange {
                        what: "delta record size",
                        value: delta_size as u64,
                    });
                }
                (d.src_addr, d.dst_addr, d.xfer_size) = (delta_addr, dst, len);
                d.set_op_u32(dsa_off::DELTA_REC_SIZE, delta_size);
            }
            DsaOp::CacheFlush { dst, len, invalidate } => {
                check_len(name, len, limits)?;
                if submit.cache_control {
                    return Err(BuildError::InvalidFlags {
                        op: name,
                        why: "use `invalidate`, not cache_control",
                    });
                }
                (d.dst_addr, d.xfer_size) = (dst, len);
                flags.set(DescFlags::CACHE_CONTROL, !invalidate);
            }
        }
        d.set_pasid(submit.pasid, submit.privileged);
        d.set_opcode_flags(self.opcode().code(), flags.bits());
        d.completion_addr = submit.completion_addr;
        d.int_handle = submit.interrupt.unwrap_or(0);
        Ok(d)
    }

    /// Decodes a descriptor into its submit part and operation. This is a structural decode,
    /// not the device's validation: it fails only for an opcode this model does not know.
    pub fn decode(d: &DsaDesc) -> Result<(Submit, DsaOp), HwError> {
        let opcode = DsaOpcode::try_from(d.opcode_raw())?;
        let mut flags = d.flags();
        let expected = |d: &DsaDesc, f: DescFlags| {
            f.contains(DescFlags::CHECK_RESULT)
                .then(|| d.op_u8(dsa_off::EXPECTED_RES))
        };
        let seed = |d: &DsaDesc, f: DescFlags| {
            if f.contains(DescFlags::CRC_SEED_FROM_ADDR) {
                CrcSeed::Address(d.op_u64(dsa_off::SEED_ADDR))
            } else {
                CrcSeed::Value(d.op_u32(dsa_off::CRC_SEED))
            }
        };
        let op = match opcode {
            DsaOpcode::Noop => DsaOp::Noop,
            DsaOpcode::Drain => DsaOp::Drain,
            DsaOpcode::Batch => DsaOp::Batch {
                list_addr: d.src_addr,
                count: d.xfer_size,
            },
            DsaOpcode::Memmove => DsaOp::Memmove {
                src: d.src_addr,
                dst: d.dst_addr,
                len: d.xfer_size,
            },
            DsaOpcode::Fill => DsaOp::Fill {
                pattern: d.src_addr,
                dst: d.dst_addr,
                len: d.xfer_size,
            },
            DsaOpcode::Compare => DsaOp::Compare {
                src1: d.src_addr,
                src2: d.dst_addr,
                len: d.xfer_size,
                expected: expected(d, flags),
            },
            DsaOpcode::ComparePattern => DsaOp::ComparePattern {
                src: d.src_addr,
                pattern: d.dst_addr,
                len: d.xfer_size,
                expected: expected(d, flags),
            },
            DsaOpcode::CrcGen => DsaOp::CrcGen {
                src: d.src_addr,
                len: d.xfer_size,
                seed: seed(d, flags),
            },
            DsaOpcode::CopyCrc => DsaOp::CopyCrc {
                src: d.src_addr,
                dst: d.dst_addr,
                len: d.xfer_size,
                seed: seed(d, flags),
            },
            DsaOpcode::Dualcast => DsaOp::Dualcast {
                src: d.src_addr,
                dst1: d.dst_addr,
                dst2: d.op_u64(dsa_off::DEST2),
                len: d.xfer_size,
            },
            DsaOpcode::CreateDelta => DsaOp::CreateDelta {
                src1: d.src_addr,
                src2: d.dst_addr,
                len: d.xfer_size,
                delta_addr: d.op_u64(dsa_off::DELTA_ADDR),
                max_delta_size: d.op_u32(dsa_off::MAX_DELTA_SIZE),
                expected: flags
                    .contains(DescFlags::CHECK_RESULT)
                    .then(|| d.op_u8(dsa_off::EXPECTED_RES_MASK)),
            },
            DsaOpcode::ApplyDelta => DsaOp::ApplyDelta {
                delta_addr: d.src_addr,
                delta_size: d.op_u32(dsa_off::DELTA_REC_SIZE),
                dst: d.dst_addr,
                len: d.xfer_size,
            },
            DsaOpcode::CacheFlush => {
                let invalidate = !flags.contains(DescFlags::CACHE_CONTROL);
                flags.remove(DescFlags::CACHE_CONTROL);
                DsaOp::CacheFlush {
                    dst: d.dst_addr,
                    len: d.xfer_size,
                    invalidate,
                }
            }
            other => {
                return Err(HwError::InvalidField {
                    field: "DSA opcode (not modelled)",
                    value: other.code() as u64,
                })
            }
        };
        let submit = Submit::decode(d.completion_addr, flags, d.int_handle, d.pasid(), d.privileged());
        Ok((submit, op))
    }
}

fn set_expected(d: &mut DsaDesc, flags: &mut DescFlags, expected: Option<u8>) -> Result<(), BuildError> {
    if let Some(e) = expected {
        if e > 1 {
            return Err(BuildError::OutOfRange {
                what: "expected compare result",
                value: e as u64,
            });
        }
        *flags |= DescFlags::CHECK_RESULT;
        d.set_op_u8(dsa_off::EXPECTED_RES, e);
    }
    Ok(())
}

fn set_seed(d: &mut DsaDesc, flags: &mut DescFlags, seed: CrcSeed) -> Result<(), BuildError> {
    match seed {
        CrcSeed::Value(v) => d.set_op_u32(dsa_off::CRC_SEED, v),
        CrcSeed::Address(a) => {
            check_align("CRC seed", a, 4)?;
            *flags |= DescFlags::CRC_SEED_FROM_ADDR;
            d.set_op_u64(dsa_off::SEED_ADDR, a);
        }
    }
    Ok(())
}

fn check_delta_len(len: u32) -> Result<(), BuildError> {
    if len % 8 != 0 || len > DELTA_MAX_TRANSFER {
        return Err(BuildError::OutOfRange {
            what: "delta transfer size (multiple of 8, <= 512 KiB)",
            value: len as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submit::RecordMode;

    const LIM: Limits = Limits {
        max_transfer: 1 << 31,
        max_batch: 1024,
    };

    #[test]
    fn memmove_sets_record_flags() {
        let d = DsaOp::Memmove {
            src: 0x1000,
            dst: 0x2000,
            len: 4096,
        }
        .build(&Submit::polled(0x40), &LIM)
        .unwrap();
        assert_eq!(d.opcode_raw(), 3);
        assert_eq!(d.flags(), DescFlags::CRAV | DescFlags::RCR);
        assert_eq!(
            (d.src_addr, d.dst_addr, d.xfer_size, d.completion_addr),
            (0x1000, 0x2000, 4096, 0x40)
        );
    }

    #[test]
    fn impossible_requests_are_refused() {
        let s = Submit::polled(0x40);
        assert_eq!(
            DsaOp::Memmove {
                src: 0,
                dst: 0,
                len: 0
            }
            .build(&s, &LIM),
            Err(BuildError::ZeroTransfer { op: "memory move" })
        );
        let small = Limits {
            max_transfer: 4096,
            max_batch: 32,
        };
        assert!(matches!(
            DsaOp::Fill {
                pattern: 0,
                dst: 0,
                len: 4097
            }
            .build(&s, &small),
            Err(BuildError::TransferTooLarge {
                size: 4097,
                max: 4096,
                ..
            })
        ));
        assert!(matches!(
            DsaOp::Noop.build(&Submit::polled(0x48), &LIM),
            Err(BuildError::Misaligned { align: 32, .. })
        ));
        // an unaligned record address is fine when no record is requested
        let none = Submit {
            completion_addr: 0x48,
            record: RecordMode::None,
            ..Default::default()
        };
        assert!(DsaOp::Noop.build(&none, &LIM).is_ok());
        for count in [0, 1, 1025] {
            assert_eq!(
                DsaOp::Batch {
                    list_addr: 0x1000,
                    count
                }
                .build(&s, &LIM),
                Err(BuildError::BatchCount { count, max: 1024 })
            );
        }
        assert!(DsaOp::Batch {
            list_addr: 0x1000,
            count: 4
        }
        .build(
            &s,
            &Limits {
                max_transfer: 4096,
                max_batch: 0
            }
        )
        .is_err());
        assert!(matches!(
            DsaOp::Batch {
                list_addr: 0x1020,
                count: 4
            }
            .build(&s, &LIM),
            Err(BuildError::Misaligned { .. })
        ));
        let bof = Submit {
            block_on_fault: true,
            ..s
        };
        assert!(matches!(
            DsaOp::Batch {
                list_addr: 0x1000,
                count: 4
            }
            .build(&bof, &LIM),
            Err(BuildError::InvalidFlags { .. })
        ));
        assert!(DsaOp::Dualcast {
            src: 0,
            dst1: 0x1000,
            dst2: 0x2008,
            len: 8
        }
        .build(&s, &LIM)
        .is_err());
        assert!(DsaOp::Compare {
            src1: 0,
            src2: 0,
            len: 8,
            expected: Some(2)
        }
        .build(&s, &LIM)
        .is_err());
        assert!(DsaOp::ApplyDelta {
            delta_addr: 0,
            delta_size: 15,
            dst: 0,
            len: 8
        }
        .build(&s, &LIM)
        .is_err());
        assert!(DsaOp::CreateDelta {
            src1: 0,
            src2: 0,
            len: 12,
            delta_addr: 0,
            max_delta_size: 10,
            expected: None
        }
        .build(&s, &LIM)
        .is_err());
        let wide = Submit { pasid: 1 << 20, ..s };
        assert!(DsaOp::Noop.build(&wide, &LIM).is_err());
    }

    #[test]
    fn crc_seed_from_address_sets_flag() {
        let d = DsaOp::CrcGen {
            src: 0,
            len: 8,
            seed: CrcSeed::Address(0x100),
        }
        .build(&Submit::polled(0), &LIM)
        .unwrap();
        assert!(d.flags().contains(DescFlags::CRC_SEED_FROM_ADDR));
        assert_eq!(d.op_u64(dsa_off::SEED_ADDR), 0x100);
        let d = DsaOp::CrcGen {
            src: 0,
            len: 8,
            seed: CrcSeed::Value(0xffff_ffff),
        }
        .build(&Submit::polled(0), &LIM)
        .unwrap();
        assert_eq!(d.op_u32(dsa_off::CRC_SEED), 0xffff_ffff);
        assert!(!d.flags().contains(DescFlags::CRC_SEED_FROM_ADDR));
    }
}
