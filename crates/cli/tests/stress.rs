//! `idxd stress`: pages through zswap, zram and the bare runtime under injected faults, every
//! one checked on its way back; and its refusals.

mod common;

use std::time::Duration;

use common::{idxd, idxd_bounded};
use serde_json::Value;

/// Faults of every kind the emulator can inject (corrupt output included: verify-after-compress
/// and the decompression CRC check must catch every one), and a halt every 1000 descriptors.
const FAULTS: &str = "all=0.01,halt=1/1000";

#[track_caller]
fn stress_json(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["stress", "--json"];
    a.extend_from_slice(args);
    let out = idxd_bounded(&a, Duration::from_secs(110)).unwrap_or_else(|| panic!("idxd {a:?} hung"));
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", out.stdout, out.stderr));
    (out.code, v)
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64().unwrap_or_else(|| panic!("{path:?} in {v:#}"))
}

#[track_caller]
fn survives_faults(frontend: &str, back: &str) {
    let (code, v) = stress_json(&["--frontend", frontend, "--pages", "20000", "--faults", FAULTS]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(u(&v, &["pages_done"]), 20000);
    assert_eq!(u(&v, &["wrong_pages"]), 0, "{v:#}");
    assert_eq!(u(&v, &["lost_requests"]), 0, "{v:#}");
    assert_eq!(u(&v, &["hangs"]), 0, "{v:#}");
    // Every page has an outcome on the way in, and most came back and were checked (zswap
    // refuses whole folios: the 8% incompressible pages take 16% with them at batch 8).
    let first: u64 = v["outcomes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| ["store", "write", "compress"].contains(&p.as_str()))
        .flat_map(|(_, k)| k.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(first, 20000, "{v:#}");
    assert!(u(&v, &["outcomes", back, "ok"]) > 15000, "{v:#}");
    // The faults were injected, and the runtime went through them.
    let d = &v["device_report"];
    let e = &d["emulator"];
    assert!(u(e, &["records_withheld"]) > 0, "{v:#}");
    assert!(u(e, &["outputs_corrupted"]) > 0, "{v:#}");
    for status in [
        "hardware error (0x20)",
        "watchdog timeout (0x24)",
        "page fault (bit 7: on a write) (0x3)",
    ] {
        assert!(u(e, &["error_completions", status]) > 0, "{status}: {v:#}");
    }
    assert!(u(d, &["halts"]) >= 5, "{v:#}");
    assert_eq!(u(d, &["recoveries"]), u(d, &["halts"]), "{v:#}");
    assert!(u(d, &["orphaned"]) > 0, "{v:#}");
    assert!(
        u(d, &["orphans_reaped"]) + u(d, &["orphans_released"]) > 0,
        "{v:#}"
    );
    assert!(u(d, &["fallbacks"]) > 0, "{v:#}");
    let share = d["device_share"].as_f64().unwrap();
    assert!((0.5..1.0).contains(&share), "{share}");
}

#[test]
fn zswap_survives_faults() {
    survives_faults("zswap", "load");
}

#[test]
fn zram_survives_faults() {
    survives_faults("zram", "read");
}

#[test]
fn the_runtime_survives_faults() {
    survives_faults("runtime", "decompress");
}

#[test]
fn software_codecs_and_the_text_report() {
    for f in ["zswap", "zram", "runtime"] {
        let (code, v) = stress_json(&[
            "--frontend",
            f,
            "--device",
            "sw:lz4",
            "--pages",
            "3000",
            "--threads",
            "3",
            "--batch",
            "5",
        ]);
        assert_eq!(code, 0, "{v:#}");
        assert!(v["device_report"]["device_share"].is_null(), "{v:#}");
        assert!(v["device_report"]["emulator"].is_null(), "{v:#}");
        assert!(u(&v, &["checked_pages"]) >= 2700, "{v:#}");
    }
    let out = idxd(&["stress", "--pages", "500", "--frontend", "zram"]);
    let s = out.ok();
    for line in [
        "wrong pages      0",
        "lost requests    0",
        "hangs            0",
        "result: ok",
    ] {
        assert!(s.contains(line), "{line}: {s}");
    }
}

#[test]
fn a_batch_past_the_hang_bound_fails_the_run() {
    // Every descriptor makes its engine wait 2 ms: every batch takes longer than 1 ms.
    let (code, v) = stress_json(&[
        "--frontend",
        "runtime",
        "--pages",
        "200",
        "--faults",
        "slow=1",
        "--hang-ms",
        "1",
    ]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
    assert!(u(&v, &["hangs"]) >= 1, "{v:#}");
    assert!(v["failures"].to_string().contains("hang"), "{v:#}");
}

#[test]
fn refusals() {
    let e = idxd(&["stress", "--device", "sw:zstd", "--faults", "all=0.01"])
        .fails(1)
        .to_string();
    assert!(e.contains("--faults needs an emulated device"), "{e}");
    let e = idxd(&["stress", "--device", "emu:dsa-spr", "--pages", "10"])
        .fails(1)
        .to_string();
    assert!(e.contains("DSA"), "{e}");
    for (flag, value, want) in [
        ("--faults", "all=2", "a probability is a number from 0 to 1"),
        ("--faults", "halt=1/1", "1/N with N >= 2"),
        ("--faults", "frob=0.1", "unknown fault kind `frob`"),
        ("--faults", "all=0.2", "add up to"),
        ("--pages", "0", "0 is not in 1..="),
        ("--threads", "0", "0 is not in 1..=256"),
        ("--batch", "513", "513 is not in 1..=512"),
        ("--frontend", "nbd", "invalid value 'nbd'"),
    ] {
        let e = idxd(&["stress", flag, value]).fails(2).to_string();
        assert!(e.contains(want), "{flag} {value}: {e}");
    }
}

/// The checker can see a wrong page: with verify off, a device that corrupts its outputs hands
/// back pages that differ from what was stored, and the run must say so and fail.
#[test]
fn a_wrong_page_fails_the_run() {
    let (code, v) = stress_json(&[
        "--frontend",
        "runtime",
        "--pages",
        "2000",
        "--no-verify",
        "--faults",
        "corrupt_output=0.2",
    ]);
    assert_ne!(code, 0, "{v:#}");
    assert!(u(&v, &["wrong_pages"]) > 0, "{v:#}");
}
