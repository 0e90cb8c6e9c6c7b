//! The Rust layouts, opcodes, status codes and flags against the kernel's UAPI header.
//!
//! Two checks, both against `/usr/include/linux/idxd.h` compiled by a C compiler:
//! - facts: the test parses the header for the enumerators of the opcode and status enums and
//!   the fields of the four hardware structs, compiles a C program that prints sizeof/offsetof
//!   of every field (the mask of every bit-field) and the value of every enumerator and
//!   descriptor flag, and compares each printed fact with the Rust definition. A field or
//!   enumerator the header has and this project does not is a failure, as is any difference.
//! - bytes: `tests/linux_header_values.c` fills the kernel structs (descriptors of every
//!   operation idxd-hw builds, DIF descriptors, completion records, the raw variants) with a
//!   distinct value per field and prints their bytes; idxd-hw's builders and `to_bytes` must
//!   produce those bytes from the same values, and its parsers must read the values back.
//!
//! Where the header or a C compiler is missing the tests skip loudly, except in CI (`CI` set to
//! anything but `false`/`0`), where that is a failure.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use idxd::hw::completion::{
    dsa_rec_off as r, dsa_rec_off as rec, DSA_COMPLETION_SIZE, IAA_COMPLETION_SIZE, IAA_CRC64_RESULT_OFFSET,
};
use idxd::hw::desc::{dsa_off as d, dsa_off as dsa, DESC_SIZE, DWORD0_RSVD_MASK, PASID_MASK, PRIV_BIT};
use idxd::hw::flags::FLAGS_MASK;
use idxd::hw::status::{STATUS_FAULT_ON_WRITE, STATUS_MASK};
use idxd::hw::{
    AecsWrite, CompressFlags, Crc64Flags, CrcSeed, DecompressFlags, DescFlags, DsaCompletion, DsaDesc, DsaOp,
    DsaOpcode, DsaStatus, EndProcessing, IaaCompletion, IaaDesc, IaaOp, IaaOpcode, IaaStatus, Limits,
    RecordMode, StatusByte, Submit,
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
///
/// `fault_info`: whether the header splits the records' reserved bytes 2-3 into `fault_info`
/// and `rsvd` (newer kernels) or has one `uint16_t rsvd` (older ones). Either way the Rust side
/// is the span between `result`/`error_code` and `bytes_completed` (the byte test checks that
/// those bytes survive a parse and serialise).
fn rust_facts(fault_info: bool) -> BTreeMap<String, u64> {
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
    // Members of the operation-specific unions: offsets from idxd-hw's constants. Their widths
    // are not restated here as literals: a reserved gap is the distance to idxd-hw's next
    // offset, and every other member's width is checked by the byte test (the C program stores
    // a full-width value, idxd-hw must write and read the same bytes); see `bytes_checked`.
    for (c, off, next) in [
        ("delt_rsvd", d::DELT_RSVD, d::EXPECTED_RES_MASK),
        ("crc_rsvd", d::CRC_RSVD, d::SEED_ADDR),
        ("dif_chk_res2", d::DIF_CHK_RES2, d::CHK_REF_TAG_SEED),
        ("dif_ins_res2", d::DIF_INS_RES2, d::INS_REF_TAG_SEED),
        ("dif_upd_res", d::DIF_UPD_RES, d::SRC_REF_TAG_SEED),
        // dif_chk_res / dif_ins_res: one reserved byte each, before the next field.
        ("dif_chk_res", d::DIF_CHK_RES, d::DIF_CHK_FLAGS),
        ("dif_ins_res", d::DIF_INS_RES, d::DEST_DIF_FLAG),
    ] {
        put(format!("off dsa_hw_desc.{c}"), off as u64);
        put(format!("len dsa_hw_desc.{c}"), (next - off) as u64);
    }
    for (c, off) in [
        ("expected_res", d::EXPECTED_RES),
        ("delta_addr", d::DELTA_ADDR),
        ("max_delta_size", d::MAX_DELTA_SIZE),
        ("expected_res_mask", d::EXPECTED_RES_MASK),
        ("delta_rec_size", d::DELTA_REC_SIZE),
        ("dest2", d::DEST2),
        ("crc_seed", d::CRC_SEED),
        ("seed_addr", d::SEED_ADDR),
        ("src_dif_flags", d::SRC_DIF_FLAGS),
        ("dif_chk_flags", d::DIF_CHK_FLAGS),
        ("chk_ref_tag_seed", d::CHK_REF_TAG_SEED),
        ("chk_app_tag_mask", d::CHK_APP_TAG_MASK),
        ("chk_app_tag_seed", d::CHK_APP_TAG_SEED),
        ("dest_dif_flag", d::DEST_DIF_FLAG),
        ("dif_ins_flags", d::DIF_INS_FLAGS),
        ("ins_ref_tag_seed", d::INS_REF_TAG_SEED),
        ("ins_app_tag_mask", d::INS_APP_TAG_MASK),
        ("ins_app_tag_seed", d::INS_APP_TAG_SEED),
        ("src_upd_flags", d::SRC_UPD_FLAGS),
        ("upd_dest_flags", d::UPD_DEST_FLAGS),
        ("dif_upd_flags", d::DIF_UPD_FLAGS),
        ("src_ref_tag_seed", d::SRC_REF_TAG_SEED),
        ("src_app_tag_mask", d::SRC_APP_TAG_MASK),
        ("src_app_tag_seed", d::SRC_APP_TAG_SEED),
        ("dest_ref_tag_seed", d::DEST_REF_TAG_SEED),
        ("dest_app_tag_mask", d::DEST_APP_TAG_MASK),
        ("dest_app_tag_seed", d::DEST_APP_TAG_SEED),
    ] {
        put(format!("off dsa_hw_desc.{c}"), off as u64);
    }
    // The union members that alias a named Rust field: offset and width of that field.
    let v = DsaDesc::default();
    for (aliases, off, len) in [
        (
            ["src_addr", "rdback_addr", "pattern", "desc_list_addr"].as_slice(),
            std::mem::offset_of!(DsaDesc, src_addr),
            std::mem::size_of_val(&v.src_addr),
        ),
        (
            ["dst_addr", "rdback_addr2", "src2_addr", "comp_pattern"].as_slice(),
            std::mem::offset_of!(DsaDesc, dst_addr),
            std::mem::size_of_val(&v.dst_addr),
        ),
        (
            ["xfer_size", "desc_count"].as_slice(),
            std::mem::offset_of!(DsaDesc, xfer_size),
            std::mem::size_of_val(&v.xfer_size),
        ),
    ] {
        for alias in aliases {
            put(format!("off dsa_hw_desc.{alias}"), off as u64);
            put(format!("len dsa_hw_desc.{alias}"), len as u64);
        }
    }
    // dsa_completion_record union
    let v = DsaCompletion::default();
    for alias in ["result", "dif_status"] {
        put(
            format!("off dsa_completion_record.{alias}"),
            std::mem::offset_of!(DsaCompletion, result) as u64,
        );
        put(
            format!("len dsa_completion_record.{alias}"),
            std::mem::size_of_val(&v.result) as u64,
        );
    }
    for (c, off) in [
        ("delta_rec_size", r::DELTA_REC_SIZE),
        ("crc_val", r::CRC_VAL),
        ("dif_chk_ref_tag", r::DIF_CHK_REF_TAG),
        ("dif_chk_app_tag_mask", r::DIF_CHK_APP_TAG_MASK),
        ("dif_chk_app_tag", r::DIF_CHK_APP_TAG),
        ("dif_ins_res", r::DIF_INS_RES),
        ("dif_ins_ref_tag", r::DIF_INS_REF_TAG),
        ("dif_ins_app_tag_mask", r::DIF_INS_APP_TAG_MASK),
        ("dif_ins_app_tag", r::DIF_INS_APP_TAG),
        ("dif_upd_src_ref_tag", r::DIF_UPD_SRC_REF_TAG),
        ("dif_upd_src_app_tag_mask", r::DIF_UPD_SRC_APP_TAG_MASK),
        ("dif_upd_src_app_tag", r::DIF_UPD_SRC_APP_TAG),
        ("dif_upd_dest_ref_tag", r::DIF_UPD_DEST_REF_TAG),
        ("dif_upd_dest_app_tag_mask", r::DIF_UPD_DEST_APP_TAG_MASK),
        ("dif_upd_dest_app_tag", r::DIF_UPD_DEST_APP_TAG),
    ] {
        put(format!("off dsa_completion_record.{c}"), off as u64);
    }
    let v = IaaDesc::default();
    for alias in ["compr_flags", "decompr_flags"] {
        put(
            format!("off iax_hw_desc.{alias}"),
            std::mem::offset_of!(IaaDesc, op_flags) as u64,
        );
        put(
            format!("len iax_hw_desc.{alias}"),
            std::mem::size_of_val(&v.op_flags) as u64,
        );
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
    let spans = [
        (
            "dsa_completion_record",
            std::mem::offset_of!(DsaCompletion, result) + 1,
            std::mem::offset_of!(DsaCompletion, bytes_completed),
        ),
        (
            "iax_completion_record",
            std::mem::offset_of!(IaaCompletion, error_code) + 1,
            std::mem::offset_of!(IaaCompletion, bytes_completed),
        ),
    ];
    for (s, start, end) in spans {
        let mut at = start;
        if fault_info {
            put(format!("off {s}.fault_info"), at as u64);
            put(format!("len {s}.fault_info"), 1);
            at += 1;
        }
        put(format!("off {s}.rsvd"), at as u64);
        put(format!("len {s}.rsvd"), (end - at) as u64);
    }
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

/// The `len` facts of union members that the byte test checks instead of a literal here: every
/// member of `dsa_hw_desc` / `dsa_completion_record` that `linux_header_values.c` assigns a
/// full-width value to (parsed from its source), where `rust_facts` has no width for it.
fn bytes_checked() -> std::collections::BTreeSet<String> {
    let src = include_str!("linux_header_values.c");
    let facts = rust_facts(false);
    let mut out = std::collections::BTreeSet::new();
    let mut current = "";
    for line in src.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("BEGIN(struct ") {
            current = rest.split(',').next().unwrap();
        } else if let Some(rest) = line.strip_prefix("SET(") {
            let field = rest.split(',').next().unwrap();
            let key = format!("len {current}.{field}");
            let is_bitfield = facts.contains_key(&format!("bit {current}.{field}"));
            if matches!(current, "dsa_hw_desc" | "dsa_completion_record")
                && !is_bitfield
                && !facts.contains_key(&key)
            {
                out.insert(key);
            }
        }
    }
    out
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

/// The header's text and a working C compiler; `None` (after a loud message) where either is
/// missing outside CI. In CI a missing one fails the test.
fn header_and_compiler() -> Option<(String, String)> {
    const UNCHECKED: &str = "linux/idxd.h conformance";
    let Ok(text) = std::fs::read_to_string(HEADER) else {
        support::cannot_run(&format!("{HEADER} not found (install linux-libc-dev)"), UNCHECKED);
        return None;
    };
    Some((text, support::compiler(UNCHECKED)?))
}

#[test]
fn layouts_opcodes_statuses_and_flags_match_linux_idxd_h() {
    let Some((text, cc)) = header_and_compiler() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("idxd-layout-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    std::fs::write(&src, c_program(&text)).unwrap();
    let printed = support::compile_and_run(&cc, &src, &[]);
    let _ = std::fs::remove_dir_all(&dir);

    let mut expected = rust_facts(
        struct_fields(&text, "dsa_completion_record")
            .iter()
            .any(|f| f.name == "fault_info"),
    );
    let covered = bytes_checked();
    let mut bytes_covered = 0;
    let mut problems = Vec::new();
    let mut checked = 0;
    for line in printed.lines() {
        let (key, val) = line.rsplit_once(' ').unwrap();
        let val: i64 = val.parse().unwrap();
        match expected.remove(key) {
            Some(rust) if rust == val as u64 => checked += 1,
            Some(rust) => problems.push(format!("{key}: C says {val:#x}, Rust says {rust:#x}")),
            None if covered.contains(key) => bytes_covered += 1,
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
    assert_eq!(
        bytes_covered,
        covered.len(),
        "every width left to the byte test is a field of the header"
    );
    eprintln!(
        "{checked} facts compared with {HEADER}: all match ({bytes_covered} widths left to the byte test)"
    );
}

// ---------------------------------------------------------------------------------------------
// Golden bytes: the kernel structs filled by C (tests/linux_header_values.c), against idxd-hw's
// builders, serialisers and parsers.
// ---------------------------------------------------------------------------------------------

/// What `linux_header_values.c` printed: the values it assigned and the struct bytes per case.
struct Golden {
    vals: BTreeMap<String, u64>,
    bytes: BTreeMap<String, Vec<u8>>,
    sizes: BTreeMap<String, u64>,
}

impl Golden {
    fn v(&self, case: &str, field: &str) -> u64 {
        *self
            .vals
            .get(&format!("{case}.{field}"))
            .unwrap_or_else(|| panic!("the C program set no {case}.{field}"))
    }

    fn b<const N: usize>(&self, case: &str) -> [u8; N] {
        let b = self.bytes.get(case).unwrap_or_else(|| panic!("no case {case}"));
        b.as_slice()
            .try_into()
            .unwrap_or_else(|_| panic!("{case}: {} bytes, expected {N}", b.len()))
    }

    /// The common part of a descriptor case: completion address, interrupt, PASID, privilege.
    fn submit(&self, case: &str, record: RecordMode) -> Submit {
        let flags = self.v(case, "flags") as u32;
        Submit {
            completion_addr: self.v(case, "completion_addr"),
            record,
            interrupt: (flags & DescFlags::RCI.bits() != 0).then(|| self.v(case, "int_handle") as u16),
            fence: flags & DescFlags::FENCE.bits() != 0,
            block_on_fault: flags & DescFlags::BLOCK_ON_FAULT.bits() != 0,
            cache_control: false,
            pasid: self.v(case, "pasid") as u32,
            privileged: self.v(case, "priv") == 1,
        }
    }
}

/// The C program's output, computed once for the tests that share it.
fn golden() -> Option<&'static Golden> {
    static G: std::sync::OnceLock<Option<Golden>> = std::sync::OnceLock::new();
    G.get_or_init(run_values_program).as_ref()
}

fn run_values_program() -> Option<Golden> {
    let (_, cc) = header_and_compiler()?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/linux_header_values.c");
    let printed = support::compile_and_run(&cc, &src, &["-Wall", "-Werror"]);
    let mut g = Golden {
        vals: BTreeMap::new(),
        bytes: BTreeMap::new(),
        sizes: BTreeMap::new(),
    };
    for line in printed.lines() {
        let mut w = line.split(' ');
        let (kind, key, value) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
        match kind {
            "val" => assert!(
                g.vals.insert(key.into(), value.parse().unwrap()).is_none(),
                "{key} twice"
            ),
            "size" => {
                g.sizes.insert(key.into(), value.parse().unwrap());
            }
            "bytes" => {
                let b = (0..value.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&value[i..i + 2], 16).unwrap())
                    .collect();
                assert!(g.bytes.insert(key.into(), b).is_none(), "{key} twice");
            }
            _ => panic!("unexpected line {line}"),
        }
    }
    Some(g)
}

/// Asserts `rust == c` byte for byte, naming the first differing offset.
fn same_bytes(case: &str, rust: &[u8], c: &[u8]) {
    if rust != c {
        let i = rust
            .iter()
            .zip(c)
            .position(|(a, b)| a != b)
            .unwrap_or(rust.len().min(c.len()));
        panic!(
            "{case}: idxd-hw's bytes differ from the kernel struct's at offset {i}\n rust: {}\n    C: {}",
            hex(rust),
            hex(c)
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.chunks(8)
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

const LIMITS: Limits = Limits {
    max_transfer: 1 << 31,
    max_batch: 1024,
};

/// Builds `op` with `submit`, compares with the C bytes of `case`, and decodes the C bytes.
fn dsa_case(g: &Golden, case: &str, op: DsaOp, submit: Submit) {
    let c = g.b::<64>(case);
    let built = op
        .build(&submit, &LIMITS)
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    same_bytes(case, &built.to_bytes(), &c);
    let parsed = DsaDesc::from_bytes(&c);
    assert_eq!(parsed, built, "{case}: from_bytes of the C bytes");
    assert_eq!(parsed.pasid(), g.v(case, "pasid") as u32, "{case}: pasid");
    assert_eq!(parsed.privileged(), g.v(case, "priv") == 1, "{case}: priv");
    assert_eq!(parsed.opcode_raw() as u64, g.v(case, "opcode"), "{case}: opcode");
    assert_eq!(parsed.flags_raw() as u64, g.v(case, "flags"), "{case}: flags");
    assert_eq!(DsaOp::decode(&parsed).unwrap(), (submit, op), "{case}: decode");
}

fn iaa_case(g: &Golden, case: &str, op: IaaOp, submit: Submit) {
    let c = g.b::<64>(case);
    let built = op
        .build(&submit, &LIMITS)
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    same_bytes(case, &built.to_bytes(), &c);
    let parsed = IaaDesc::from_bytes(&c);
    assert_eq!(parsed, built, "{case}: from_bytes of the C bytes");
    assert_eq!(parsed.pasid(), g.v(case, "pasid") as u32, "{case}: pasid");
    assert_eq!(parsed.privileged(), g.v(case, "priv") == 1, "{case}: priv");
    assert_eq!(parsed.opcode_raw() as u64, g.v(case, "opcode"), "{case}: opcode");
    assert_eq!(parsed.flags_raw() as u64, g.v(case, "flags"), "{case}: flags");
    assert_eq!(IaaOp::decode(&parsed).unwrap(), (submit, op), "{case}: decode");
}

#[test]
fn descriptor_bytes_match_the_kernel_structs() {
    let Some(g) = golden() else { return };
    let always = RecordMode::Always;
    let v = |case: &str, f: &str| g.v(case, f);
    let s = |case: &str| g.submit(case, always);

    let c = "dsa_memmove";
    dsa_case(
        g,
        c,
        DsaOp::Memmove {
            src: v(c, "src_addr"),
            dst: v(c, "dst_addr"),
            len: v(c, "xfer_size") as u32,
        },
        Submit {
            cache_control: true,
            ..s(c)
        },
    );
    let c = "dsa_fill";
    dsa_case(
        g,
        c,
        DsaOp::Fill {
            pattern: v(c, "pattern"),
            dst: v(c, "dst_addr"),
            len: v(c, "xfer_size") as u32,
        },
        g.submit(c, RecordMode::OnError),
    );
    let c = "dsa_compare";
    dsa_case(
        g,
        c,
        DsaOp::Compare {
            src1: v(c, "src_addr"),
            src2: v(c, "src2_addr"),
            len: v(c, "xfer_size") as u32,
            expected: Some(v(c, "expected_res") as u8),
        },
        s(c),
    );
    let c = "dsa_compval";
    dsa_case(
        g,
        c,
        DsaOp::ComparePattern {
            src: v(c, "src_addr"),
            pattern: v(c, "comp_pattern"),
            len: v(c, "xfer_size") as u32,
            expected: Some(v(c, "expected_res") as u8),
        },
        s(c),
    );
    let c = "dsa_batch";
    dsa_case(
        g,
        c,
        DsaOp::Batch {
            list_addr: v(c, "desc_list_addr"),
            count: v(c, "desc_count") as u32,
        },
        s(c),
    );
    let c = "dsa_crcgen";
    dsa_case(
        g,
        c,
        DsaOp::CrcGen {
            src: v(c, "src_addr"),
            len: v(c, "xfer_size") as u32,
            seed: CrcSeed::Value(v(c, "crc_seed") as u32),
        },
        s(c),
    );
    let c = "dsa_copy_crc";
    dsa_case(
        g,
        c,
        DsaOp::CopyCrc {
            src: v(c, "src_addr"),
            dst: v(c, "dst_addr"),
            len: v(c, "xfer_size") as u32,
            seed: CrcSeed::Address(v(c, "seed_addr")),
        },
        s(c),
    );
    let c = "dsa_dualcast";
    dsa_case(
        g,
        c,
        DsaOp::Dualcast {
            src: v(c, "src_addr"),
            dst1: v(c, "dst_addr"),
            dst2: v(c, "dest2"),
            len: v(c, "xfer_size") as u32,
        },
        s(c),
    );
    let c = "dsa_cr_delta";
    dsa_case(
        g,
        c,
        DsaOp::CreateDelta {
            src1: v(c, "src_addr"),
            src2: v(c, "src2_addr"),
            len: v(c, "xfer_size") as u32,
            delta_addr: v(c, "delta_addr"),
            max_delta_size: v(c, "max_delta_size") as u32,
            expected: Some(v(c, "expected_res_mask") as u8),
        },
        s(c),
    );
    let c = "dsa_ap_delta";
    dsa_case(
        g,
        c,
        DsaOp::ApplyDelta {
            delta_addr: v(c, "src_addr"),
            delta_size: v(c, "delta_rec_size") as u32,
            dst: v(c, "dst_addr"),
            len: v(c, "xfer_size") as u32,
        },
        s(c),
    );
    let c = "dsa_cflush";
    dsa_case(
        g,
        c,
        DsaOp::CacheFlush {
            dst: v(c, "dst_addr"),
            len: v(c, "xfer_size") as u32,
            invalidate: false,
        },
        s(c),
    );
    dsa_case(g, "dsa_noop", DsaOp::Noop, s("dsa_noop"));
    dsa_case(g, "dsa_drain", DsaOp::Drain, s("dsa_drain"));

    // DIF descriptors: no builder; idxd-hw's raw setters at its `dsa_off` offsets.
    let set16 = |d: &mut DsaDesc, off: usize, x: u64| {
        d.op_specific[off - 40..off - 38].copy_from_slice(&(x as u16).to_le_bytes())
    };
    let get16 = |d: &DsaDesc, off: usize| u16::from_le_bytes([d.op_u8(off), d.op_u8(off + 1)]) as u64;
    let dif_head = |c: &str| {
        let mut d = DsaDesc::default();
        d.set_pasid(v(c, "pasid") as u32, v(c, "priv") == 1);
        d.set_opcode_flags(v(c, "opcode") as u8, v(c, "flags") as u32);
        d.completion_addr = v(c, "completion_addr");
        d.src_addr = v(c, "src_addr");
        d.dst_addr = g.vals.get(&format!("{c}.dst_addr")).copied().unwrap_or(0);
        d.xfer_size = v(c, "xfer_size") as u32;
        d
    };
    let c = "dsa_dif_check";
    let mut d = dif_head(c);
    d.set_op_u8(dsa::SRC_DIF_FLAGS, v(c, "src_dif_flags") as u8);
    d.set_op_u8(dsa::DIF_CHK_FLAGS, v(c, "dif_chk_flags") as u8);
    d.set_op_u32(dsa::CHK_REF_TAG_SEED, v(c, "chk_ref_tag_seed") as u32);
    set16(&mut d, dsa::CHK_APP_TAG_MASK, v(c, "chk_app_tag_mask"));
    set16(&mut d, dsa::CHK_APP_TAG_SEED, v(c, "chk_app_tag_seed"));
    same_bytes(c, &d.to_bytes(), &g.b::<64>(c));
    let p = DsaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!(p, d);
    assert_eq!(p.op_u8(dsa::SRC_DIF_FLAGS) as u64, v(c, "src_dif_flags"));
    assert_eq!(p.op_u8(dsa::DIF_CHK_FLAGS) as u64, v(c, "dif_chk_flags"));
    assert_eq!(p.op_u32(dsa::CHK_REF_TAG_SEED) as u64, v(c, "chk_ref_tag_seed"));
    assert_eq!(get16(&p, dsa::CHK_APP_TAG_MASK), v(c, "chk_app_tag_mask"));
    assert_eq!(get16(&p, dsa::CHK_APP_TAG_SEED), v(c, "chk_app_tag_seed"));
    let c = "dsa_dif_ins";
    let mut d = dif_head(c);
    d.set_op_u8(dsa::DEST_DIF_FLAG, v(c, "dest_dif_flag") as u8);
    d.set_op_u8(dsa::DIF_INS_FLAGS, v(c, "dif_ins_flags") as u8);
    d.set_op_u32(dsa::INS_REF_TAG_SEED, v(c, "ins_ref_tag_seed") as u32);
    set16(&mut d, dsa::INS_APP_TAG_MASK, v(c, "ins_app_tag_mask"));
    set16(&mut d, dsa::INS_APP_TAG_SEED, v(c, "ins_app_tag_seed"));
    same_bytes(c, &d.to_bytes(), &g.b::<64>(c));
    let p = DsaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!(p, d);
    assert_eq!(p.op_u32(dsa::INS_REF_TAG_SEED) as u64, v(c, "ins_ref_tag_seed"));
    let c = "dsa_dif_upd";
    let mut d = dif_head(c);
    d.set_op_u8(dsa::SRC_UPD_FLAGS, v(c, "src_upd_flags") as u8);
    d.set_op_u8(dsa::UPD_DEST_FLAGS, v(c, "upd_dest_flags") as u8);
    d.set_op_u8(dsa::DIF_UPD_FLAGS, v(c, "dif_upd_flags") as u8);
    d.set_op_u32(dsa::SRC_REF_TAG_SEED, v(c, "src_ref_tag_seed") as u32);
    set16(&mut d, dsa::SRC_APP_TAG_MASK, v(c, "src_app_tag_mask"));
    set16(&mut d, dsa::SRC_APP_TAG_SEED, v(c, "src_app_tag_seed"));
    d.set_op_u32(dsa::DEST_REF_TAG_SEED, v(c, "dest_ref_tag_seed") as u32);
    set16(&mut d, dsa::DEST_APP_TAG_MASK, v(c, "dest_app_tag_mask"));
    set16(&mut d, dsa::DEST_APP_TAG_SEED, v(c, "dest_app_tag_seed"));
    same_bytes(c, &d.to_bytes(), &g.b::<64>(c));
    let p = DsaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!(p, d);
    assert_eq!(p.op_u32(dsa::DEST_REF_TAG_SEED) as u64, v(c, "dest_ref_tag_seed"));

    // Reserved bits of dword 0 and rsvd1 survive a parse/serialise and are reported.
    let c = "dsa_reserved";
    let p = DsaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!(p.pasid() as u64, v(c, "pasid"));
    assert_eq!((p.dword0_reserved() >> 20) as u64, v(c, "rsvd"));
    assert!(!p.privileged());
    assert_eq!(p.flags_raw() as u64, v(c, "flags"));
    assert_eq!(p.opcode_raw() as u64, v(c, "opcode"));
    assert_eq!(p.rsvd1 as u64, v(c, "rsvd1"));
    same_bytes(c, &p.to_bytes(), &g.b::<64>(c));

    // struct dsa_raw_desc: the eight little-endian u64 words of the same 64 bytes.
    assert_eq!(g.sizes["dsa_raw_desc"], DESC_SIZE as u64);
    let c = "dsa_raw";
    let p = DsaDesc::from_bytes(&g.b::<64>(c));
    let f = |i: u32| v(c, &format!("field{i}"));
    assert_eq!(p.pasid_priv as u64, f(0) & 0xffff_ffff);
    assert_eq!(p.flags_opcode as u64, f(0) >> 32);
    assert_eq!(p.completion_addr, f(1));
    assert_eq!(p.src_addr, f(2));
    assert_eq!(p.dst_addr, f(3));
    assert_eq!(p.xfer_size as u64, f(4) & 0xffff_ffff);
    assert_eq!(p.int_handle as u64, (f(4) >> 32) & 0xffff);
    assert_eq!(p.rsvd1 as u64, f(4) >> 48);
    for (i, off) in [(5, 40), (6, 48), (7, 56)] {
        assert_eq!(p.op_u64(off), f(i));
    }
    same_bytes(c, &p.to_bytes(), &g.b::<64>(c));
    let ip = IaaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!((ip.src1_addr, ip.dst_addr), (f(2), f(3)));
    assert_eq!(ip.op_flags as u64, f(4) >> 48);
    assert_eq!(ip.src2_addr, f(5));
    assert_eq!(
        (ip.max_dst_size as u64, ip.src2_size as u64),
        (f(6) & 0xffff_ffff, f(6) >> 32)
    );
    assert_eq!(
        (ip.filter_flags as u64, ip.num_inputs as u64),
        (f(7) & 0xffff_ffff, f(7) >> 32)
    );
    assert_eq!(ip.crc64_poly(), f(7));
    same_bytes(c, &ip.to_bytes(), &g.b::<64>(c));

    // IAA.
    let c = "iax_compress";
    let fl = v(c, "flags") as u32;
    iaa_case(
        g,
        c,
        IaaOp::Compress {
            src: v(c, "src1_addr"),
            len: v(c, "src1_size") as u32,
            dst: v(c, "dst_addr"),
            max_dst: v(c, "max_dst_size") as u32,
            aecs: v(c, "src2_addr"),
            aecs_size: v(c, "src2_size") as u32,
            flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
            crc32c: true,
            aecs_write: AecsWrite::Always,
            aecs_select: fl & (1 << 22) != 0,
        },
        Submit {
            cache_control: true,
            ..s(c)
        },
    );
    let c = "iax_compress_ovfl";
    iaa_case(
        g,
        c,
        IaaOp::Compress {
            src: v(c, "src1_addr"),
            len: v(c, "src1_size") as u32,
            dst: v(c, "dst_addr"),
            max_dst: v(c, "max_dst_size") as u32,
            aecs: v(c, "src2_addr"),
            aecs_size: v(c, "src2_size") as u32,
            flags: CompressFlags::FLUSH_OUTPUT,
            crc32c: false,
            aecs_write: AecsWrite::OnOverflow,
            aecs_select: false,
        },
        g.submit(c, RecordMode::OnError),
    );
    let c = "iax_decompress";
    iaa_case(
        g,
        c,
        IaaOp::Decompress {
            src: v(c, "src1_addr"),
            len: v(c, "src1_size") as u32,
            dst: v(c, "dst_addr"),
            max_dst: v(c, "max_dst_size") as u32,
            flags: DecompressFlags::FLUSH_OUTPUT | DecompressFlags::SUPPRESS_OUTPUT,
            crc32c: true,
        },
        s(c),
    );
    let c = "iax_crc64";
    iaa_case(
        g,
        c,
        IaaOp::Crc64 {
            src: v(c, "src1_addr"),
            len: v(c, "src1_size") as u32,
            poly: v(c, "num_inputs") << 32 | v(c, "filter_flags"),
            flags: Crc64Flags::empty(),
        },
        s(c),
    );
    let c = "iax_memmove";
    iaa_case(
        g,
        c,
        IaaOp::Memmove {
            src: v(c, "src1_addr"),
            dst: v(c, "dst_addr"),
            len: v(c, "src1_size") as u32,
        },
        s(c),
    );
    // Every field of iax_hw_desc with its own value, through the plain struct.
    let c = "iax_all";
    let mut d = IaaDesc {
        completion_addr: v(c, "completion_addr"),
        src1_addr: v(c, "src1_addr"),
        dst_addr: v(c, "dst_addr"),
        src1_size: v(c, "src1_size") as u32,
        int_handle: v(c, "int_handle") as u16,
        op_flags: v(c, "decompr_flags") as u16,
        src2_addr: v(c, "src2_addr"),
        max_dst_size: v(c, "max_dst_size") as u32,
        src2_size: v(c, "src2_size") as u32,
        filter_flags: v(c, "filter_flags") as u32,
        num_inputs: v(c, "num_inputs") as u32,
        ..Default::default()
    };
    d.set_pasid(v(c, "pasid") as u32, v(c, "priv") == 1);
    d.pasid_priv |= (v(c, "rsvd") as u32) << 20;
    d.set_opcode_flags(v(c, "opcode") as u8, v(c, "flags") as u32);
    same_bytes(c, &d.to_bytes(), &g.b::<64>(c));
    let p = IaaDesc::from_bytes(&g.b::<64>(c));
    assert_eq!(p, d);
    assert_eq!((p.dword0_reserved() >> 20) as u64, v(c, "rsvd"));
    assert_eq!(p.pasid() as u64, v(c, "pasid"));
}

#[test]
fn completion_record_bytes_match_the_kernel_structs() {
    let Some(g) = golden() else { return };
    let v = |case: &str, f: &str| g.v(case, f);

    let c = "dsa_rec_fault";
    let mut r = DsaCompletion {
        status: StatusByte {
            code: DsaStatus::PageFaultNoBof.code(),
            fault_on_write: true,
        }
        .encode(),
        result: v(c, "result") as u8,
        bytes_completed: v(c, "bytes_completed") as u32,
        fault_addr: v(c, "fault_addr"),
        ..Default::default()
    };
    r.set_op_u32((v(c, "invalid_flags") | v(c, "rsvd2") << 24) as u32);
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    let p = DsaCompletion::from_bytes(&g.b::<32>(c));
    assert_eq!(p, r);
    assert_eq!(p.status as u64, v(c, "status"));
    assert_eq!(p.status().dsa(), Some(DsaStatus::PageFaultNoBof));
    assert!(p.status().fault_on_write);
    assert_eq!(p.invalid_flags() as u64, v(c, "invalid_flags"));
    assert_eq!(
        (p.bytes_completed as u64, p.fault_addr),
        (v(c, "bytes_completed"), v(c, "fault_addr"))
    );

    let c = "dsa_rec_crc";
    let mut r = DsaCompletion {
        status: DsaStatus::Success.code(),
        bytes_completed: v(c, "bytes_completed") as u32,
        ..Default::default()
    };
    r.set_crc_val(v(c, "crc_val"));
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    let p = DsaCompletion::from_bytes(&g.b::<32>(c));
    assert_eq!(
        (p.crc_val(), p.status().dsa()),
        (v(c, "crc_val"), Some(DsaStatus::Success))
    );

    let c = "dsa_rec_delta";
    let mut r = DsaCompletion {
        status: DsaStatus::SuccessPred.code(),
        result: v(c, "result") as u8,
        ..Default::default()
    };
    r.set_op_u32(v(c, "delta_rec_size") as u32);
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    let p = DsaCompletion::from_bytes(&g.b::<32>(c));
    assert_eq!(p.delta_rec_size() as u64, v(c, "delta_rec_size"));
    assert_eq!(p.status().dsa(), Some(DsaStatus::SuccessPred));

    // DIF records: at the `dsa_rec_off` offsets (no typed accessors beyond them).
    let put = |r: &mut DsaCompletion, off: usize, x: u64, n: usize| {
        r.op_specific[off - 16..off - 16 + n].copy_from_slice(&x.to_le_bytes()[..n])
    };
    let c = "dsa_rec_dif_chk";
    let mut r = DsaCompletion {
        status: DsaStatus::DifErr.code(),
        result: v(c, "dif_status") as u8,
        ..Default::default()
    };
    put(&mut r, rec::DIF_CHK_REF_TAG, v(c, "dif_chk_ref_tag"), 4);
    put(&mut r, rec::DIF_CHK_APP_TAG_MASK, v(c, "dif_chk_app_tag_mask"), 2);
    put(&mut r, rec::DIF_CHK_APP_TAG, v(c, "dif_chk_app_tag"), 2);
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    assert_eq!(DsaCompletion::from_bytes(&g.b::<32>(c)), r);
    let c = "dsa_rec_dif_ins";
    let mut r = DsaCompletion {
        status: DsaStatus::Success.code(),
        ..Default::default()
    };
    put(&mut r, rec::DIF_INS_RES, v(c, "dif_ins_res"), 8);
    put(&mut r, rec::DIF_INS_REF_TAG, v(c, "dif_ins_ref_tag"), 4);
    put(&mut r, rec::DIF_INS_APP_TAG_MASK, v(c, "dif_ins_app_tag_mask"), 2);
    put(&mut r, rec::DIF_INS_APP_TAG, v(c, "dif_ins_app_tag"), 2);
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    assert_eq!(DsaCompletion::from_bytes(&g.b::<32>(c)), r);
    let c = "dsa_rec_dif_upd";
    let mut r = DsaCompletion {
        status: DsaStatus::Success.code(),
        ..Default::default()
    };
    put(&mut r, rec::DIF_UPD_SRC_REF_TAG, v(c, "dif_upd_src_ref_tag"), 4);
    put(
        &mut r,
        rec::DIF_UPD_SRC_APP_TAG_MASK,
        v(c, "dif_upd_src_app_tag_mask"),
        2,
    );
    put(&mut r, rec::DIF_UPD_SRC_APP_TAG, v(c, "dif_upd_src_app_tag"), 2);
    put(&mut r, rec::DIF_UPD_DEST_REF_TAG, v(c, "dif_upd_dest_ref_tag"), 4);
    put(
        &mut r,
        rec::DIF_UPD_DEST_APP_TAG_MASK,
        v(c, "dif_upd_dest_app_tag_mask"),
        2,
    );
    put(&mut r, rec::DIF_UPD_DEST_APP_TAG, v(c, "dif_upd_dest_app_tag"), 2);
    same_bytes(c, &r.to_bytes(), &g.b::<32>(c));
    assert_eq!(DsaCompletion::from_bytes(&g.b::<32>(c)), r);

    assert_eq!(g.sizes["dsa_raw_completion_record"], DSA_COMPLETION_SIZE as u64);
    let c = "dsa_rec_raw";
    let f = |i: u32| v(c, &format!("field{i}"));
    let p = DsaCompletion::from_bytes(&g.b::<32>(c));
    assert_eq!(p.status as u64, f(0) & 0xff);
    assert_eq!(p.result as u64, (f(0) >> 8) & 0xff);
    assert_eq!(p.bytes_completed as u64, f(0) >> 32);
    assert_eq!(p.fault_addr, f(1));
    assert_eq!(p.crc_val(), f(2));
    same_bytes(c, &p.to_bytes(), &g.b::<32>(c));

    let c = "iax_rec";
    let r = IaaCompletion {
        status: StatusByte {
            code: IaaStatus::AnalyticsError.code(),
            fault_on_write: true,
        }
        .encode(),
        error_code: v(c, "error_code") as u8,
        bytes_completed: v(c, "bytes_completed") as u32,
        fault_addr: v(c, "fault_addr"),
        invalid_flags: v(c, "invalid_flags") as u32,
        rsvd2: v(c, "rsvd2") as u32,
        output_size: v(c, "output_size") as u32,
        output_bits: v(c, "output_bits") as u8,
        rsvd3: v(c, "rsvd3") as u8,
        xor_csum: v(c, "xor_csum") as u16,
        crc: v(c, "crc") as u32,
        min: v(c, "min") as u32,
        max: v(c, "max") as u32,
        sum: v(c, "sum") as u32,
        rsvd4: [v(c, "rsvd4[0]"), v(c, "rsvd4[1]")],
        ..Default::default()
    };
    same_bytes(c, &r.to_bytes(), &g.b::<64>(c));
    let p = IaaCompletion::from_bytes(&g.b::<64>(c));
    assert_eq!(p, r);
    assert_eq!(p.status().iaa(), Some(IaaStatus::AnalyticsError));
    assert!(p.status().fault_on_write);
    // The CRC64 result of a CRC64 operation: `max` is its low half, `sum` its high half.
    assert_eq!(p.crc64(), v(c, "sum") << 32 | v(c, "max"));
    let mut q = p;
    q.set_crc64(p.crc64());
    assert_eq!(q, p);

    assert_eq!(g.sizes["iax_raw_completion_record"], IAA_COMPLETION_SIZE as u64);
    let c = "iax_rec_raw";
    let f = |i: u32| v(c, &format!("field{i}"));
    let p = IaaCompletion::from_bytes(&g.b::<64>(c));
    assert_eq!(p.fault_addr, f(1));
    assert_eq!(
        (p.invalid_flags as u64, p.rsvd2 as u64),
        (f(2) & 0xffff_ffff, f(2) >> 32)
    );
    assert_eq!(p.output_size as u64, f(3) & 0xffff_ffff);
    assert_eq!((p.crc as u64, p.min as u64), (f(4) & 0xffff_ffff, f(4) >> 32));
    assert_eq!(p.crc64(), f(5));
    assert_eq!(p.rsvd4, [f(6), f(7)]);
    same_bytes(c, &p.to_bytes(), &g.b::<64>(c));
}
