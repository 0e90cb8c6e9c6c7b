/*
 * Golden descriptor and completion-record bytes from the kernel's own structs.
 *
 * Compiled by tests/linux_header.rs against /usr/include/linux/idxd.h. Each case zeroes one
 * kernel struct, assigns a distinct value to every field it names (bit-fields and union members
 * included) through the header's field names, and prints
 *
 *     val <case>.<field> <value as stored in the field, decimal>
 *     bytes <case> <the struct's bytes, hex>
 *
 * The Rust side builds the same values through idxd-hw's typed builders / to_bytes and must
 * produce these bytes; idxd-hw's parsers reading these bytes must give back the values.
 * Values are chosen so that no two fields of a case share a byte value, so swapping any two
 * fields (or writing one at the wrong width) changes the bytes.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include <linux/idxd.h>

/*
 * Flags not in the UAPI header. Sources:
 * - DSA "read the CRC seed from seed_addr", bit 16 of the flags (DSA spec 8.3.8; the kernel's
 *   drivers/dma/idxd test headers call it IDXD_FLAG_CRC_READ_CRC_SEED (1 << 16)).
 * - IAA AECS select, bit 22 (Intel QPL hw_descriptors: ADOF_AECS_SEL (1u << 22u)).
 * - IAA compress flags: drivers/crypto/intel/iaa/iaa_crypto.h IAA_COMP_FLUSH_OUTPUT BIT(1),
 *   IAA_COMP_APPEND_EOB BIT(2).
 * - IAA decompress flags: iaa_crypto.h IAA_DECOMP_ENABLE BIT(0), IAA_DECOMP_FLUSH_OUTPUT BIT(1),
 *   IAA_DECOMP_SUPPRESS_OUTPUT BIT(9) (the same bits as QPL's ADDF_*).
 */
#define CRC_READ_CRC_SEED (1u << 16)
#define IAA_AECS_SEL (1u << 22)
#define IAA_COMP_FLUSH_OUTPUT (1u << 1)
#define IAA_COMP_APPEND_EOB (1u << 2)
#define IAA_DECOMP_ENABLE (1u << 0)
#define IAA_DECOMP_FLUSH_OUTPUT (1u << 1)
#define IAA_DECOMP_SUPPRESS_OUTPUT (1u << 9)

static const char *cur;

static void val(const char *field, unsigned long long v)
{
	printf("val %s.%s %llu\n", cur, field, v);
}

static void dump(const void *p, size_t n)
{
	printf("bytes %s ", cur);
	for (size_t i = 0; i < n; i++)
		printf("%02x", ((const unsigned char *)p)[i]);
	printf("\n");
}

#define BEGIN(T, name) { T v_; memset(&v_, 0, sizeof v_); cur = name;
#define SET(f, x) do { v_.f = (x); val(#f, (unsigned long long)v_.f); } while (0)
#define END dump(&v_, sizeof v_); }

/* The first dword and completion address every descriptor case carries. */
#define HEAD(op, fl, pasid_, priv_) do { \
	SET(pasid, pasid_); SET(priv, priv_); SET(opcode, op); SET(flags, fl); \
	SET(completion_addr, 0x1111222233334440ull); } while (0)

int main(void)
{
	printf("size dsa_raw_desc %zu\n", sizeof(struct dsa_raw_desc));
	printf("size dsa_raw_completion_record %zu\n", sizeof(struct dsa_raw_completion_record));
	printf("size iax_raw_completion_record %zu\n", sizeof(struct iax_raw_completion_record));

	/* ---- DSA descriptors, one per operation idxd-hw builds ---- */
	BEGIN(struct dsa_hw_desc, "dsa_memmove")
	HEAD(DSA_OPCODE_MEMMOVE, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_RCI |
	     IDXD_OP_FLAG_BOF | IDXD_OP_FLAG_CC, 0xabcde, 1);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x00a0b0c0);
	SET(int_handle, 0x2d2e);
	END

	BEGIN(struct dsa_hw_desc, "dsa_fill")
	HEAD(DSA_OPCODE_MEMFILL, IDXD_OP_FLAG_CRAV, 0x12345, 0);
	SET(pattern, 0x5152535455565758ull);
	SET(dst_addr, 0x6162636465666768ull);
	SET(xfer_size, 0x00717273);
	END

	BEGIN(struct dsa_hw_desc, "dsa_compare")
	HEAD(DSA_OPCODE_COMPARE, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CR, 0x1, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(src2_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x000a0b0c);
	SET(expected_res, 1);
	END

	BEGIN(struct dsa_hw_desc, "dsa_compval")
	HEAD(DSA_OPCODE_COMPVAL, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CR, 0x2, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(comp_pattern, 0x9192939495969798ull);
	SET(xfer_size, 0x000a0b0c);
	SET(expected_res, 1);
	END

	BEGIN(struct dsa_hw_desc, "dsa_batch")
	HEAD(DSA_OPCODE_BATCH, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_FENCE, 0x3, 0);
	SET(desc_list_addr, 0x0102030405060700ull);
	SET(desc_count, 0x0000011d);
	END

	BEGIN(struct dsa_hw_desc, "dsa_crcgen")
	HEAD(DSA_OPCODE_CRCGEN, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0x4, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(xfer_size, 0x000a0b0c);
	SET(crc_seed, 0xe1e2e3e4u);
	END

	BEGIN(struct dsa_hw_desc, "dsa_copy_crc")
	HEAD(DSA_OPCODE_COPY_CRC, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | CRC_READ_CRC_SEED, 0x5, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x000a0b0c);
	SET(seed_addr, 0xc1c2c3c4c5c6c7c8ull);
	END

	BEGIN(struct dsa_hw_desc, "dsa_dualcast")
	HEAD(DSA_OPCODE_DUALCAST, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0x6, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1abcull);
	SET(dest2, 0x2122232425262abcull);
	SET(xfer_size, 0x000a0b0c);
	END

	BEGIN(struct dsa_hw_desc, "dsa_cr_delta")
	HEAD(DSA_OPCODE_CR_DELTA, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CR, 0x7, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(src2_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x00040000);
	SET(delta_addr, 0xa1a2a3a4a5a6a7a8ull);
	SET(max_delta_size, 0xb1b2b3b4u / 10 * 10);
	SET(expected_res_mask, 1);
	END

	BEGIN(struct dsa_hw_desc, "dsa_ap_delta")
	HEAD(DSA_OPCODE_AP_DELTA, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0x8, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x00040000);
	SET(delta_rec_size, 0xc1c2c3c4u / 10 * 10);
	END

	BEGIN(struct dsa_hw_desc, "dsa_cflush")
	HEAD(DSA_OPCODE_CFLUSH, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CC, 0x9, 0);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x000a0b0c);
	END

	BEGIN(struct dsa_hw_desc, "dsa_noop")
	HEAD(DSA_OPCODE_NOOP, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_RCI, 0xfffff, 1);
	SET(int_handle, 0x7ffe);
	END

	BEGIN(struct dsa_hw_desc, "dsa_drain")
	HEAD(DSA_OPCODE_DRAIN, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0xa, 0);
	END

	/* DIF descriptors: idxd-hw has no builder; the raw field setters are checked. */
	BEGIN(struct dsa_hw_desc, "dsa_dif_check")
	HEAD(DSA_OPCODE_DIF_CHECK, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0xb, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(xfer_size, 0x00001000);
	SET(src_dif_flags, 0x21);
	SET(dif_chk_flags, 0x43);
	SET(chk_ref_tag_seed, 0x54555657u);
	SET(chk_app_tag_mask, 0x6465);
	SET(chk_app_tag_seed, 0x7475);
	END

	BEGIN(struct dsa_hw_desc, "dsa_dif_ins")
	HEAD(DSA_OPCODE_DIF_INS, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0xc, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x00001000);
	SET(dest_dif_flag, 0x32);
	SET(dif_ins_flags, 0x43);
	SET(ins_ref_tag_seed, 0x54555657u);
	SET(ins_app_tag_mask, 0x6465);
	SET(ins_app_tag_seed, 0x7475);
	END

	BEGIN(struct dsa_hw_desc, "dsa_dif_upd")
	HEAD(DSA_OPCODE_DIF_UPDT, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0xd, 0);
	SET(src_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(xfer_size, 0x00001000);
	SET(src_upd_flags, 0x21);
	SET(upd_dest_flags, 0x32);
	SET(dif_upd_flags, 0x43);
	SET(src_ref_tag_seed, 0x54555657u);
	SET(src_app_tag_mask, 0x6465);
	SET(src_app_tag_seed, 0x7475);
	SET(dest_ref_tag_seed, 0x84858687u);
	SET(dest_app_tag_mask, 0x9495);
	SET(dest_app_tag_seed, 0xa4a5);
	END

	/* The reserved bits of dword 0 and rsvd1, set, so that the parsers must keep them. */
	BEGIN(struct dsa_hw_desc, "dsa_reserved")
	SET(pasid, 0x0f0e0);
	SET(rsvd, 0x5a5);
	SET(priv, 0);
	SET(flags, 0xc0ffee);
	SET(opcode, 0x7e);
	SET(rsvd1, 0x3b3c);
	END

	BEGIN(struct dsa_raw_desc, "dsa_raw")
	for (int i = 0; i < 8; i++) {
		char n[16];
		v_.field[i] = 0x0101010101010101ull * (unsigned)(0x10 * i + 1) + 0x0706050403020100ull;
		snprintf(n, sizeof n, "field%d", i);
		val(n, v_.field[i]);
	}
	END

	/* ---- IAA descriptors ---- */
	BEGIN(struct iax_hw_desc, "iax_compress")
	HEAD(IAX_OPCODE_COMPRESS, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_RCI |
	     IDXD_OP_FLAG_BOF | IDXD_OP_FLAG_CC | IDXD_OP_FLAG_RD_SRC2_AECS |
	     IDXD_OP_FLAG_WR_SRC2_AECS_COMP | IDXD_OP_FLAG_CRC_RFC3720 | IAA_AECS_SEL, 0x54321, 1);
	SET(src1_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(src1_size, 0x00a0b0c0);
	SET(int_handle, 0x2d2e);
	SET(compr_flags, IAA_COMP_FLUSH_OUTPUT | IAA_COMP_APPEND_EOB);
	SET(src2_addr, 0x3132333435363700ull);
	SET(max_dst_size, 0x00414243);
	SET(src2_size, 2 * 1568); /* two AECS copies (AECS select) */
	END

	BEGIN(struct iax_hw_desc, "iax_compress_ovfl")
	HEAD(IAX_OPCODE_COMPRESS, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RD_SRC2_AECS |
	     IDXD_OP_FLAG_WR_SRC2_AECS_OVFL, 0x1, 0);
	SET(src1_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(src1_size, 0x00a0b0c0);
	SET(compr_flags, IAA_COMP_FLUSH_OUTPUT);
	SET(src2_addr, 0x3132333435363700ull);
	SET(max_dst_size, 0x00414243);
	SET(src2_size, 0x00000620);
	END

	BEGIN(struct iax_hw_desc, "iax_decompress")
	HEAD(IAX_OPCODE_DECOMPRESS, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR | IDXD_OP_FLAG_CRC_RFC3720,
	     0x2, 0);
	SET(src1_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(src1_size, 0x00a0b0c0);
	SET(decompr_flags, IAA_DECOMP_ENABLE | IAA_DECOMP_FLUSH_OUTPUT | IAA_DECOMP_SUPPRESS_OUTPUT);
	SET(max_dst_size, 0x00414243);
	END

	BEGIN(struct iax_hw_desc, "iax_crc64")
	HEAD(IAX_OPCODE_CRC64, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0x3, 0);
	SET(src1_addr, 0x0102030405060708ull);
	SET(src1_size, 0x00a0b0c0);
	/* The polynomial overlays filter_flags (low half) and num_inputs (high half). */
	SET(filter_flags, 0x0b497347u);
	SET(num_inputs, 0x6c40df5fu);
	END

	BEGIN(struct iax_hw_desc, "iax_memmove")
	HEAD(IAX_OPCODE_MEMMOVE, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR, 0x4, 0);
	SET(src1_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(src1_size, 0x00a0b0c0);
	END

	BEGIN(struct iax_hw_desc, "iax_all")
	SET(pasid, 0x0f0e0);
	SET(rsvd, 0x5a5);
	SET(priv, 1);
	SET(flags, 0xc0ffee);
	SET(opcode, 0x7e);
	SET(completion_addr, 0x1111222233334440ull);
	SET(src1_addr, 0x0102030405060708ull);
	SET(dst_addr, 0x191a1b1c1d1e1f10ull);
	SET(src1_size, 0x21222324u);
	SET(int_handle, 0x2d2e);
	SET(decompr_flags, 0x3d3e);
	SET(src2_addr, 0x3132333435363738ull);
	SET(max_dst_size, 0x41424344u);
	SET(src2_size, 0x51525354u);
	SET(filter_flags, 0x61626364u);
	SET(num_inputs, 0x71727374u);
	END

	/* ---- DSA completion records ---- */
	BEGIN(struct dsa_completion_record, "dsa_rec_fault")
	SET(status, DSA_COMP_PAGE_FAULT_NOBOF | DSA_COMP_STATUS_WRITE);
	SET(result, 0x5a);
	SET(bytes_completed, 0x01020304u);
	SET(fault_addr, 0x1112131415161718ull);
	SET(invalid_flags, 0xa1a2a3);
	SET(rsvd2, 0xb4);
	END

	BEGIN(struct dsa_completion_record, "dsa_rec_crc")
	SET(status, DSA_COMP_SUCCESS);
	SET(bytes_completed, 0x01020304u);
	SET(crc_val, 0xc1c2c3c4c5c6c7c8ull);
	END

	BEGIN(struct dsa_completion_record, "dsa_rec_delta")
	SET(status, DSA_COMP_SUCCESS_PRED);
	SET(result, 1);
	SET(delta_rec_size, 0xd1d2d3d4u);
	END

	BEGIN(struct dsa_completion_record, "dsa_rec_dif_chk")
	SET(status, DSA_COMP_DIF_ERR);
	SET(dif_status, 0x2a);
	SET(dif_chk_ref_tag, 0x41424344u);
	SET(dif_chk_app_tag_mask, 0x5152);
	SET(dif_chk_app_tag, 0x6162);
	END

	BEGIN(struct dsa_completion_record, "dsa_rec_dif_ins")
	SET(status, DSA_COMP_SUCCESS);
	SET(dif_ins_res, 0x3132333435363738ull);
	SET(dif_ins_ref_tag, 0x41424344u);
	SET(dif_ins_app_tag_mask, 0x5152);
	SET(dif_ins_app_tag, 0x6162);
	END

	BEGIN(struct dsa_completion_record, "dsa_rec_dif_upd")
	SET(status, DSA_COMP_SUCCESS);
	SET(dif_upd_src_ref_tag, 0x41424344u);
	SET(dif_upd_src_app_tag_mask, 0x5152);
	SET(dif_upd_src_app_tag, 0x6162);
	SET(dif_upd_dest_ref_tag, 0x71727374u);
	SET(dif_upd_dest_app_tag_mask, 0x8182);
	SET(dif_upd_dest_app_tag, 0x9192);
	END

	BEGIN(struct dsa_raw_completion_record, "dsa_rec_raw")
	for (int i = 0; i < 4; i++) {
		char n[16];
		v_.field[i] = 0x0101010101010101ull * (unsigned)(0x10 * i + 1) + 0x0706050403020100ull;
		snprintf(n, sizeof n, "field%d", i);
		val(n, v_.field[i]);
	}
	END

	/* ---- IAA completion records ---- */
	BEGIN(struct iax_completion_record, "iax_rec")
	SET(status, IAX_COMP_ANALYTICS_ERROR | DSA_COMP_STATUS_WRITE);
	SET(error_code, 0x19);
	SET(bytes_completed, 0x31323334u);
	SET(fault_addr, 0x4142434445464748ull);
	SET(invalid_flags, 0x51525354u);
	SET(rsvd2, 0x61626364u);
	SET(output_size, 0x71727374u);
	SET(output_bits, 0x05);
	SET(rsvd3, 0x86);
	SET(xor_csum, 0x9192);
	SET(crc, 0xa1a2a3a4u);
	SET(min, 0xb1b2b3b4u);
	SET(max, 0xc1c2c3c4u);
	SET(sum, 0xd1d2d3d4u);
	SET(rsvd4[0], 0xe1e2e3e4e5e6e7e8ull);
	SET(rsvd4[1], 0xf1f2f3f4f5f6f7f8ull);
	END

	BEGIN(struct iax_raw_completion_record, "iax_rec_raw")
	for (int i = 0; i < 8; i++) {
		char n[16];
		v_.field[i] = 0x0101010101010101ull * (unsigned)(0x10 * i + 1) + 0x0706050403020100ull;
		snprintf(n, sizeof n, "field%d", i);
		val(n, v_.field[i]);
	}
	END

	return 0;
}
