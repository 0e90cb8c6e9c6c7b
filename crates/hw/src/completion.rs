//! Completion records, laid out exactly as `struct dsa_completion_record` (32 B) and
//! `struct iax_completion_record` (64 B).
//!
//! A record is complete when its status byte is non-zero; the device writes that byte last.
//! These are plain values: code that polls device memory reads the status byte with an acquire
//! load first and only then copies the record with [`DsaCompletion::from_bytes`].

use crate::bits::{rd_u16, rd_u32, rd_u64};
use crate::status::StatusByte;

/// Size of a DSA completion record (and its required alignment).
pub const DSA_COMPLETION_SIZE: usize = 32;
/// Size of an IAA completion record (and its required alignment).
pub const IAA_COMPLETION_SIZE: usize = 64;

/// Byte offsets of the fields of the DSA record's operation-specific union (+16).
pub mod dsa_rec_off {
    /// `invalid_flags:24` (bits 23:0 of the u32 at +16).
    pub const INVALID_FLAGS: usize = 16;
    /// Mask of `invalid_flags` in the u32 at +16.
    pub const INVALID_FLAGS_MASK: u32 = 0x00ff_ffff;
    /// `delta_rec_size`.
    pub const DELTA_REC_SIZE: usize = 16;
    /// `crc_val`.
    pub const CRC_VAL: usize = 16;
    /// DIF check/strip: `dif_chk_ref_tag`.
    pub const DIF_CHK_REF_TAG: usize = 16;
    /// DIF check/strip: `dif_chk_app_tag_mask`.
    pub const DIF_CHK_APP_TAG_MASK: usize = 20;
    /// DIF check/strip: `dif_chk_app_tag`.
    pub const DIF_CHK_APP_TAG: usize = 22;
    /// DIF insert: `dif_ins_res`.
    pub const DIF_INS_RES: usize = 16;
    /// DIF insert: `dif_ins_ref_tag`.
    pub const DIF_INS_REF_TAG: usize = 24;
    /// DIF insert: `dif_ins_app_tag_mask`.
    pub const DIF_INS_APP_TAG_MASK: usize = 28;
    /// DIF insert: `dif_ins_app_tag`.
    pub const DIF_INS_APP_TAG: usize = 30;
    /// DIF update: `dif_upd_src_ref_tag`.
    pub const DIF_UPD_SRC_REF_TAG: usize = 16;
    /// DIF update: `dif_upd_src_app_tag_mask`.
    pub const DIF_UPD_SRC_APP_TAG_MASK: usize = 20;
    /// DIF update: `dif_upd_src_app_tag`.
    pub const DIF_UPD_SRC_APP_TAG: usize = 22;
    /// DIF update: `dif_upd_dest_ref_tag`.
    pub const DIF_UPD_DEST_REF_TAG: usize = 24;
    /// DIF update: `dif_upd_dest_app_tag_mask`.
    pub const DIF_UPD_DEST_APP_TAG_MASK: usize = 28;
    /// DIF update: `dif_upd_dest_app_tag`.
    pub const DIF_UPD_DEST_APP_TAG: usize = 30;
}

/// Offset of the CRC64 result in an IAA record of a CRC64 operation.
pub const IAA_CRC64_RESULT_OFFSET: usize = 40;

/// A DSA completion record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C, align(32))]
pub struct DsaCompletion {
    /// Status byte: bit 7 = fault on write, bits 6:0 = [`crate::DsaStatus`].
    pub status: u8,
    /// Result (compare: 0 equal, 1 different) or DIF status.
    pub result: u8,
    /// Fault information (byte 2; the UAPI header's `fault_info`).
    pub fault_info: u8,
    /// Reserved (byte 3).
    pub rsvd: u8,
    /// Bytes completed before a fault; descriptors processed for a batch.
    pub bytes_completed: u32,
    /// The faulting address.
    pub fault_addr: u64,
    /// Operation-specific union (16 bytes at +16): invalid flags, delta record size, CRC value.
    pub op_specific: [u8; 16],
}

impl DsaCompletion {
    /// The decoded status byte.
    pub const fn status(&self) -> StatusByte {
        StatusByte::decode(self.status)
    }

    /// Invalid flags (24 bits at +16) of a record with status "invalid flags".
    pub fn invalid_flags(&self) -> u32 {
        rd_u32(&self.op_specific, 0) & dsa_rec_off::INVALID_FLAGS_MASK
    }

    /// Delta record size (u32 at +16) of a create-delta record.
    pub fn delta_rec_size(&self) -> u32 {
        rd_u32(&self.op_specific, 0)
    }

    /// The CRC value (u64 at +16; CRC32C occupies the low 32 bits).
    pub fn crc_val(&self) -> u64 {
        rd_u64(&self.op_specific, 0)
    }

    /// Sets the u32 at +16 (invalid flags or delta record size).
    pub fn set_op_u32(&mut self, v: u32) {
        self.op_specific[0..4].copy_from_slice(&v.to_le_bytes());
    }

    /// Sets the u64 at +16 (CRC value).
    pub fn set_crc_val(&mut self, v: u64) {
        self.op_specific[0..8].copy_from_slice(&v.to_le_bytes());
    }

    /// The 32 bytes as stored in memory.
    pub fn to_bytes(&self) -> [u8; DSA_COMPLETION_SIZE] {
        let mut b = [0u8; DSA_COMPLETION_SIZE];
        b[0] = self.status;
        b[1] = self.result;
        b[2] = self.fault_info;
        b[3] = self.rsvd;
        b[4..8].copy_from_slice(&self.bytes_completed.to_le_bytes());
        b[8..16].copy_from_slice(&self.fault_addr.to_le_bytes());
        b[16..32].copy_from_slice(&self.op_specific);
        b
    }

    /// Parses 32 bytes of a record.
    pub fn from_bytes(b: &[u8; DSA_COMPLETION_SIZE]) -> Self {
        let mut op_specific = [0u8; 16];
        op_specific.copy_from_slice(&b[16..32]);
        DsaCompletion {
            status: b[0],
            result: b[1],
            fault_info: b[2],
            rsvd: b[3],
            bytes_completed: rd_u32(b, 4),
            fault_addr: rd_u64(b, 8),
            op_specific,
        }
    }
}

/// An IAA completion record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C, align(64))]
pub struct IaaCompletion {
    /// Status byte: bit 7 = fault on write, bits 6:0 = [`crate::IaaStatus`].
    pub status: u8,
    /// Analytics error code ([`crate::AnalyticsError`]) when status is 0x0a.
    pub error_code: u8,
    /// Fault information (byte 2; the UAPI header's `fault_info`, QPL's as well).
    pub fault_info: u8,
    /// Reserved (byte 3).
    pub rsvd: u8,
    /// Bytes of source 1 consumed.
    pub bytes_completed: u32,
    /// The faulting address.
    pub fault_addr: u64,
    /// Invalid flags.
    pub invalid_flags: u32,
    /// Reserved.
    pub rsvd2: u32,
    /// Output size in bytes.
    pub output_size: u32,
    /// Valid bits in the last output byte (0 = all eight).
    pub output_bits: u8,
    /// Reserved.
    pub rsvd3: u8,
    /// XOR checksum of the uncompressed data.
    pub xor_csum: u16,
    /// CRC32 (or CRC32C) of the uncompressed data.
    pub crc: u32,
    /// Analytics: minimum.
    pub min: u32,
    /// Analytics: maximum (with `sum`, the CRC64 result of a CRC64 operation).
    pub max: u32,
    /// Analytics: sum.
    pub sum: u32,
    /// Reserved.
    pub rsvd4: [u64; 2],
}

impl IaaCompletion {
    /// The decoded status byte.
    pub const fn status(&self) -> StatusByte {
        StatusByte::decode(self.status)
    }

    /// The CRC64 result of a CRC64 operation (u64 at +40).
    pub const fn crc64(&self) -> u64 {
        (self.sum as u64) << 32 | self.max as u64
    }

    /// Stores a CRC64 result at +40.
    pub fn set_crc64(&mut self, v: u64) {
        self.max = v as u32;
        self.sum = (v >> 32) as u32;
    }

    /// The 64 bytes as stored in memory.
    pub fn to_bytes(&self) -> [u8; IAA_COMPLETION_SIZE] {
        let mut b = [0u8; IAA_COMPLETION_SIZE];
        b[0] = self.status;
        b[1] = self.error_code;
        b[2] = self.fault_info;
        b[3] = self.rsvd;
        b[4..8].copy_from_slice(&self.bytes_completed.to_le_bytes());
        b[8..16].copy_from_slice(&self.fault_addr.to_le_bytes());
        b[16..20].copy_from_slice(&self.invalid_flags.to_le_bytes());
        b[20..24].copy_from_slice(&self.rsvd2.to_le_bytes());
        b[24..28].copy_from_slice(&self.output_size.to_le_bytes());
        b[28] = self.output_bits;
        b[29] = self.rsvd3;
        b[30..32].copy_from_slice(&self.xor_csum.to_le_bytes());
        b[32..36].copy_from_slice(&self.crc.to_le_bytes());
        b[36..40].copy_from_slice(&self.min.to_le_bytes());
        b[40..44].copy_from_slice(&self.max.to_le_bytes());
        b[44..48].copy_from_slice(&self.sum.to_le_bytes());
        b[48..56].copy_from_slice(&self.rsvd4[0].to_le_bytes());
        b[56..64].copy_from_slice(&self.rsvd4[1].to_le_bytes());
        b
    }

    /// Parses 64 bytes of a record.
    pub fn from_bytes(b: &[u8; IAA_COMPLETION_SIZE]) -> Self {
        IaaCompletion {
            status: b[0],
            error_code: b[1],
            fault_info: b[2],
            rsvd: b[3],
            bytes_completed: rd_u32(b, 4),
            fault_addr: rd_u64(b, 8),
            invalid_flags: rd_u32(b, 16),
            rsvd2: rd_u32(b, 20),
            output_size: rd_u32(b, 24),
            output_bits: b[28],
            rsvd3: b[29],
            xor_csum: rd_u16(b, 30),
            crc: rd_u32(b, 32),
            min: rd_u32(b, 36),
            max: rd_u32(b, 40),
            sum: rd_u32(b, 44),
            rsvd4: [rd_u64(b, 48), rd_u64(b, 56)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_info_is_byte_2_of_both_records() {
        // include/uapi/linux/idxd.h: status, result/error_code, fault_info, rsvd.
        let mut b = [0u8; DSA_COMPLETION_SIZE];
        b[2] = 0x5a;
        b[3] = 0x01;
        let r = DsaCompletion::from_bytes(&b);
        assert_eq!((r.fault_info, r.rsvd), (0x5a, 0x01));
        assert_eq!(r.to_bytes(), b);
        let mut b = [0u8; IAA_COMPLETION_SIZE];
        b[2] = 0xa5;
        let r = IaaCompletion::from_bytes(&b);
        assert_eq!((r.fault_info, r.rsvd), (0xa5, 0));
        assert_eq!(r.to_bytes(), b);
    }

    #[test]
    fn records_round_trip() {
        let mut d = DsaCompletion {
            status: 0x83,
            result: 1,
            bytes_completed: 77,
            fault_addr: 0x1000,
            ..Default::default()
        };
        d.set_crc_val(0xe306_9283);
        let b = d.to_bytes();
        assert_eq!(b[0], 0x83);
        assert_eq!(DsaCompletion::from_bytes(&b), d);
        assert_eq!(d.crc_val(), 0xe306_9283);
        assert!(d.status().fault_on_write);

        let mut i = IaaCompletion {
            status: 0x0a,
            error_code: 0x19,
            output_size: 4096,
            output_bits: 3,
            ..Default::default()
        };
        i.set_crc64(0x6c40_df5f_0b49_7347);
        let b = i.to_bytes();
        assert_eq!(&b[40..48], &0x6c40_df5f_0b49_7347_u64.to_le_bytes());
        assert_eq!(IaaCompletion::from_bytes(&b), i);
        assert_eq!(core::mem::size_of::<IaaCompletion>(), 64);
        assert_eq!(core::mem::size_of::<DsaCompletion>(), 32);
        assert_eq!(core::mem::align_of::<DsaCompletion>(), 32);
    }
}
