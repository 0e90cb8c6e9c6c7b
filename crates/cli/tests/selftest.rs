//! `idxd selftest` on emulated devices and software codecs.

mod common;

use common::idxd;

#[test]
fn selftest_passes_on_every_emulated_part() {
    for (p, ops) in [("dsa-spr", 13), ("iaa-spr", 8), ("dsa-dmr", 13), ("iaa-gnr", 8)] {
        let v = idxd(&["selftest", "--device", &format!("emu:{p}"), "--json"]).json();
        assert_eq!(v["failed"], 0, "{p}: {v}");
        assert_eq!(v["checks"].as_array().unwrap().len(), ops, "{p}: {v}");
    }
    let s = idxd(&["selftest", "--device", "emu:dsa-spr"]).ok().to_string();
    for name in [
        "no-op",
        "memory move",
        "memory fill",
        "compare (equal)",
        "compare (different)",
        "compare pattern",
        "CRC32C generate",
        "copy with CRC32C",
        "dualcast",
        "create/apply delta",
        "cache flush",
        "batch",
        "page fault",
    ] {
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {s}"));
        assert!(line.contains("PASS"), "{line}");
    }
    let s = idxd(&["selftest"]).ok().to_string();
    for name in [
        "compress (fixed)",
        "compress (dynamic)",
        "decompress (zlib stream)",
        "CRC64",
    ] {
        assert!(
            s.lines().any(|l| l.contains(name) && l.contains("PASS")),
            "{name}: {s}"
        );
    }
}

#[test]
fn selftest_of_software_codecs_and_refusals() {
    for c in ["sw:zstd", "sw:lz4", "sw:deflate"] {
        let v = idxd(&["selftest", "--device", c, "--json"]).json();
        assert_eq!(v["failed"], 0, "{c}: {v}");
    }
    let l = idxd(&["selftest", "--device", "vfio:0000:6a:02.0"])
        .fails(1)
        .to_string();
    assert!(l.contains("vfio:0000:6a:02.0"), "{l}");
    idxd(&["selftest", "--device", "wq:/dev/iax/wq1.0"]).fails(1);
}
