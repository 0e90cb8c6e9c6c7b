//! `idxd info` and `idxd config` on every emulated profile, kernel WQs on a fake tree, and the
//! refusals.

mod common;

use common::{idxd, machine, TempDir};

const TOML: &str = "[[group]]\nid = 0\nengines = [0, 1]\n\n[[group]]\nid = 1\nengines = [2]\n\n\
[[wq]]\nid = 0\ngroup = 0\nmode = \"dedicated\"\nsize = 32\n\n[[wq]]\nid = 3\ngroup = 1\nmode = \"dedicated\"\nsize = 16\npriority = 5\n";

const JSON: &str = r#"[{"dev":"dsa0","groups":[{"dev":"group0.0","grouped_workqueues":[{"dev":"wq0.0","mode":"dedicated",
"size":16,"priority":10,"max_batch_size":32,"type":"user","name":"app1"}],"grouped_engines":[{"dev":"engine0.0"},{"dev":"engine0.1"}]}]}]"#;

#[test]
fn info_decodes_every_profile() {
    for p in ["dsa-spr", "iaa-spr", "dsa-gnr", "iaa-gnr", "dsa-dmr"] {
        let out = idxd(&["info", "--device", &format!("emu:{p}")]);
        let s = out.ok();
        assert!(
            s.contains("Capabilities:") && s.contains("Configuration"),
            "{p}: {s}"
        );
        assert!(s.contains("no-op") && s.contains("enabled"), "{p}: {s}");
        let v = idxd(&["info", "--device", &format!("emu:{p}"), "--json"]).json();
        let c = &v["capabilities"];
        assert!(c["wqs"].as_u64().unwrap() >= 1, "{p}");
        let wqs = v["configuration"]["wqs"].as_array().unwrap();
        let enabled = wqs.iter().filter(|w| w["state"] == "enabled").count();
        assert_eq!(enabled, 2, "{p}: the default configuration has 2 WQs");
        if p.starts_with("dsa") {
            assert!(c["max_batch_size"].as_u64().unwrap() > 1, "{p}");
            assert!(
                c["opcodes"].as_array().unwrap().iter().any(|o| o == "dualcast"),
                "{p}"
            );
        } else {
            assert!(
                c["opcodes"].as_array().unwrap().iter().any(|o| o == "compress"),
                "{p}"
            );
        }
        assert_eq!(
            c["iaacap"].is_null(),
            p != "iaa-gnr",
            "{p}: IAACAP only on IAA 2.0"
        );
    }
    let s = idxd(&["info"]).ok().to_string();
    assert!(s.contains("IAA 1.0"), "the default device is emu:iaa-spr: {s}");
}

#[test]
fn info_and_config_apply_toml_and_accel_config_json() {
    let t = TempDir::new("cfg");
    let toml = t.write("dev.toml", TOML);
    let json = t.write("dsa0.json", JSON);
    let v = idxd(&[
        "info",
        "--device",
        "emu:dsa-spr",
        "--json",
        "--config",
        toml.to_str().unwrap(),
    ])
    .json();
    let wqs = v["configuration"]["wqs"].as_array().unwrap();
    let w3 = &wqs[3];
    assert_eq!(
        (w3["state"].as_str(), w3["size"].as_u64(), w3["group"].as_u64()),
        (Some("enabled"), Some(16), Some(1))
    );
    assert_eq!(w3["priority"], 5);
    assert_eq!(
        v["configuration"]["groups"][0]["engines"],
        serde_json::json!([0, 1])
    );
    let s = idxd(&["config", "--device", "emu:dsa-spr", json.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(s.contains("applied") && s.contains("1 WQ(s) enabled"), "{s}");
    let v = idxd(&[
        "config",
        "--device",
        "emu:dsa-spr",
        "--json",
        json.to_str().unwrap(),
    ])
    .json();
    assert_eq!(v["wqs"][0]["max_batch_size"], 32);
    // A configuration the device cannot take: one line naming the field.
    let bad = t.write("bad.toml", &TOML.replace("size = 32", "size = 300"));
    let l = idxd(&["config", "--device", "emu:dsa-spr", bad.to_str().unwrap()])
        .fails(1)
        .to_string();
    assert!(l.contains("wq.size"), "{l}");
    let bad = t.write("bad2.toml", "[[wq]]\nid = 0\nbogus = 1\n");
    idxd(&["config", "--device", "emu:iaa-spr", bad.to_str().unwrap()]).fails(1);
    let l = idxd(&["config", "--device", "emu:iaa-spr", "/nonexistent.toml"])
        .fails(1)
        .to_string();
    assert!(l.contains("/nonexistent.toml"), "{l}");
    let l = idxd(&["config", "--device", "wq:/dev/dsa/wq0.0", toml.to_str().unwrap()])
        .fails(1)
        .to_string();
    assert!(l.contains("accel-config"), "{l}");
    idxd(&["config", "--device", "sw:zstd", toml.to_str().unwrap()]).fails(1);
}

#[test]
fn info_of_a_kernel_wq_reads_sysfs() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    let s = idxd(&["info", "--device", "wq:/dev/dsa/wq0.0", "--root", root])
        .ok()
        .to_string();
    assert!(
        s.contains("wq0.0") && s.contains("dedicated") && s.contains("app1"),
        "{s}"
    );
    assert!(s.contains("dsa0") && s.contains("0000:6a:01.0"), "{s}");
    let v = idxd(&["info", "--device", "wq:/dev/dsa/wq0.0", "--root", root, "--json"]).json();
    assert_eq!(v["wq"]["size"], 16);
    let l = idxd(&["info", "--device", "wq:/dev/dsa/wq9.9", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("wq0.0"), "names what exists: {l}");
}

#[test]
fn info_refusals_are_one_line() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    idxd(&["info", "--device", "sw:lz4"]).fails(1);
    // No VFIO on a fake tree (and none on this machine): one clear line.
    let l = idxd(&["info", "--device", "vfio:0000:6a:02.0", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("vfio"), "{l}");
    idxd(&["info", "--device", "vfio:0000:6a:02.0"]).fails(1);
    let l = idxd(&["info", "--device", "emu:nope"]).fails(2).to_string();
    assert!(l.contains("iaa-spr"), "{l}");
}
