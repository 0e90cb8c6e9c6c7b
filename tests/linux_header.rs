//! The Rust layouts, opcodes, status codes and flags against the kernel's UAPI header.
//!
//! The test parses `/usr/include/linux/idxd.h` for the enumerators of the opcode and status
//! enums and the fields of the four hardware structs, compiles a C program that prints
//! sizeof/offsetof of every field (the mask of every bit-field) and the value of every
//! enumerator and descriptor flag, and compares each printed fact with the Rust definition.
//! A field or enumerator the header has and this project does not is a failure, as is any
//! difference. Skipped, with a message, where the header or a C compiler is missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use idxd::hw::completion::{dsa_rec_off as r, IAA_CRC64_RESULT_OFFSET};
use idxd::hw::desc::{dsa_off as d, DWORD0_RSVD_MASK, PASID_MASK, PRIV_BIT};
use idxd::hw::flags::FLAGS_MASK;
use idxd::hw::status::{STATUS_FAULT_ON_WRITE, STATUS_MASK};
use idxd::hw::{
    DescFlags, DsaCompletion, DsaDesc, DsaOpcode, DsaStatus, IaaCompletion, IaaDesc, IaaOpcode, IaaStatus,
};

const HEADER: &str = "/usr/include/linux/idxd.h";
const STRUCTS: [&str; 4] = [
    "dsa_hw_desc",
    "iax_hw_desc",
    "dsa_completion_record",
    "iax_completion_record",
];
const ENUMS: [&str; 4] = [
    "dsa_opcode",
    "iax_opcode",
    "dsa_completion_status",
    "iax_completion_status",
];

/// A field as the header declares it.
struct Field {
    name: String,
    bits: Option<u32>,
}

fn body_of<'a>(text: &'a str, opener: &str) -> &'a str {
    let start = text
        .find(opener)
        .unwrap_or_else(|| panic!("{opener} not found in {HEADER}"))
        + opener.len();
    let mut depth = 1;
    for (i, ch) in text[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after {opener}");
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map(|j| &rest[i + j + 2..]).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn struct_fields(text: &str, name: &str) -> Vec<Field> {
    let body = strip_comments(body_of(text, &format!("struct {name} {{")));
    let flat = body.replace(['{', '}'], ";");
    let mut fields = Vec::new();
    for stmt in flat.split(';') {
        let stmt = stmt.trim();
        if stmt.is_empty() || stmt == "union" || stmt == "struct" {
            continue;
        }
        let (decl, bits) = match stmt.split_once(':') {
            Some((d, b)) => (d.trim(), Some(b.trim().parse::<u32>().expect("bit-field width"))),
            None => (stmt, None),
        };
        let decl = decl.split('[').next().unwrap_or(decl).trim();
        let ident = decl.split_whitespace().last().expect("a declarator");
        fields.push(Field {
            name: ident.to_string(),
            bits,
        });
    }
    fields
}

fn enumerators(text: &str, name: &str) -> Vec<String> {
    let body = strip_comments(body_of(text, &format!("enum {name} {{")));
    body.split(',')
        .map(|e| e.split('=').next().unwrap_or("").trim().to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

fn flag_defines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("IDXD_OP_FLAG_") || n.starts_with("DSA_COMP_STATUS_"))
        .map(str::to_string)
        .collect()
}

/// What Rust says: key -> value, keys in the form the C program prints.
fn rust_facts() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    let mut put = |k: String, v: u64| {
        assert!(m.insert(k.clone(), v).is_none(), "duplicate expectation {k}");
    };
    put("size dsa_hw_desc".into(), std::mem::size_of::<DsaDesc>() as u64);
    put("size iax_hw_desc".into(), std::mem::size_of::<IaaDesc>() as u64);
    put(
        "size dsa_completion_record".into(),
        std::mem::size_of::<DsaCompletion>() as u64,
    );
    put(
        "size iax_completion_record".into(),
        std::mem::size_of::<IaaCompletion>() as u64,
    );

    macro_rules! field {
        ($s:literal, $c:literal, $ty:ty, $f:ident) => {{
            let v: $ty = Default::default();
            put(
                concat!("off ", $s, ".", $c).to_string(),
                std::mem::offset_of!($ty, $f) as u64,
            );
            put(
                concat!("len ", $s, ".", $c).to_string(),
                std::mem::size_of_val(&v.$f) as u64,
            );
        }};
    }
    let mut op = |s: &str, c: &str, off: usize, len: u64| {
        put(format!("off {s}.{c}"), off as u64);
        put(format!("len {s}.{c}"), len);
    };
    // dsa_hw_desc
    op("dsa_hw_desc", "expected_res", d::EXPECTED_RES, 1);
    op("dsa_hw_desc", "delta_addr", d::DELTA_ADDR, 8);
    op("dsa_hw_desc", "max_delta_size", d::MAX_DELTA_SIZE, 4);
    op("dsa_hw_desc", "delt_rsvd", d::DELT_RSVD, 4);
    op("dsa_hw_desc", "expected_res_mask", d::EXPECTED_RES_MASK, 1);
    op("dsa_hw_desc", "delta_rec_size", d::DELTA_REC_SIZE, 4);
    op("dsa_hw_desc", "dest2", d::DEST2, 8);
    op("dsa_hw_desc", "crc_seed", d::CRC_SEED, 4);
    op("dsa_hw_desc", "crc_rsvd", d::CRC_RSVD, 4);
    op("dsa_hw_desc", "seed_addr", d::SEED_ADDR, 8);
    op("dsa_hw_desc", "src_dif_flags", d::SRC_DIF_FLAGS, 1);
    op("dsa_hw_desc", "dif_chk_res", d::DIF_CHK_RES, 1);
    op("dsa_hw_desc", "dif_chk_flags", d::DIF_CHK_FLAGS, 1);
    op("dsa_hw_desc", "dif_chk_res2", d::DIF_CHK_RES2, 5);
    op("dsa_hw_desc", "chk_ref_tag_seed", d::CHK_REF_TAG_SEED, 4);
    op("dsa_hw_desc", "chk_app_tag_mask", d::CHK_APP_TAG_MASK, 2);
    op("dsa_hw_desc", "chk_app_tag_seed", d::CHK_APP_TAG_SEED, 2);
    op("dsa_hw_desc", "dif_ins_res", d::DIF_INS_RES, 1);
    op("dsa_hw_desc", "dest_dif_flag", d::DEST_DIF_FLAG, 1);
    op("dsa_hw_desc", "dif_ins_flags", d::DIF_INS_FLAGS, 1);
    op("dsa_hw_desc", "dif_ins_res2", d::DIF_INS_RES2, 13);
    op("dsa_hw_desc", "ins_ref_tag_seed", d::INS_REF_TAG_SEED, 4);
    op("dsa_hw_desc", "ins_app_tag_mask", d::INS_APP_TAG_MASK, 2);
    op("dsa_hw_desc", "ins_app_tag_seed", d::INS_APP_TAG_SEED, 2);
    op("dsa_hw_desc", "src_upd_flags", d::SRC_UPD_FLAGS, 1);
    op("dsa_hw_desc", "upd_dest_flags", d::UPD_DEST_FLAGS, 1);
    op("dsa_hw_desc", "dif_upd_flags", d::DIF_UPD_FLAGS, 1);
    op("dsa_hw_desc", "dif_upd_res", d::DIF_UPD_RES, 5);
    op("dsa_hw_desc", "src_ref_tag_seed", d::SRC_REF_TAG_SEED, 4);
    op("dsa_hw_desc", "src_app_tag_mask", d::SRC_APP_TAG_MASK, 2);
    op("dsa_hw_desc", "src_app_tag_seed", d::SRC_APP_TAG_SEED, 2);
    op("dsa_hw_desc", "dest_ref_tag_seed", d::DEST_REF_TAG_SEED, 4);
    op("dsa_hw_desc", "dest_app_tag_mask", d::DEST_APP_TAG_MASK, 2);
    op("dsa_hw_desc", "dest_app_tag_seed", d::DEST_APP_TAG_SEED, 2);
    // The union members that alias a named Rust field.
    for alias in ["src_addr", "rdback_addr", "pattern", "desc_list_addr"] {
        op("dsa_hw_desc", alias, std::mem::offset_of!(DsaDesc, src_addr), 8);
    }
    for alias in ["dst_addr", "rdback_addr2", "src2_addr", "comp_pattern"] {
        op("dsa_hw_desc", alias, std::mem::offset_of!(DsaDesc, dst_addr), 8);
    }
    for alias in ["xfer_size", "desc_count"] {
        op("dsa_hw_desc", alias, std::mem::offset_of!(DsaDesc, xfer_size), 4);
    }
    // dsa_completion_record union
    op("dsa_completion_record", "result", 1, 1);
    op("dsa_completion_record", "dif_status", 1, 1);
    op("dsa_completion_record", "delta_rec_size", r::DELTA_REC_SIZE, 4);
    op("dsa_completion_record", "crc_val", r::CRC_VAL, 8);
    op("dsa_completion_record", "dif_chk_ref_tag", r::DIF_CHK_REF_TAG, 4);
    op(
        "dsa_completion_record",
        "dif_chk_app_tag_mask",
        r::DIF_CHK_APP_TAG_MASK,
        2,
    );
    op("dsa_completion_record", "dif_chk_app_tag", r::DIF_CHK_APP_TAG, 2);
    op("dsa_completion_record", "dif_ins_res", r::DIF_INS_RES, 8);
    op("dsa_completion_record", "dif_ins_ref_tag", r::DIF_INS_REF_TAG, 4);
    op(
        "dsa_completion_record",
        "dif_ins_app_tag_mask",
        r::DIF_INS_APP_TAG_MASK,
        2,
    );
    op("dsa_completion_record", "dif_ins_app_tag", r::DIF_INS_APP_TAG, 2);
    op(
        "dsa_completion_record",
        "dif_upd_src_ref_tag",
        r::DIF_UPD_SRC_REF_TAG,
        4,
    );
    op(
        "dsa_completion_record",
        "dif_upd_src_app_tag_mask",
        r::DIF_UPD_SRC_APP_TAG_MASK,
        2,
    );
    op(
        "dsa_completion_record",
        "dif_upd_src_app_tag",
        r::DIF_UPD_SRC_APP_TAG,
        2,
    );
    op(
        "dsa_completion_record",
        "dif_upd_dest_ref_tag",
        r::DIF_UPD_DEST_REF_TAG,
        4,
    );
    op(
        "dsa_completion_record",
        "dif_upd_dest_app_tag_mask",
        r::DIF_UPD_DEST_APP_TAG_MASK,
        2,
    );
    op(
        "dsa_completion_record",
        "dif_upd_dest_app_tag",
        r::DIF_UPD_DEST_APP_TAG,
        2,
    );
    for alias in ["compr_flags", "decompr_flags"] {
        op("iax_hw_desc", alias, std::mem::offset_of!(IaaDesc, op_flags), 2);
    }
    field!("dsa_hw_desc", "completion_addr", DsaDesc, completion_addr);
    field!("dsa_hw_desc", "int_handle", DsaDesc, int_handle);
    field!("dsa_hw_desc", "rsvd1", DsaDesc, rsvd1);
    field!("dsa_hw_desc", "op_specific", DsaDesc, op_specific);
    field!("iax_hw_desc", "completion_addr", IaaDesc, completion_addr);
    field!("iax_hw_desc", "src1_addr", IaaDesc, src1_addr);
    field!("iax_hw_desc", "dst_addr", IaaDesc, dst_addr);
    field!("iax_hw_desc", "src1_size", IaaDesc, src1_size);
    field!("iax_hw_desc", "int_handle", IaaDesc, int_handle);
    field!("iax_hw_desc", "src2_addr", IaaDesc, src2_addr);
    field!("iax_hw_desc", "max_dst_size", IaaDesc, max_dst_size);
    field!("iax_hw_desc", "src2_size", IaaDesc, src2_size);
    field!("iax_hw_desc", "filter_flags", IaaDesc, filter_flags);
    field!("iax_hw_desc", "num_inputs", IaaDesc, num_inputs);
    field!("dsa_completion_record", "status", DsaCompletion, status);
    field!("dsa_completion_record", "rsvd", DsaCompletion, rsvd);
    field!(
        "dsa_completion_record",
        "bytes_completed",
        DsaCompletion,
        bytes_completed
    );
    field!("dsa_completion_record", "fault_addr", DsaCompletion, fault_addr);
    field!("dsa_completion_record", "op_specific", DsaCompletion, op_specific);
    field!("iax_completion_record", "status", IaaCompletion, status);
    field!("iax_completion_record", "error_code", IaaCompletion, error_code);
    field!("iax_completion_record", "rsvd", IaaCompletion, rsvd);
    field!(
        "iax_completion_record",
        "bytes_completed",
        IaaCompletion,
        bytes_completed
    );
    field!("iax_completion_record", "fault_addr", IaaCompletion, fault_addr);
    field!(
        "iax_completion_record",
        "invalid_flags",
        IaaCompletion,
        invalid_flags
    );
    field!("iax_completion_record", "rsvd2", IaaCompletion, rsvd2);
    field!("iax_completion_record", "output_size", IaaCompletion, output_size);
    field!("iax_completion_record", "output_bits", IaaCompletion, output_bits);
    field!("iax_completion_record", "rsvd3", IaaCompletion, rsvd3);
    field!("iax_completion_record", "xor_csum", IaaCompletion, xor_csum);
    field!("iax_completion_record", "crc", IaaCompletion, crc);
    field!("iax_completion_record", "min", IaaCompletion, min);
    field!("iax_completion_record", "max", IaaCompletion, max);
    field!("iax_completion_record", "sum", IaaCompletion, sum);
    field!("iax_completion_record", "rsvd4", IaaCompletion, rsvd4);
    // Bit-fields: the u32 word (byte offset) holding them, and their mask in it.
    for s in ["dsa_hw_desc", "iax_hw_desc"] {
        put(format!("bit {s}.pasid"), PASID_MASK as u64);
        put(format!("bit {s}.rsvd"), DWORD0_RSVD_MASK as u64);
        put(format!("bit {s}.priv"), PRIV_BIT as u64);
        put(format!("bit {s}.flags"), (4 << 32) | FLAGS_MASK as u64);
        put(format!("bit {s}.opcode"), (4 << 32) | !FLAGS_MASK as u64);
    }
    put(
        "bit dsa_completion_record.invalid_flags".into(),
        (16 << 32) | r::INVALID_FLAGS_MASK as u64,
    );
    put(
        "bit dsa_completion_record.rsvd2".into(),
        (16 << 32) | !r::INVALID_FLAGS_MASK as u64,
    );
    // Enumerators.
    let dsa_ops: &[(&str, DsaOpcode)] = &[
        ("DSA_OPCODE_NOOP", DsaOpcode::Noop),
        ("DSA_OPCODE_BATCH", DsaOpcode::Batch),
        ("DSA_OPCODE_DRAIN", DsaOpcode::Drain),
        ("DSA_OPCODE_MEMMOVE", DsaOpcode::Memmove),
        ("DSA_OPCODE_MEMFILL", DsaOpcode::Fill),
        ("DSA_OPCODE_COMPARE", DsaOpcode::Compare),
        ("DSA_OPCODE_COMPVAL", DsaOpcode::ComparePattern),
        ("DSA_OPCODE_CR_DELTA", DsaOpcode::CreateDelta),
        ("DSA_OPCODE_AP_DELTA", DsaOpcode::ApplyDelta),
        ("DSA_OPCODE_DUALCAST", DsaOpcode::Dualcast),
        ("DSA_OPCODE_CRCGEN", DsaOpcode::CrcGen),
        ("DSA_OPCODE_COPY_CRC", DsaOpcode::CopyCrc),
        ("DSA_OPCODE_DIF_CHECK", DsaOpcode::DifCheck),
        ("DSA_OPCODE_DIF_INS", DsaOpcode::DifInsert),
        ("DSA_OPCODE_DIF_STRP", DsaOpcode::DifStrip),
        ("DSA_OPCODE_DIF_UPDT", DsaOpcode::DifUpdate),
        ("DSA_OPCODE_CFLUSH", DsaOpcode::CacheFlush),
    ];
    for (n, v) in dsa_ops {
        put(format!("enum {n}"), v.code() as u64);
    }
    let iaa_ops: &[(&str, IaaOpcode)] = &[
        ("IAX_OPCODE_NOOP", IaaOpcode::Noop),
        ("IAX_OPCODE_DRAIN", IaaOpcode::Drain),
        ("IAX_OPCODE_MEMMOVE", IaaOpcode::Memmove),
        ("IAX_OPCODE_DECOMPRESS", IaaOpcode::Decompress),
        ("IAX_OPCODE_COMPRESS", IaaOpcode::Compress),
        ("IAX_OPCODE_CRC64", IaaOpcode::Crc64),
        ("IAX_OPCODE_ZERO_DECOMP_32", IaaOpcode::ZeroDecompress32),
        ("IAX_OPCODE_ZERO_DECOMP_16", IaaOpcode::ZeroDecompress16),
        ("IAX_OPCODE_ZERO_COMP_32", IaaOpcode::ZeroCompress32),
        ("IAX_OPCODE_ZERO_COMP_16", IaaOpcode::ZeroCompress16),
        ("IAX_OPCODE_SCAN", IaaOpcode::Scan),
        ("IAX_OPCODE_SET_MEMBER", IaaOpcode::SetMembership),
        ("IAX_OPCODE_EXTRACT", IaaOpcode::Extract),
        ("IAX_OPCODE_SELECT", IaaOpcode::Select),
        ("IAX_OPCODE_RLE_BURST", IaaOpcode::RleBurst),
        ("IAX_OPCODE_FIND_UNIQUE", IaaOpcode::FindUnique),
        ("IAX_OPCODE_EXPAND", IaaOpcode::Expand),
    ];
    for (n, v) in iaa_ops {
        put(format!("enum {n}"), v.code() as u64);
    }
    let dsa_st: &[(&str, DsaStatus)] = &[
        ("DSA_COMP_NONE", DsaStatus::None),
        ("DSA_COMP_SUCCESS", DsaStatus::Success),
        ("DSA_COMP_SUCCESS_PRED", DsaStatus::SuccessPred),
        ("DSA_COMP_PAGE_FAULT_NOBOF", DsaStatus::PageFaultNoBof),
        ("DSA_COMP_PAGE_FAULT_IR", DsaStatus::PageFaultIr),
        ("DSA_COMP_BATCH_FAIL", DsaStatus::BatchFail),
        ("DSA_COMP_BATCH_PAGE_FAULT", DsaStatus::BatchPageFault),
        ("DSA_COMP_DR_OFFSET_NOINC", DsaStatus::DrOffsetNoInc),
        ("DSA_COMP_DR_OFFSET_ERANGE", DsaStatus::DrOffsetErange),
        ("DSA_COMP_DIF_ERR", DsaStatus::DifErr),
        ("DSA_COMP_BAD_OPCODE", DsaStatus::BadOpcode),
        ("DSA_COMP_INVALID_FLAGS", DsaStatus::InvalidFlags),
        ("DSA_COMP_NOZERO_RESERVE", DsaStatus::NonZeroReserved),
        ("DSA_COMP_XFER_ERANGE", DsaStatus::XferErange),
        ("DSA_COMP_DESC_CNT_ERANGE", DsaStatus::DescCntErange),
        ("DSA_COMP_DR_ERANGE", DsaStatus::DrErange),
        ("DSA_COMP_OVERLAP_BUFFERS", DsaStatus::OverlapBuffers),
        ("DSA_COMP_DCAST_ERR", DsaStatus::DualcastAlign),
        ("DSA_COMP_DESCLIST_ALIGN", DsaStatus::DescListAlign),
        ("DSA_COMP_INT_HANDLE_INVAL", DsaStatus::IntHandleInval),
        ("DSA_COMP_CRA_XLAT", DsaStatus::CraXlat),
        ("DSA_COMP_CRA_ALIGN", DsaStatus::CraAlign),
        ("DSA_COMP_ADDR_ALIGN", DsaStatus::AddrAlign),
        ("DSA_COMP_PRIV_BAD", DsaStatus::PrivBad),
        ("DSA_COMP_TRAFFIC_CLASS_CONF", DsaStatus::TrafficClassConf),
        ("DSA_COMP_PFAULT_RDBA", DsaStatus::PfaultRdba),
        ("DSA_COMP_HW_ERR1", DsaStatus::HwErr1),
        ("DSA_COMP_HW_ERR_DRB", DsaStatus::HwErrDrb),
        ("DSA_COMP_TRANSLATION_FAIL", DsaStatus::TranslationFail),
    ];
    for (n, v) in dsa_st {
        put(format!("enum {n}"), v.code() as u64);
    }
    let iaa_st: &[(&str, IaaStatus)] = &[
        ("IAX_COMP_NONE", IaaStatus::None),
        ("IAX_COMP_SUCCESS", IaaStatus::Success),
        ("IAX_COMP_PAGE_FAULT_IR", IaaStatus::PageFaultIr),
        ("IAX_COMP_ANALYTICS_ERROR", IaaStatus::AnalyticsError),
        ("IAX_COMP_OUTBUF_OVERFLOW", IaaStatus::OutbufOverflow),
        ("IAX_COMP_BAD_OPCODE", IaaStatus::BadOpcode),
        ("IAX_COMP_INVALID_FLAGS", IaaStatus::InvalidFlags),
        ("IAX_COMP_NOZERO_RESERVE", IaaStatus::NonZeroReserved),
        ("IAX_COMP_INVALID_SIZE", IaaStatus::InvalidSize),
        ("IAX_COMP_OVERLAP_BUFFERS", IaaStatus::OverlapBuffers),
        ("IAX_COMP_INT_HANDLE_INVAL", IaaStatus::IntHandleInval),
        ("IAX_COMP_CRA_XLAT", IaaStatus::CraXlat),
        ("IAX_COMP_CRA_ALIGN", IaaStatus::CraAlign),
        ("IAX_COMP_ADDR_ALIGN", IaaStatus::AddrAlign),
        ("IAX_COMP_PRIV_BAD", IaaStatus::PrivBad),
        ("IAX_COMP_TRAFFIC_CLASS_CONF", IaaStatus::TrafficClassConf),
        ("IAX_COMP_PFAULT_RDBA", IaaStatus::PfaultRdba),
        ("IAX_COMP_HW_ERR1", IaaStatus::HwErr1),
        ("IAX_COMP_HW_ERR_DRB", IaaStatus::HwErrDrb),
        ("IAX_COMP_TRANSLATION_FAIL", IaaStatus::TranslationFail),
        ("IAX_COMP_PRS_TIMEOUT", IaaStatus::PrsTimeout),
        ("IAX_COMP_WATCHDOG", IaaStatus::Watchdog),
        ("IAX_COMP_INVALID_COMP_FLAG", IaaStatus::InvalidCompFlag),
        ("IAX_COMP_INVALID_FILTER_FLAG", IaaStatus::InvalidFilterFlag),
        ("IAX_COMP_INVALID_INPUT_SIZE", IaaStatus::InvalidInputSize),
        ("IAX_COMP_INVALID_NUM_ELEMS", IaaStatus::InvalidNumElems),
        ("IAX_COMP_INVALID_SRC1_WIDTH", IaaStatus::InvalidSrc1Width),
        ("IAX_COMP_INVALID_INVERT_OUT", IaaStatus::InvalidInvertOut),
    ];
    for (n, v) in iaa_st {
        put(format!("enum {n}"), v.code() as u64);
    }
    // Descriptor flags and status masks.
    let flags: &[(&str, DescFlags)] = &[
        ("IDXD_OP_FLAG_FENCE", DescFlags::FENCE),
        ("IDXD_OP_FLAG_BOF", DescFlags::BLOCK_ON_FAULT),
        ("IDXD_OP_FLAG_CRAV", DescFlags::CRAV),
        ("IDXD_OP_FLAG_RCR", DescFlags::RCR),
        ("IDXD_OP_FLAG_RCI", DescFlags::RCI),
        ("IDXD_OP_FLAG_CRSTS", DescFlags::CRSTS),
        ("IDXD_OP_FLAG_CR", DescFlags::CHECK_RESULT),
        ("IDXD_OP_FLAG_CC", DescFlags::CACHE_CONTROL),
        ("IDXD_OP_FLAG_ADDR1_TCS", DescFlags::ADDR1_TCS),
        ("IDXD_OP_FLAG_ADDR2_TCS", DescFlags::ADDR2_TCS),
        ("IDXD_OP_FLAG_ADDR3_TCS", DescFlags::ADDR3_TCS),
        ("IDXD_OP_FLAG_CR_TCS", DescFlags::CR_TCS),
        ("IDXD_OP_FLAG_STORD", DescFlags::STRICT_ORDER),
        ("IDXD_OP_FLAG_DRDBK", DescFlags::DEST_READBACK),
        ("IDXD_OP_FLAG_DSTS", DescFlags::DEST_STEERING),
        ("IDXD_OP_FLAG_RD_SRC2_AECS", DescFlags::RD_SRC2_AECS),
        ("IDXD_OP_FLAG_RD_SRC2_2ND", DescFlags::RD_SRC2_2ND),
        ("IDXD_OP_FLAG_WR_SRC2_AECS_COMP", DescFlags::WR_SRC2_AECS_ALWAYS),
        ("IDXD_OP_FLAG_WR_SRC2_AECS_OVFL", DescFlags::WR_SRC2_AECS_OVERFLOW),
        ("IDXD_OP_FLAG_SRC2_STS", DescFlags::SRC2_STS),
        ("IDXD_OP_FLAG_CRC_RFC3720", DescFlags::CRC_RFC3720),
    ];
    for (n, v) in flags {
        put(format!("define {n}"), v.bits() as u64);
    }
    put("define DSA_COMP_STATUS_MASK".into(), STATUS_MASK as u64);
    put(
        "define DSA_COMP_STATUS_WRITE".into(),
        STATUS_FAULT_ON_WRITE as u64,
    );
    // Not in the header, but checked by the emulator/driver: the CRC64 result sits in max/sum.
    assert_eq!(std::mem::offset_of!(IaaCompletion, max), IAA_CRC64_RESULT_OFFSET);
    m
}

fn c_program(text: &str) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <string.h>\n#include <stdint.h>\n#include <linux/idxd.h>\n\
         static void bits(const char *name, const unsigned char *p, size_t n) {\n\
           size_t i = 0; while (i < n && !p[i]) i++;\n\
           size_t w = i & ~(size_t)3; uint32_t v; memcpy(&v, p + w, 4);\n\
           printf(\"bit %s %llu\\n\", name, ((unsigned long long)w << 32) | v);\n}\n\
         int main(void) {\n",
    );
    for s in STRUCTS {
        c.push_str(&format!("  printf(\"size {s} %zu\\n\", sizeof(struct {s}));\n"));
        for f in struct_fields(text, s) {
            let n = &f.name;
            match f.bits {
                None => c.push_str(&format!(
                    "  printf(\"off {s}.{n} %zu\\n\", offsetof(struct {s}, {n}));\n  \
                     printf(\"len {s}.{n} %zu\\n\", sizeof(((struct {s} *)0)->{n}));\n"
                )),
                Some(w) => c.push_str(&format!(
                    "  {{ struct {s} v; memset(&v, 0, sizeof v); v.{n} = (1ull << {w}) - 1; \
                     bits(\"{s}.{n}\", (const unsigned char *)&v, sizeof v); }}\n"
                )),
            }
        }
    }
    for e in ENUMS {
        for name in enumerators(text, e) {
            c.push_str(&format!(
                "  printf(\"enum {name} %lld\\n\", (long long)({name}));\n"
            ));
        }
    }
    for name in flag_defines(text) {
        c.push_str(&format!(
            "  printf(\"define {name} %lld\\n\", (long long)({name}));\n"
        ));
    }
    c.push_str("  return 0;\n}\n");
    c
}

#[test]
fn layouts_opcodes_statuses_and_flags_match_linux_idxd_h() {
    let Ok(text) = std::fs::read_to_string(HEADER) else {
        eprintln!("SKIPPED: {HEADER} not found (install linux-libc-dev to run this check)");
        return;
    };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    if Command::new(&cc)
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("SKIPPED: no C compiler `{cc}` (install gcc to run this check)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("idxd-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, c_program(&text)).unwrap();
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-O0", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "C compile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    let printed = String::from_utf8(run.stdout).unwrap();
    let _ = std::fs::remove_dir_all(Path::new(&dir));

    let mut expected = rust_facts();
    let mut problems = Vec::new();
    let mut checked = 0;
    for line in printed.lines() {
        let (key, val) = line.rsplit_once(' ').unwrap();
        let val: i64 = val.parse().unwrap();
        match expected.remove(key) {
            Some(rust) if rust == val as u64 => checked += 1,
            Some(rust) => problems.push(format!("{key}: C says {val:#x}, Rust says {rust:#x}")),
            None => problems.push(format!("{key} = {val:#x} in the header has no Rust counterpart")),
        }
    }
    for key in expected.keys() {
        problems.push(format!("{key}: Rust expects it, the header does not have it"));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(checked > 250, "only {checked} facts compared");
    eprintln!("{checked} facts compared with {HEADER}: all match");
}
