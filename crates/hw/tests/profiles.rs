//! The shipped profiles decode to the facts of docs/hardware.md, "Device profiles", and broken profiles
//! are refused with the file and field named.

use idxd_hw::profile::{Profile, BUILTIN};
use idxd_hw::{DeviceKind, DsaOpcode, IaaOpcode};

#[test]
fn sapphire_rapids_dsa() {
    let p = Profile::builtin("dsa-spr").unwrap();
    let c = &p.caps;
    assert_eq!(p.kind, DeviceKind::Dsa);
    assert_eq!((p.vendor, p.device), (0x8086, 0x0b25));
    assert_eq!(c.max_transfer_size(), 2 << 30);
    assert_eq!(c.max_batch_size(), 1024);
    assert_eq!((c.num_wqs(), c.total_wq_size()), (8, 128));
    assert_eq!(c.num_groups(), 4);
    assert_eq!(c.num_engines, 4);
    assert_eq!(c.total_read_buffers(), 96);
    assert_eq!(c.offsets.wqcfg_bytes(), 0x400);
    assert_eq!(c.wqcfg_entry_size(), 32);
    assert_eq!(c.offsets.msix_perm_bytes(), 0x200);
    assert_eq!(c.offsets.perfmon_bytes(), 0x1000);
    assert_eq!(p.msix_vectors, 9);
    for op in [
        DsaOpcode::Batch,
        DsaOpcode::Memmove,
        DsaOpcode::CrcGen,
        DsaOpcode::CacheFlush,
        DsaOpcode::Dualcast,
    ] {
        assert!(c.supports(op.code()), "{op}");
    }
    assert!(c.cmdcap.is_none());
    assert_eq!(p.part_name(), "DSA 1.0 (Sapphire Rapids)");
}

#[test]
fn sapphire_rapids_iaa() {
    let p = Profile::builtin("iaa-spr").unwrap();
    let c = &p.caps;
    assert_eq!(p.kind, DeviceKind::Iaa);
    assert_eq!(c.max_transfer_size(), 2 << 30);
    assert_eq!(c.max_batch_size(), 0, "IAA has no batch descriptor");
    assert_eq!((c.num_wqs(), c.total_wq_size()), (8, 128));
    assert_eq!(c.num_groups(), 4);
    assert_eq!(c.num_engines, 8);
    for op in [
        IaaOpcode::Compress,
        IaaOpcode::Decompress,
        IaaOpcode::Crc64,
        IaaOpcode::Memmove,
        IaaOpcode::Noop,
    ] {
        assert!(c.supports(op.code()), "{op}");
    }
    assert!(!c.supports(DsaOpcode::Batch.code()));
    assert!(c.wqcap.shared_mode && c.wqcap.dedicated_mode && c.wqcap.priority);
    assert!(c.iaacap.is_none());
    assert_eq!(p.part_name(), "IAA 1.0 (Sapphire Rapids)");
}

#[test]
fn newer_parts() {
    let p = Profile::builtin("iaa-gnr").unwrap();
    assert_eq!(p.caps.version.major, 2);
    let cap = p.caps.iaacap.expect("IAACAP on IAA 2.0");
    // Only what the emulator implements is advertised (firmware-mocks/iaa-gnr.toml).
    assert!(cap.gen2_min && !cap.header_gen && !cap.dictionary);
    assert!(!cap.force_array_output && !cap.partial_aecs_load);
    assert_eq!(p.caps.wqcfg_entry_size(), 64);
    assert!(p.caps.cmdcap.is_some());
    let p = Profile::builtin("dsa-gnr").unwrap();
    assert_eq!(p.part_name(), "DSA 2.0 (Granite Rapids)");
    let p = Profile::builtin("dsa-dmr").unwrap();
    assert_eq!(p.caps.version.major, 3);
    assert_eq!(p.device, 0x1212);
    assert_eq!(p.part_name(), "DSA 3.0 (Diamond Rapids)");
    assert_eq!(BUILTIN.len(), 5);
    for (name, _) in BUILTIN {
        let p = Profile::builtin(name).unwrap();
        assert_eq!(&p.name, name);
        assert!(p.caps.wqcfg_end() <= p.bar0_size);
    }
}

#[test]
fn files_on_disk_match_builtin() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-mocks");
    for (name, _) in BUILTIN {
        let p = Profile::load(&dir.join(format!("{name}.toml"))).unwrap();
        assert_eq!(
            p,
            Profile::builtin(name)
                .map(|b| Profile {
                    description: p.description.clone(),
                    ..b
                })
                .unwrap()
        );
    }
}

fn spr_with(from: &str, to: &str) -> String {
    let (_, text) = BUILTIN.iter().find(|(n, _)| *n == "iaa-spr").unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn broken_profiles_name_the_file_and_field() {
    let cases = [
        ("vendor = 0x8086", "vendor = 0x10de", "vendor"),
        ("device = 0x0cfe", "device = 0x1234", "device"),
        ("kind = \"iaa\"", "kind = \"dsa\"", "kind"),
        ("engcap = 8", "engcap = 0", "registers"),
        ("gencap = 0x71f10901f0105", "gencap = 0x40915f010f", "registers"),
        (
            "opcap = [0xd, 0x7f331c, 0, 0]",
            "opcap = [0xd, 0x7f331c, 0]",
            "registers.opcap",
        ),
        (
            "opcap = [0xd, 0x7f331c, 0, 0]",
            "opcap = [0x8, 0x7f331c, 0, 0]",
            "registers.opcap",
        ),
        ("bar2_size = 0x20000", "bar2_size = 0x10000", "bar2_size"),
        ("bar0_size = 0x10000", "bar0_size = 0x300", "bar0_size"),
        ("msix_vectors = 9", "msix_vectors = 0", "msix_vectors"),
        ("engcap = 8", "engcap = \"0xzz\"", "registers.engcap"),
        ("version = 0x100", "version = 0x900", "registers"),
        ("engcap = 8", "engcap = 8\ncmdcap = 0x7ffe", "registers.cmdcap"),
        ("engcap = 8", "engcap = 8\niaacap = 1", "registers.iaacap"),
        ("engcap = 8", "engcap = 8\nbogus = 1", "(syntax)"),
    ];
    for (from, to, field) in cases {
        let e = Profile::from_toml("bad.toml", &spr_with(from, to)).unwrap_err();
        assert_eq!(e.file, "bad.toml", "{to}");
        assert_eq!(e.field, field, "{to}: {e}");
        assert!(e.to_string().starts_with("bad.toml: field `"), "{e}");
    }
    let e = Profile::load(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
    assert_eq!(e.field, "(file)");
    assert!(Profile::builtin("nope").unwrap_err().reason.contains("iaa-spr"));
}
