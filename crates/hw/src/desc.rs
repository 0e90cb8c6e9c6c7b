//! The 64-byte descriptors, laid out exactly as the kernel's `struct dsa_hw_desc` and
//! `struct iax_hw_desc` (`linux/idxd.h`).
//!
//! The types are plain data. Conversion to and from the 64 little-endian bytes the device reads
//! is explicit ([`DsaDesc::to_bytes`], [`DsaDesc::from_bytes`]) so that no code needs to
//! reinterpret memory. Typed construction with validation lives in [`crate::dsa_ops`] and
//! [`crate::iaa_ops`].

use crate::bits::{rd_u16, rd_u32, rd_u64};
use crate::flags::{DescFlags, FLAGS_MASK};

/// Size of every descriptor.
pub const DESC_SIZE: usize = 64;
/// Mask of the 20-bit PASID in dword 0.
pub const PASID_MASK: u32 = 0x000f_ffff;
/// The privileged (supervisor) bit in dword 0.
pub const PRIV_BIT: u32 = 1 << 31;
/// Reserved bits 30:20 of dword 0.
pub const DWORD0_RSVD_MASK: u32 = 0x7ff0_0000;

/// Byte offsets of the DSA operation-specific fields (the union at +40 of `dsa_hw_desc`).
pub mod dsa_off {
    /// `expected_res` (compare, compare pattern, create delta with check-result).
    pub const EXPECTED_RES: usize = 40;
    /// `delta_addr` (create delta record).
    pub const DELTA_ADDR: usize = 40;
    /// `max_delta_size` (create delta record).
    pub const MAX_DELTA_SIZE: usize = 48;
    /// `expected_res_mask` (create delta record).
    pub const EXPECTED_RES_MASK: usize = 56;
    /// `delta_rec_size` (apply delta record).
    pub const DELTA_REC_SIZE: usize = 40;
    /// `dest2` (dualcast).
    pub const DEST2: usize = 40;
    /// `crc_seed` (CRC generate, copy with CRC).
    pub const CRC_SEED: usize = 40;
    /// `seed_addr` (CRC with the seed read from memory).
    pub const SEED_ADDR: usize = 48;
    /// `crc_rsvd` (reserved, CRC operations).
    pub const CRC_RSVD: usize = 44;
    /// `delt_rsvd` (reserved, create delta record).
    pub const DELT_RSVD: usize = 52;
    /// DIF check/strip: `src_dif_flags`.
    pub const SRC_DIF_FLAGS: usize = 40;
    /// DIF check/strip: `dif_chk_res`.
    pub const DIF_CHK_RES: usize = 41;
    /// DIF check/strip: `dif_chk_flags`.
    pub const DIF_CHK_FLAGS: usize = 42;
    /// DIF check/strip: `dif_chk_res2` (5 bytes).
    pub const DIF_CHK_RES2: usize = 43;
    /// DIF check/strip: `chk_ref_tag_seed`.
    pub const CHK_REF_TAG_SEED: usize = 48;
    /// DIF check/strip: `chk_app_tag_mask`.
    pub const CHK_APP_TAG_MASK: usize = 52;
    /// DIF check/strip: `chk_app_tag_seed`.
    pub const CHK_APP_TAG_SEED: usize = 54;
    /// DIF insert: `dif_ins_res`.
    pub const DIF_INS_RES: usize = 40;
    /// DIF insert: `dest_dif_flag`.
    pub const DEST_DIF_FLAG: usize = 41;
    /// DIF insert: `dif_ins_flags`.
    pub const DIF_INS_FLAGS: usize = 42;
    /// DIF insert: `dif_ins_res2` (13 bytes).
    pub const DIF_INS_RES2: usize = 43;
    /// DIF insert: `ins_ref_tag_seed`.
    pub const INS_REF_TAG_SEED: usize = 56;
    /// DIF insert: `ins_app_tag_mask`.
    pub const INS_APP_TAG_MASK: usize = 60;
    /// DIF insert: `ins_app_tag_seed`.
    pub const INS_APP_TAG_SEED: usize = 62;
    /// DIF update: `src_upd_flags`.
    pub const SRC_UPD_FLAGS: usize = 40;
    /// DIF update: `upd_dest_flags`.
    pub const UPD_DEST_FLAGS: usize = 41;
    /// DIF update: `dif_upd_flags`.
    pub const DIF_UPD_FLAGS: usize = 42;
    /// DIF update: `dif_upd_res` (5 bytes).
    pub const DIF_UPD_RES: usize = 43;
    /// DIF update: `src_ref_tag_seed`.
    pub const SRC_REF_TAG_SEED: usize = 48;
    /// DIF update: `src_app_tag_mask`.
    pub const SRC_APP_TAG_MASK: usize = 52;
    /// DIF update: `src_app_tag_seed`.
    pub const SRC_APP_TAG_SEED: usize = 54;
    /// DIF update: `dest_ref_tag_seed`.
    pub const DEST_REF_TAG_SEED: usize = 56;
    /// DIF update: `dest_app_tag_mask`.
    pub const DEST_APP_TAG_MASK: usize = 60;
    /// DIF update: `dest_app_tag_seed`.
    pub const DEST_APP_TAG_SEED: usize = 62;
}

/// Fields common to the first dwords of DSA and IAA descriptors.
macro_rules! head_accessors {
    () => {
        /// The 20-bit PASID.
        pub const fn pasid(&self) -> u32 {
            self.pasid_priv & PASID_MASK
        }

        /// The privileged bit.
        pub const fn privileged(&self) -> bool {
            self.pasid_priv & PRIV_BIT != 0
        }

        /// Reserved bits of dword 0 (must be zero).
        pub const fn dword0_reserved(&self) -> u32 {
            self.pasid_priv & DWORD0_RSVD_MASK
        }

        /// The 24 flag bits, raw.
        pub const fn flags_raw(&self) -> u32 {
            self.flags_opcode & FLAGS_MASK
        }

        /// The flag bits as [`DescFlags`] (unknown bits retained).
        pub const fn flags(&self) -> DescFlags {
            DescFlags::from_bits_retain(self.flags_raw())
        }

        /// The opcode byte.
        pub const fn opcode_raw(&self) -> u8 {
            (self.flags_opcode >> 24) as u8
        }

        /// Sets PASID and privileged bit.
        pub fn set_pasid(&mut self, pasid: u32, privileged: bool) {
            self.pasid_priv = (pasid & PASID_MASK) | if privileged { PRIV_BIT } else { 0 };
        }

        /// Sets the opcode byte and the flags.
        pub fn set_opcode_flags(&mut self, opcode: u8, flags: u32) {
            self.flags_opcode = ((opcode as u32) << 24) | (flags & FLAGS_MASK);
        }
    };
}

/// A DSA descriptor (`struct dsa_hw_desc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C, align(64))]
pub struct DsaDesc {
    /// dword 0: PASID \[19:0\], reserved \[30:20\], privileged \[31\].
    pub pasid_priv: u32,
    /// dword 1: flags \[23:0\], opcode \[31:24\].
    pub flags_opcode: u32,
    /// Completion record address.
    pub completion_addr: u64,
    /// Source address; also fill pattern, batch descriptor list address, read-back address.
    pub src_addr: u64,
    /// Destination address; also second source, compare pattern.
    pub dst_addr: u64,
    /// Transfer size; for a batch, the descriptor count.
    pub xfer_size: u32,
    /// Completion interrupt handle.
    pub int_handle: u16,
    /// Reserved.
    pub rsvd1: u16,
    /// The operation-specific union (24 bytes at +40); see [`dsa_off`].
    pub op_specific: [u8; 24],
}

/// An IAA descriptor (`struct iax_hw_desc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C, align(64))]
pub struct IaaDesc {
    /// dword 0: PASID \[19:0\], reserved \[30:20\], privileged \[31\].
    pub pasid_priv: u32,
    /// dword 1: flags \[23:0\], opcode \[31:24\].
    pub flags_opcode: u32,
    /// Completion record address.
    pub completion_addr: u64,
    /// Source 1 address.
    pub src1_addr: u64,
    /// Destination address.
    pub dst_addr: u64,
    /// Source 1 size.
    pub src1_size: u32,
    /// Completion interrupt handle.
    pub int_handle: u16,
    /// Compress, decompress or CRC64 flags (`compr_flags` / `decompr_flags`).
    pub op_flags: u16,
    /// Source 2 address (AECS or second input).
    pub src2_addr: u64,
    /// Maximum destination size.
    pub max_dst_size: u32,
    /// Source 2 size.
    pub src2_size: u32,
    /// Filter flags (the low half of the CRC64 polynomial in CRC64 descriptors).
    pub filter_flags: u32,
    /// Number of inputs (the high half of the CRC64 polynomial in CRC64 descriptors).
    pub num_inputs: u32,
}

impl DsaDesc {
    head_accessors!();

    /// The 64 bytes the device reads.
    pub fn to_bytes(&self) -> [u8; DESC_SIZE] {
        let mut b = [0u8; DESC_SIZE];
        b[0..4].copy_from_slice(&self.pasid_priv.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags_opcode.to_le_bytes());
        b[8..16].copy_from_slice(&self.completion_addr.to_le_bytes());
        b[16..24].copy_from_slice(&self.src_addr.to_le_bytes());
        b[24..32].copy_from_slice(&self.dst_addr.to_le_bytes());
        b[32..36].copy_from_slice(&self.xfer_size.to_le_bytes());
        b[36..38].copy_from_slice(&self.int_handle.to_le_bytes());
        b[38..40].copy_from_slice(&self.rsvd1.to_le_bytes());
        b[40..64].copy_from_slice(&self.op_specific);
        b
    }

    /// Parses the 64 bytes of a descriptor.
    pub fn from_bytes(b: &[u8; DESC_SIZE]) -> Self {
        let mut op_specific = [0u8; 24];
        op_specific.copy_from_slice(&b[40..64]);
        DsaDesc {
            pasid_priv: rd_u32(b, 0),
            flags_opcode: rd_u32(b, 4),
            completion_addr: rd_u64(b, 8),
            src_addr: rd_u64(b, 16),
            dst_addr: rd_u64(b, 24),
            xfer_size: rd_u32(b, 32),
            int_handle: rd_u16(b, 36),
            rsvd1: rd_u16(b, 38),
            op_specific,
        }
    }

    /// A u8 of the operation-specific area at descriptor byte offset `off` (40..64).
    pub fn op_u8(&self, off: usize) -> u8 {
        self.op_specific[off - 40]
    }
    /// A u32 of the operation-specific area at descriptor byte offset `off`.
    pub fn op_u32(&self, off: usize) -> u32 {
        rd_u32(&self.op_specific, off - 40)
    }
    /// A u64 of the operation-specific area at descriptor byte offset `off`.
    pub fn op_u64(&self, off: usize) -> u64 {
        rd_u64(&self.op_specific, off - 40)
    }
    /// Writes a u8 at descriptor byte offset `off` (40..64).
    pub fn set_op_u8(&mut self, off: usize, v: u8) {
        self.op_specific[off - 40] = v;
    }
    /// Writes a u32 at descriptor byte offset `off`.
    pub fn set_op_u32(&mut self, off: usize, v: u32) {
        self.op_specific[off - 40..off - 36].copy_from_slice(&v.to_le_bytes());
    }
    /// Writes a u64 at descriptor byte offset `off`.
    pub fn set_op_u64(&mut self, off: usize, v: u64) {
        self.op_specific[off - 40..off - 32].copy_from_slice(&v.to_le_bytes());
    }
}

impl IaaDesc {
    head_accessors!();

    /// The 64 bytes the device reads.
    pub fn to_bytes(&self) -> [u8; DESC_SIZE] {
        let mut b = [0u8; DESC_SIZE];
        b[0..4].copy_from_slice(&self.pasid_priv.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags_opcode.to_le_bytes());
        b[8..16].copy_from_slice(&self.completion_addr.to_le_bytes());
        b[16..24].copy_from_slice(&self.src1_addr.to_le_bytes());
        b[24..32].copy_from_slice(&self.dst_addr.to_le_bytes());
        b[32..36].copy_from_slice(&self.src1_size.to_le_bytes());
        b[36..38].copy_from_slice(&self.int_handle.to_le_bytes());
        b[38..40].copy_from_slice(&self.op_flags.to_le_bytes());
        b[40..48].copy_from_slice(&self.src2_addr.to_le_bytes());
        b[48..52].copy_from_slice(&self.max_dst_size.to_le_bytes());
        b[52..56].copy_from_slice(&self.src2_size.to_le_bytes());
        b[56..60].copy_from_slice(&self.filter_flags.to_le_bytes());
        b[60..64].copy_from_slice(&self.num_inputs.to_le_bytes());
        b
    }

    /// Parses the 64 bytes of a descriptor.
    pub fn from_bytes(b: &[u8; DESC_SIZE]) -> Self {
        IaaDesc {
            pasid_priv: rd_u32(b, 0),
            flags_opcode: rd_u32(b, 4),
            completion_addr: rd_u64(b, 8),
            src1_addr: rd_u64(b, 16),
            dst_addr: rd_u64(b, 24),
            src1_size: rd_u32(b, 32),
            int_handle: rd_u16(b, 36),
            op_flags: rd_u16(b, 38),
            src2_addr: rd_u64(b, 40),
            max_dst_size: rd_u32(b, 48),
            src2_size: rd_u32(b, 52),
            filter_flags: rd_u32(b, 56),
            num_inputs: rd_u32(b, 60),
        }
    }

    /// The CRC64 polynomial (bytes 56..64, overlaying filter flags and number of inputs).
    pub const fn crc64_poly(&self) -> u64 {
        (self.num_inputs as u64) << 32 | self.filter_flags as u64
    }

    /// Sets the CRC64 polynomial.
    pub fn set_crc64_poly(&mut self, poly: u64) {
        self.filter_flags = poly as u32;
        self.num_inputs = (poly >> 32) as u32;
    }
}

/// Offset of the CRC64 polynomial in an IAA CRC64 descriptor.
pub const IAA_CRC64_POLY_OFFSET: usize = 56;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_alignment() {
        assert_eq!(core::mem::size_of::<DsaDesc>(), 64);
        assert_eq!(core::mem::size_of::<IaaDesc>(), 64);
        assert_eq!(core::mem::align_of::<DsaDesc>(), 64);
        assert_eq!(core::mem::offset_of!(IaaDesc, op_flags), 38);
        assert_eq!(core::mem::offset_of!(DsaDesc, op_specific), 40);
    }

    #[test]
    fn bytes_round_trip_and_field_positions() {
        let mut d = DsaDesc::default();
        d.set_pasid(0xabcde, true);
        d.set_opcode_flags(0x03, 0x00c0_ffee);
        d.completion_addr = 0x1122_3344_5566_7788;
        d.xfer_size = 0x1000;
        d.set_op_u64(dsa_off::SEED_ADDR, 0xdead_beef);
        let b = d.to_bytes();
        assert_eq!(&b[0..4], &(0x800a_bcde_u32).to_le_bytes());
        assert_eq!(b[7], 0x03);
        assert_eq!(&b[48..56], &0xdead_beef_u64.to_le_bytes());
        assert_eq!(DsaDesc::from_bytes(&b), d);
        assert_eq!(d.pasid(), 0xabcde);
        assert!(d.privileged());
        assert_eq!(d.flags_raw(), 0x00c0_ffee);

        let mut i = IaaDesc {
            op_flags: 0x4000,
            ..Default::default()
        };
        i.set_crc64_poly(0x04c1_1db7_0000_0000);
        let b = i.to_bytes();
        assert_eq!(&b[56..64], &0x04c1_1db7_0000_0000_u64.to_le_bytes());
        assert_eq!(IaaDesc::from_bytes(&b), i);
    }
}
