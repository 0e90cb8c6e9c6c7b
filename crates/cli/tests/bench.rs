//! `idxd bench`: small runs of every mode on the emulator and software codecs, JSON and SVG
//! output, sweeps, and refusals.

mod common;

use common::{idxd, TempDir};

#[test]
fn bench_zswap_prints_a_table_and_writes_json_and_svg() {
    let t = TempDir::new("bench");
    let (j, p) = (t.join("r.json"), t.join("r.svg"));
    let out = idxd(&[
        "bench",
        "zswap",
        "--pages",
        "200",
        "--json",
        j.to_str().unwrap(),
        "--plot",
        p.to_str().unwrap(),
    ]);
    let s = out.ok();
    assert!(s.contains("idxd bench zswap: emu:iaa-spr (deflate-iaa)"), "{s}");
    for col in [
        "GB/s",
        "pages/s",
        "p50 us",
        "p99 us",
        "CPU us/page",
        "ratio",
        "rejects",
        "fallbacks",
    ] {
        assert!(s.contains(col), "{col}: {s}");
    }
    assert!(
        out.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {}",
        out.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let r = &v["runs"][0];
    assert_eq!(r["phases"][0]["name"], "store");
    assert_eq!(r["phases"][1]["name"], "load");
    assert_eq!(r["phases"][0]["pages"], 200);
    let ratio = r["ratio"].as_f64().unwrap();
    assert!((2.0..6.0).contains(&ratio), "{ratio}");
    assert!(r["phases"][0]["latency"]["p99_us"].as_f64().unwrap() > 0.0);
    assert!(r["frontend"]["stored_pages"].as_u64().unwrap() > 150);
    assert!(
        r["rejects"]["compress_poor"].as_u64().unwrap() > 0,
        "the random pages: {r}"
    );
    let svg = std::fs::read_to_string(&p).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("store") && svg.contains("load"));
}

#[test]
fn bench_sweeps_print_a_row_per_value() {
    let out = idxd(&[
        "bench",
        "zswap",
        "--pages",
        "128",
        "--folio",
        "64k",
        "--compare",
        "batch=1,8",
    ]);
    let s = out.ok();
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.trim_start().starts_with("batch="))
        .collect();
    assert!(
        rows.len() >= 2 && rows[0].contains("batch=1") && rows[1].contains("batch=8"),
        "{s}"
    );
    let s = idxd(&[
        "bench",
        "zswap",
        "--pages",
        "64",
        "--device",
        "sw:lz4",
        "--compare",
        "threads=1,2",
    ])
    .ok()
    .to_string();
    assert!(s.contains("threads=1") && s.contains("threads=2"), "{s}");
    let s = idxd(&["bench", "zswap", "--pages", "64", "--compare", "folio=4k,64k"])
        .ok()
        .to_string();
    assert!(s.contains("folio=4k") && s.contains("folio=64k"), "{s}");
    let s = idxd(&[
        "bench",
        "ops",
        "--pages",
        "64",
        "--compare",
        "device=emu:iaa-spr,sw:zstd",
    ])
    .ok()
    .to_string();
    assert!(s.contains("emu:iaa-spr") && s.contains("sw:zstd-1"), "{s}");
}

#[test]
fn bench_zram_ops_async_and_corpus_files() {
    let s = idxd(&["bench", "zram", "--pages", "128", "--folio", "16k"])
        .ok()
        .to_string();
    assert!(s.contains("write") && s.contains("read"), "{s}");
    let s = idxd(&["bench", "ops", "--device", "emu:dsa-spr", "--pages", "64"])
        .ok()
        .to_string();
    assert!(
        s.contains("copy") && s.contains("crc32c") && s.contains("same-filled"),
        "{s}"
    );
    let s = idxd(&[
        "bench",
        "ops",
        "--device",
        "sw:deflate",
        "--pages",
        "64",
        "--async",
        "--threads",
        "2",
    ])
    .ok()
    .to_string();
    assert!(s.contains("compress") && s.contains("async"), "{s}");
    let s = idxd(&[
        "bench",
        "zswap",
        "--pages",
        "64",
        "--async",
        "--algorithm",
        "deflate-iaa-dynamic",
    ])
    .ok()
    .to_string();
    assert!(s.contains("deflate-iaa-dynamic") && s.contains("async"), "{s}");
    let t = TempDir::new("corpus");
    let pages: Vec<u8> = (0..32 * 4096)
        .map(|i| if i % 4096 < 2048 { b"abcd"[i % 4] } else { 0 })
        .collect();
    let f = t.join("x.pages");
    std::fs::write(&f, &pages).unwrap();
    let s = idxd(&["bench", "zswap", "--corpus", f.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(s.contains("32 pages") && s.contains("x.pages"), "{s}");
}

#[test]
fn bench_refusals_are_one_line() {
    for (args, code) in [
        (vec!["bench", "zswap", "--folio", "3k"], 2),
        (vec!["bench", "zswap", "--compare", "speed=1,2"], 2),
        (vec!["bench", "zswap", "--batch", "0"], 2),
        (vec!["bench", "zswap", "--device", "gpu:0"], 2),
        (vec!["bench", "nothing"], 2),
        (
            vec!["bench", "zswap", "--pages", "16", "--device", "vfio:0000:6a:02.0"],
            1,
        ),
        (
            vec!["bench", "zswap", "--pages", "16", "--device", "wq:/dev/iax/wq1.0"],
            1,
        ),
        (
            vec!["bench", "zswap", "--pages", "16", "--device", "emu:dsa-spr"],
            1,
        ),
        (vec!["bench", "zswap", "--pages", "4", "--folio", "64k"], 1),
        (vec!["bench", "zswap", "--corpus", "/nonexistent.pages"], 1),
        (vec!["bench", "zram", "--pages", "16", "--async"], 1),
    ] {
        let out = idxd(&args);
        let l = out.fails(code);
        assert!(l.len() > 12, "{args:?}: {l}");
    }
}
