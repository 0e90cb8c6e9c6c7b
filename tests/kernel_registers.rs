//! WQCFG against the Linux kernel's `union wqcfg` (drivers/dma/idxd/registers.h).
//!
//! That union is not in the UAPI headers, so `tests/kernel_wqcfg.c` restates its field
//! positions (kernel 6.x layout) as a table of dword, lowest bit and width; the program gives
//! every field a distinct value and prints the sixteen dwords the kernel would write. idxd-hw's `WqCfg::encode`
//! must produce those dwords from the same values and `WqCfg::decode` must read them back.
//! Skipped loudly without a C compiler, except in CI (`CI` set, not `false`/`0`): a failure.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use idxd::hw::tables::{WqCfg, WqMode, WqState};

/// The program's output: values per case and field, dwords per case.
type Golden = (BTreeMap<String, u64>, BTreeMap<String, Vec<u32>>);

fn run_c() -> Option<Golden> {
    let cc = support::compiler("WQCFG vs the kernel's union wqcfg")?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernel_wqcfg.c");
    let printed = support::compile_and_run(&cc, &src, &["-Wall", "-Werror"]);
    let (mut vals, mut dwords) = (BTreeMap::new(), BTreeMap::new());
    for line in printed.lines() {
        let mut w = line.split(' ');
        match w.next().unwrap() {
            "val" => {
                let key = w.next().unwrap().to_string();
                vals.insert(key, w.next().unwrap().parse().unwrap());
            }
            "dwords" => {
                let case = w.next().unwrap().to_string();
                dwords.insert(case, w.map(|x| u32::from_str_radix(x, 16).unwrap()).collect());
            }
            other => panic!("unexpected {other}"),
        }
    }
    Some((vals, dwords))
}

/// The WqCfg the kernel's field values describe (fields the case leaves out are zero).
fn from_kernel_fields(vals: &BTreeMap<String, u64>, case: &str) -> WqCfg {
    let v = |f: &str| vals.get(&format!("{case}.{f}")).copied().unwrap_or(0);
    let mut op_config = [0u32; 8];
    for i in 0..4 {
        let q = v(&format!("op_config[{i}]"));
        op_config[2 * i] = q as u32;
        op_config[2 * i + 1] = (q >> 32) as u32;
    }
    WqCfg {
        size: v("wq_size") as u16,
        threshold: v("wq_thresh") as u16,
        // The kernel writes mode = 1 for a dedicated WQ (device.c idxd_wq_config_write).
        mode: if v("mode") == 1 {
            WqMode::Dedicated
        } else {
            WqMode::Shared
        },
        block_on_fault: v("bof") == 1,
        ats_disable: v("wq_ats_disable") == 1,
        prs_disable: v("wq_prs_disable") == 1,
        priority: v("priority") as u8,
        pasid: v("pasid") as u32,
        pasid_en: v("pasid_en") == 1,
        privileged: v("priv") == 1,
        max_xfer_shift: v("max_xfer_shift") as u8,
        max_batch_shift: v("max_batch_shift") as u8,
        occ_int_handle: v("occupancy_inth") as u16,
        occ_int_table: v("occupancy_table_sel") == 1,
        occ_limit: v("occupancy_limit") as u16,
        occ_int_en: v("occupancy_int_en") == 1,
        occupancy: v("occupancy") as u16,
        occ_int: v("occupancy_int") == 1,
        mode_support: v("mode_support") == 1,
        state: match v("wq_state") {
            0 => WqState::Disabled,
            1 => WqState::Enabled,
            x => WqState::Reserved(x as u8),
        },
        op_config,
    }
}

#[test]
fn wqcfg_encode_and_decode_match_the_kernel_union() {
    let Some((vals, dwords)) = run_c() else { return };
    assert!(dwords.len() >= 11, "the all-fields case and one per flag");
    for (case, want) in &dwords {
        let cfg = from_kernel_fields(&vals, case);
        let got = cfg.encode();
        assert_eq!(
            got.as_slice(),
            want.as_slice(),
            "{case}: WqCfg::encode differs from the kernel's union wqcfg\n{cfg:?}"
        );
        assert_eq!(
            WqCfg::decode(want),
            cfg,
            "{case}: WqCfg::decode of the kernel's dwords"
        );
    }
}
