//! Typed IAA operations: build a validated [`IaaDesc`] from an [`IaaOp`], and decode a
//! descriptor back into the operation it requests.

use crate::aecs::{AECS_ALIGN, COMPRESS_AECS_SIZE, HISTOGRAM_SIZE};
use crate::desc::IaaDesc;
use crate::flags::{CompressFlags, Crc64Flags, DecompressFlags, DescFlags};
use crate::opcode::IaaOpcode;
use crate::submit::{check_align, check_len, check_submit, BuildError, Limits, Submit};
use crate::HwError;

/// Alignment of an IAA completion record.
pub const IAA_RECORD_ALIGN: u64 = 64;

/// When the device writes the compress AECS back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AecsWrite {
    /// Never.
    #[default]
    Never,
    /// Always (to continue a stream in a later job).
    Always,
    /// Only when the output overflowed.
    OnOverflow,
}

/// An IAA operation and its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IaaOp {
    /// No operation.
    Noop,
    /// Wait for every earlier descriptor of the WQ.
    Drain,
    /// Copy `len` bytes.
    Memmove {
        /// Source.
        src: u64,
        /// Destination.
        dst: u64,
        /// Bytes.
        len: u32,
    },
    /// Deflate `len` bytes at `src` into at most `max_dst` bytes at `dst`, with the code tables
    /// and output accumulator of the AECS at `aecs`.
    ///
    /// AECS double buffering (QPL `hw_iaa_aecs_compress_get_aecs_ptr`, `qpl_hw_check_job.cpp`):
    /// `aecs_size` is the size of *one* copy; copy 0 is at `aecs`, copy 1 at `aecs + aecs_size`.
    /// The job reads copy `aecs_select as usize` and, when it writes the AECS back, writes the
    /// *other* copy; software flips `aecs_select` after every job that wrote. So the buffer must
    /// hold two copies whenever the AECS is written back or `aecs_select` is set.
    ///
    /// Statistics mode ([`CompressFlags::STATS_MODE`]): the job reads and writes no AECS and
    /// writes the 1280-byte histogram ([`Histogram`](crate::aecs::Histogram)) to `dst`; QPL
    /// builds it with `aecs` = 0, `aecs_size` = 0 and `max_dst` = 1280
    /// (`hw_iaa_descriptor_init_statistic_collector`). The builder requires `aecs` and
    /// `aecs_size` to be 0, no write-back and no select, and `max_dst` >= 1280.
    Compress {
        /// Source.
        src: u64,
        /// Bytes.
        len: u32,
        /// Destination.
        dst: u64,
        /// Room at the destination.
        max_dst: u32,
        /// The compress AECS (32-byte aligned); 0 in statistics mode.
        aecs: u64,
        /// The size of one AECS copy (at least 1568, a multiple of 32); 0 in statistics mode.
        aecs_size: u32,
        /// Compress flags (the builder passes them through; end processing included).
        flags: CompressFlags,
        /// CRC32C instead of CRC32 in the record.
        crc32c: bool,
        /// When the AECS is written back.
        aecs_write: AecsWrite,
        /// Read copy 1 of the AECS (at `aecs + aecs_size`) and write copy 0 (bit 22). Clear:
        /// read copy 0, write copy 1.
        aecs_select: bool,
    },
    /// Inflate `len` bytes of raw deflate at `src` into at most `max_dst` bytes at `dst`.
    Decompress {
        /// Source.
        src: u64,
        /// Bytes.
        len: u32,
        /// Destination.
        dst: u64,
        /// Room at the destination.
        max_dst: u32,
        /// Decompress flags; the builder always sets ENABLE.
        flags: DecompressFlags,
        /// CRC32C instead of CRC32 in the record.
        crc32c: bool,
    },
    /// CRC of `len` bytes with a caller-given polynomial (left-justified, top bit implicit).
    Crc64 {
        /// Source.
        src: u64,
        /// Bytes.
        len: u32,
        /// Polynomial.
        poly: u64,
        /// Bit order and inversion.
        flags: Crc64Flags,
    },
}

impl IaaOp {
    /// The opcode of this operation.
    pub const fn opcode(&self) -> IaaOpcode {
        match self {
            IaaOp::Noop => IaaOpcode::Noop,
            IaaOp::Drain => IaaOpcode::Drain,
            IaaOp::Memmove { .. } => IaaOpcode::Memmove,
            IaaOp::Compress { .. } => IaaOpcode::Compress,
            IaaOp::Decompress { .. } => IaaOpcode::Decompress,
            IaaOp::Crc64 { .. } => IaaOpcode::Crc64,
        }
    }

    /// Builds the descriptor, checking everything the hardware would refuse.
    pub fn build(&self, submit: &Submit, limits: &Limits) -> Result<IaaDesc, BuildError> {
        check_submit(submit, IAA_RECORD_ALIGN)?;
        if submit.fence {
            return Err(BuildError::InvalidFlags {
                op: "IAA",
                why: "fence needs a batch, which IAA does not have",
            });
        }
        let name = self.opcode().description();
        let mut d = IaaDesc::default();
        let mut flags = submit.flags();
        match *self {
            IaaOp::Noop | IaaOp::Drain => {}
            IaaOp::Memmove { src, dst, len } => {
                check_len(name, len, limits)?;
                (d.src1_addr, d.dst_addr, d.src1_size) = (src, dst, len);
            }
            IaaOp::Compress {
                src,
                len,
                dst,
                max_dst,
                aecs,
                aecs_size,
                flags: cf,
                crc32c,
                aecs_write,
                aecs_select,
            } => {
                check_len(name, len, limits)?;
                if max_dst == 0 {
                    return Err(BuildError::ZeroTransfer {
                        op: "compress (max destination size)",
                    });
                }
                if cf.bits() & !CompressFlags::DEFINED_MASK != 0 {
                    return Err(BuildError::OutOfRange {
                        what: "compress flags",
                        value: cf.bits() as u64,
                    });
                }
                if cf.contains(CompressFlags::STATS_MODE) {
                    if aecs != 0 || aecs_size != 0 || aecs_select || aecs_write != AecsWrite::Never {
                        return Err(BuildError::InvalidFlags {
                            op: "compress (statistics mode)",
                            why: "statistics mode reads and writes no AECS",
                        });
                    }
                    if (max_dst as usize) < HISTOGRAM_SIZE {
                        return Err(BuildError::OutOfRange {
                            what: "statistics max destination size (1280 needed)",
                            value: max_dst as u64,
                        });
                    }
                    (d.src1_addr, d.src1_size, d.dst_addr, d.max_dst_size) = (src, len, dst, max_dst);
                    d.op_flags = cf.bits();
                    flags.set(DescFlags::CRC_RFC3720, crc32c);
                    d.set_pasid(submit.pasid, submit.privileged);
                    d.set_opcode_flags(self.opcode().code(), flags.bits());
                    d.completion_addr = submit.completion_addr;
                    d.int_handle = submit.interrupt.unwrap_or(0);
                    return Ok(d);
                }
                check_align("AECS", aecs, AECS_ALIGN)?;
                if (aecs_size as usize) < COMPRESS_AECS_SIZE || aecs_size as u64 % AECS_ALIGN != 0 {
                    return Err(BuildError::OutOfRange {
                        what: "AECS size",
                        value: aecs_size as u64,
                    });
                }
                (d.src1_addr, d.src1_size, d.dst_addr, d.max_dst_size) = (src, len, dst, max_dst);
                (d.src2_addr, d.src2_size, d.op_flags) = (aecs, aecs_size, cf.bits());
                flags |= DescFlags::RD_SRC2_AECS;
                flags.set(DescFlags::CRC_RFC3720, crc32c);
                flags.set(DescFlags::AECS_SELECT, aecs_select);
                match aecs_write {
                    AecsWrite::Never => {}
                    AecsWrite::Always => flags |= DescFlags::WR_SRC2_AECS_ALWAYS,
                    AecsWrite::OnOverflow => flags |= DescFlags::WR_SRC2_AECS_OVERFLOW,
                }
            }
            IaaOp::Decompress {
                src,
                len,
                dst,
                max_dst,
                flags: df,
                crc32c,
            } => {
                check_len(name, len, limits)?;
                if df.bits() & !DecompressFlags::DEFINED_MASK != 0 {
                    return Err(BuildError::OutOfRange {
                        what: "decompress flags",
                        value: df.bits() as u64,
                    });
                }
                if max_dst == 0 && !df.contains(DecompressFlags::SUPPRESS_OUTPUT) {
                    return Err(BuildError::ZeroTransfer {
                        op: "decompress (max destination size)",
                    });
                }
                (d.src1_addr, d.src1_size, d.dst_addr, d.max_dst_size) = (src, len, dst, max_dst);
                d.op_flags = (df | DecompressFlags::ENABLE).bits();
                flags.set(DescFlags::CRC_RFC3720, crc32c);
            }
            IaaOp::Crc64 {
                src,
                len,
                poly,
                flags: cf,
            } => {
                check_len(name, len, limits)?;
                if poly == 0 {
                    return Err(BuildError::OutOfRange {
                        what: "CRC64 polynomial",
                        value: 0,
                    });
                }
                (d.src1_addr, d.src1_size, d.op_flags) = (src, len, cf.bits());
                d.set_crc64_poly(poly);
            }
        }
        d.set_pasid(submit.pasid, submit.privileged);
        d.set_opcode_flags(self.opcode().code(), flags.bits());
        d.completion_addr = submit.completion_addr;
        d.int_handle = submit.interrupt.unwrap_or(0);
        Ok(d)
    }

    /// Decodes a descriptor into its submit part and operation (structural decode; an opcode this
    /// model does not implement is an error).
    pub fn decode(d: &IaaDesc) -> Result<(Submit, IaaOp), HwError> {
        let opcode = IaaOpcode::try_from(d.opcode_raw())?;
        let mut flags = d.flags();
        let op = match opcode {
            IaaOpcode::Noop => IaaOp::Noop,
            IaaOpcode::Drain => IaaOp::Drain,
            IaaOpcode::Memmove => IaaOp::Memmove {
                src: d.src1_addr,
                dst: d.dst_addr,
                len: d.src1_size,
            },
            IaaOpcode::Compress => {
                let aecs_write = if flags.contains(DescFlags::WR_SRC2_AECS_ALWAYS) {
                    AecsWrite::Always
                } else if flags.contains(DescFlags::WR_SRC2_AECS_OVERFLOW) {
                    AecsWrite::OnOverflow
                } else {
                    AecsWrite::Never
                };
                let op = IaaOp::Compress {
                    src: d.src1_addr,
                    len: d.src1_size,
                    dst: d.dst_addr,
                    max_dst: d.max_dst_size,
                    aecs: d.src2_addr,
                    aecs_size: d.src2_size,
                    flags: CompressFlags::from_bits_retain(d.op_flags),
                    crc32c: flags.contains(DescFlags::CRC_RFC3720),
                    aecs_write,
                    aecs_select: flags.contains(DescFlags::AECS_SELECT),
                };
                flags.remove(
                    DescFlags::RD_SRC2_AECS
                        | DescFlags::CRC_RFC3720
                        | DescFlags::AECS_SELECT
                        | DescFlags::WR_SRC2_AECS_ALWAYS
                        | DescFlags::WR_SRC2_AECS_OVERFLOW,
                );
                op
            }
            IaaOpcode::Decompress => {
                let op = IaaOp::Decompress {
                    src: d.src1_addr,
                    len: d.src1_size,
                    dst: d.dst_addr,
                    max_dst: d.max_dst_size,
                    flags: DecompressFlags::from_bits_retain(d.op_flags) - DecompressFlags::ENABLE,
                    crc32c: flags.contains(DescFlags::CRC_RFC3720),
                };
                flags.remove(DescFlags::CRC_RFC3720);
                op
            }
            IaaOpcode::Crc64 => IaaOp::Crc64 {
                src: d.src1_addr,
                len: d.src1_size,
                poly: d.crc64_poly(),
                flags: Crc64Flags::from_bits_retain(d.op_flags),
            },
            other => {
                return Err(HwError::InvalidField {
                    field: "IAA opcode (not modelled)",
                    value: other.code() as u64,
                })
            }
        };
        let submit = Submit::decode(d.completion_addr, flags, d.int_handle, d.pasid(), d.privileged());
        Ok((submit, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        max_transfer: 1 << 31,
        max_batch: 0,
    };

    fn kernel_compress() -> IaaOp {
        IaaOp::Compress {
            src: 0x10000,
            len: 4096,
            dst: 0x20000,
            max_dst: 4096,
            aecs: 0x3000,
            aecs_size: 1568,
            flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(crate::EndProcessing::Eob),
            crc32c: false,
            aecs_write: AecsWrite::Never,
            aecs_select: false,
        }
    }

    #[test]
    fn compress_matches_the_kernel_fixed_mode_descriptor() {
        let d = kernel_compress().build(&Submit::polled(0x40), &LIM).unwrap();
        assert_eq!(d.opcode_raw(), 0x43);
        assert_eq!(d.op_flags, 0b0110);
        assert_eq!(
            d.flags(),
            DescFlags::CRAV | DescFlags::RCR | DescFlags::RD_SRC2_AECS
        );
        assert_eq!((d.src2_addr, d.src2_size, d.max_dst_size), (0x3000, 1568, 4096));
    }

    #[test]
    fn iaa_refusals() {
        let s = Submit::polled(0x40);
        assert!(matches!(
            IaaOp::Noop.build(&Submit::polled(0x20), &LIM),
            Err(BuildError::Misaligned { align: 64, .. })
        ));
        let IaaOp::Compress { .. } = kernel_compress() else {
            unreachable!()
        };
        let mut bad = kernel_compress();
        if let IaaOp::Compress { ref mut aecs, .. } = bad {
            *aecs = 0x3010;
        }
        assert!(matches!(
            bad.build(&s, &LIM),
            Err(BuildError::Misaligned { what: "AECS", .. })
        ));
        let mut small = kernel_compress();
        if let IaaOp::Compress {
            ref mut aecs_size, ..
        } = small
        {
            *aecs_size = 1536;
        }
        assert!(matches!(
            small.build(&s, &LIM),
            Err(BuildError::OutOfRange {
                what: "AECS size",
                ..
            })
        ));
        assert!(IaaOp::Crc64 {
            src: 0,
            len: 1,
            poly: 0,
            flags: Crc64Flags::empty()
        }
        .build(&s, &LIM)
        .is_err());
        assert!(IaaOp::Decompress {
            src: 0,
            len: 0,
            dst: 0,
            max_dst: 10,
            flags: DecompressFlags::empty(),
            crc32c: false
        }
        .build(&s, &LIM)
        .is_err());
        let fenced = Submit { fence: true, ..s };
        assert!(IaaOp::Noop.build(&fenced, &LIM).is_err());
    }

    #[test]
    fn aecs_select_with_one_copy_is_what_qpl_builds() {
        // QPL descriptor_compress_set_aecs: aecs_size = HW_AECS_COMPRESSION_SIZE (one copy),
        // ADOF_AECS_SEL set when the read index is 1.
        let mut op = kernel_compress();
        if let IaaOp::Compress {
            ref mut aecs_select,
            ref mut aecs_write,
            ..
        } = op
        {
            *aecs_select = true;
            *aecs_write = AecsWrite::Always;
        }
        let d = op.build(&Submit::polled(0x40), &LIM).unwrap();
        assert_eq!(d.src2_size, 1568);
        assert!(d
            .flags()
            .contains(DescFlags::AECS_SELECT | DescFlags::WR_SRC2_AECS_ALWAYS));
        assert_eq!(IaaOp::decode(&d).unwrap().1, op);
    }

    #[test]
    fn statistics_mode_is_what_qpl_builds() {
        // QPL hw_iaa_descriptor_init_statistic_collector: destination = histogram,
        // max_destination_size = sizeof(hw_iaa_histogram) = 1280, aecs_ptr = NULL,
        // aecs_size = 0, compression_flags = ADCF_STATS_MODE, no src2 read/write flags.
        let op = IaaOp::Compress {
            src: 0x10000,
            len: 4096,
            dst: 0x20000,
            max_dst: 1280,
            aecs: 0,
            aecs_size: 0,
            flags: CompressFlags::STATS_MODE,
            crc32c: false,
            aecs_write: AecsWrite::Never,
            aecs_select: false,
        };
        let d = op.build(&Submit::polled(0x40), &LIM).unwrap();
        assert_eq!(
            (d.src2_addr, d.src2_size, d.max_dst_size, d.op_flags),
            (0, 0, 1280, 1)
        );
        assert_eq!(d.flags(), DescFlags::CRAV | DescFlags::RCR);
        assert_eq!(IaaOp::decode(&d).unwrap().1, op);
        let mut with_aecs = op;
        if let IaaOp::Compress {
            ref mut aecs,
            ref mut aecs_size,
            ..
        } = with_aecs
        {
            (*aecs, *aecs_size) = (0x3000, 1568);
        }
        assert!(with_aecs.build(&Submit::polled(0x40), &LIM).is_err());
        let mut small = op;
        if let IaaOp::Compress { ref mut max_dst, .. } = small {
            *max_dst = 1279;
        }
        assert!(small.build(&Submit::polled(0x40), &LIM).is_err());
    }

    #[test]
    fn decompress_sets_enable() {
        let op = IaaOp::Decompress {
            src: 0,
            len: 10,
            dst: 0,
            max_dst: 4096,
            flags: DecompressFlags::empty(),
            crc32c: true,
        };
        let d = op.build(&Submit::polled(0), &LIM).unwrap();
        assert_eq!(d.op_flags, 1);
        assert!(d.flags().contains(DescFlags::CRC_RFC3720));
        assert_eq!(IaaOp::decode(&d).unwrap().1, op);
    }
}
