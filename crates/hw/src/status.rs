//! Completion-record status bytes and IAA analytics error codes.
//!
//! Bit 7 of the status byte says that the fault was on a write; the status itself is
//! `byte & 0x7f`. [`StatusByte`] keeps both.

use crate::codes::code_enum;

/// Mask of the status value in the status byte.
pub const STATUS_MASK: u8 = 0x7f;
/// Bit 7 of the status byte: the page fault was a write.
pub const STATUS_FAULT_ON_WRITE: u8 = 0x80;

code_enum! {
    /// DSA completion status (`enum dsa_completion_status`).
    pub enum DsaStatus: u8 {
        None = 0x00 => "not yet completed",
        Success = 0x01 => "success",
        SuccessPred = 0x02 => "success with false predicate",
        PageFaultNoBof = 0x03 => "page fault (block on fault not set): partial completion",
        PageFaultIr = 0x04 => "invalid response to a page request: partial completion",
        BatchFail = 0x05 => "batch: one or more members failed",
        BatchPageFault = 0x06 => "batch: page fault reading the descriptor list",
        DrOffsetNoInc = 0x07 => "delta record offsets not increasing",
        DrOffsetErange = 0x08 => "delta record offset out of range",
        DifErr = 0x09 => "DIF error",
        BadOpcode = 0x10 => "unsupported opcode",
        InvalidFlags = 0x11 => "invalid flags",
        NonZeroReserved = 0x12 => "non-zero reserved field",
        XferErange = 0x13 => "transfer size out of range",
        DescCntErange = 0x14 => "descriptor count out of range",
        DrErange = 0x15 => "delta record size out of range",
        OverlapBuffers = 0x16 => "overlapping buffers",
        DualcastAlign = 0x17 => "dualcast destinations misaligned",
        DescListAlign = 0x18 => "descriptor list misaligned",
        IntHandleInval = 0x19 => "invalid interrupt handle",
        CraXlat = 0x1a => "completion record address translation fault",
        CraAlign = 0x1b => "completion record address misaligned",
        AddrAlign = 0x1c => "address misaligned",
        PrivBad = 0x1d => "privileged request refused",
        TrafficClassConf = 0x1e => "traffic class configuration error",
        PfaultRdba = 0x1f => "page fault on destination read-back",
        HwErr1 = 0x20 => "hardware error",
        HwErrDrb = 0x21 => "hardware error on destination read-back",
        TranslationFail = 0x22 => "address translation failed",
        /// DSA 2.0 event log (`DSA_COMP_DRAIN_EVL`): a drain descriptor completed while event
        /// log entries of its WQ were still pending.
        DrainEvl = 0x26 => "drain with event log entries pending",
        /// DSA 2.0 event log (`DSA_COMP_BATCH_EVL_ERR`): a batch member's error went to the
        /// event log.
        BatchEvlErr = 0x27 => "batch member error reported in the event log",
    }
}

code_enum! {
    /// IAA completion status (`enum iax_completion_status`, the kernel's table, and QPL
    /// `hw_status.h`, which adds the page-fault status 0x03 the kernel enum lacks).
    pub enum IaaStatus: u8 {
        None = 0x00 => "not yet completed",
        Success = 0x01 => "success",
        /// QPL `AD_STATUS_READ_PAGE_FAULT` (0x03) / `AD_STATUS_WRITE_PAGE_FAULT` (0x83, bit 7
        /// set): the job did not complete; `fault_addr` says where. QPL touches that address
        /// and resubmits the whole job.
        PageFault = 0x03 => "page fault (bit 7: on a write)",
        /// The kernel's `IAX_COMP_PAGE_FAULT_IR`: a page request got an invalid response.
        PageFaultIr = 0x04 => "invalid response to a page request",
        AnalyticsError = 0x0a => "analytics error (see error code)",
        OutbufOverflow = 0x0b => "output buffer overflow (recoverable)",
        BadOpcode = 0x10 => "unsupported opcode",
        InvalidFlags = 0x11 => "invalid flags",
        NonZeroReserved = 0x12 => "non-zero reserved field",
        InvalidSize = 0x13 => "invalid transfer size",
        OverlapBuffers = 0x16 => "overlapping buffers",
        IntHandleInval = 0x19 => "invalid interrupt handle",
        CraXlat = 0x1a => "completion record address translation fault",
        CraAlign = 0x1b => "completion record address misaligned",
        AddrAlign = 0x1c => "address misaligned",
        PrivBad = 0x1d => "privileged request refused",
        TrafficClassConf = 0x1e => "traffic class configuration error",
        PfaultRdba = 0x1f => "page fault on destination read-back",
        HwErr1 = 0x20 => "hardware error",
        HwErrDrb = 0x21 => "hardware error on destination read-back",
        TranslationFail = 0x22 => "address translation failed",
        PrsTimeout = 0x23 => "page request timeout",
        Watchdog = 0x24 => "watchdog timeout",
        InvalidCompFlag = 0x30 => "invalid compress/decompress/CRC flags",
        InvalidFilterFlag = 0x31 => "invalid filter flags",
        InvalidInputSize = 0x32 => "invalid input size",
        InvalidNumElems = 0x33 => "number of elements is zero",
        InvalidSrc1Width = 0x34 => "invalid source-1 width",
        InvalidInvertOut = 0x35 => "invert-output misuse",
    }
}

code_enum! {
    /// IAA analytics error codes: the `error_code` byte of a record whose status is
    /// [`IaaStatus::AnalyticsError`] (QPL `hw_status.h`, `AD_ERROR_CODE_*`; 33 is not defined).
    pub enum AnalyticsError: u8 {
        HeaderTooBig = 1 => "deflate header too big",
        UndefCodeLengthCode = 2 => "undefined code-length code",
        FirstLlCodeIs16 = 3 => "first literal/length code length is a repeat (16)",
        FirstDCodeIs16 = 4 => "first distance code length is a repeat (16)",
        NoLlCode = 5 => "no literal/length codes",
        WrongNumLlCodes = 6 => "wrong number of literal/length codes",
        WrongNumDistCodes = 7 => "wrong number of distance codes",
        BadClCodeLengths = 8 => "bad code-length code lengths",
        BadLlCodeLengths = 9 => "bad literal/length code lengths",
        BadDistCodeLengths = 10 => "bad distance code lengths",
        BadLlCode = 11 => "undecodable literal/length code",
        BadDistCode = 12 => "undecodable distance code",
        InvalidBlockType = 13 => "invalid block type",
        InvalidStoredLength = 14 => "invalid stored block length",
        BadEndOfFile = 15 => "bad end of stream",
        BadLength = 16 => "bad length",
        DistanceTooFar = 17 => "distance beyond the 4 KiB history",
        RefBeforeStart = 18 => "reference before the start of the output",
        Timeout = 19 => "timeout",
        PrleFormat = 20 => "PRLE record incorrect or truncated",
        OutputWidthTooSmall = 21 => "output bit-width overflow (analytics)",
        AecsError = 22 => "AECS contains an invalid value",
        Src1TooSmall = 23 => "source 1 too small",
        Src2TooShort = 24 => "source 2 too short",
        CompressOutputOverflow = 25 => "compressed output does not fit in max_dst_size",
        DistSpansMiniBlocks = 26 => "indexing: a match references another mini-block",
        LenSpansMiniBlocks = 27 => "indexing: a match runs into the next mini-block",
        InvalidBlockSize = 28 => "invalid mini-block size",
        VerifyFailure = 29 => "decompress verify detected incorrect output",
        InvalidHuffCode = 30 => "compressor tried to use an invalid Huffman code",
        PrleBitWidthTooLarge = 31 => "PRLE bit-width above 32",
        TooFewElements = 32 => "input ended before the number of elements",
        InvalidZdecompHeader = 34 => "zero-decompress input ended inside a record header",
        TooManyLlCodes = 35 => "more than 286 literal/length codes declared",
        TooManyDistCodes = 36 => "more than 30 distance codes declared",
    }
}

/// A decoded completion-record status byte: the status value and the fault-on-write bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusByte {
    /// `byte & 0x7f`.
    pub code: u8,
    /// Bit 7: the page fault was on a write.
    pub fault_on_write: bool,
}

impl StatusByte {
    /// Splits a raw status byte.
    pub const fn decode(byte: u8) -> Self {
        StatusByte {
            code: byte & STATUS_MASK,
            fault_on_write: byte & STATUS_FAULT_ON_WRITE != 0,
        }
    }

    /// Joins the two parts back into a raw byte.
    pub const fn encode(self) -> u8 {
        (self.code & STATUS_MASK)
            | if self.fault_on_write {
                STATUS_FAULT_ON_WRITE
            } else {
                0
            }
    }

    /// Whether the record is complete (any non-zero status).
    pub const fn is_complete(self) -> bool {
        self.code != 0
    }

    /// The DSA meaning of the status.
    pub const fn dsa(self) -> Option<DsaStatus> {
        DsaStatus::from_code(self.code)
    }

    /// The IAA meaning of the status.
    pub const fn iaa(self) -> Option<IaaStatus> {
        IaaStatus::from_code(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_byte_masks_bit7_and_keeps_it() {
        let s = StatusByte::decode(0x83);
        assert_eq!(s.code, 3);
        assert!(s.fault_on_write);
        assert_eq!(s.dsa(), Some(DsaStatus::PageFaultNoBof));
        assert_eq!(s.encode(), 0x83);
        let s = StatusByte::decode(0x04);
        assert!(!s.fault_on_write);
        assert_eq!(s.iaa(), Some(IaaStatus::PageFaultIr));
    }

    #[test]
    fn iaa_page_faults_are_0x03_and_0x83() {
        // QPL hw_status.h: AD_STATUS_READ_PAGE_FAULT = 3, AD_STATUS_WRITE_PAGE_FAULT = 3 + 128.
        let r = StatusByte::decode(0x03);
        assert_eq!((r.iaa(), r.fault_on_write), (Some(IaaStatus::PageFault), false));
        let w = StatusByte::decode(0x83);
        assert_eq!((w.iaa(), w.fault_on_write), (Some(IaaStatus::PageFault), true));
        assert_eq!(IaaStatus::PageFault.code(), 0x03);
        // The kernel's IAX_COMP_PAGE_FAULT_IR is 4, a different condition.
        assert_eq!(IaaStatus::PageFaultIr.code(), 0x04);
    }

    #[test]
    fn analytics_error_codes_follow_qpl() {
        // QPL hw_status.h AD_ERROR_CODE_*.
        for (code, e) in [
            (20, AnalyticsError::PrleFormat),
            (21, AnalyticsError::OutputWidthTooSmall),
            (22, AnalyticsError::AecsError),
            (25, AnalyticsError::CompressOutputOverflow),
            (29, AnalyticsError::VerifyFailure),
            (30, AnalyticsError::InvalidHuffCode),
            (34, AnalyticsError::InvalidZdecompHeader),
            (35, AnalyticsError::TooManyLlCodes),
            (36, AnalyticsError::TooManyDistCodes),
        ] {
            assert_eq!(AnalyticsError::from_code(code), Some(e));
        }
        assert_eq!(AnalyticsError::from_code(33), None);
    }

    #[test]
    fn every_code_round_trips_and_unknown_codes_are_refused() {
        for s in DsaStatus::ALL {
            assert_eq!(DsaStatus::from_code(s.code()), Some(*s));
        }
        for s in IaaStatus::ALL {
            assert_eq!(IaaStatus::try_from(s.code()).unwrap(), *s);
        }
        for e in AnalyticsError::ALL {
            assert_eq!(AnalyticsError::from_code(e.code()), Some(*e));
            assert!(!e.description().is_empty());
        }
        assert_eq!(DsaStatus::from_code(0x0a), None);
        assert_eq!(IaaStatus::from_code(0x02), None);
        assert!(AnalyticsError::try_from(33).is_err());
        assert_eq!(AnalyticsError::CompressOutputOverflow.code(), 0x19);
        assert_eq!(
            format!("{}", IaaStatus::OutbufOverflow),
            "output buffer overflow (recoverable) (0xb)"
        );
    }
}
