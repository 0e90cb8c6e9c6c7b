//! `idxd list`, `idxd bind`, `idxd unbind` on fake sysfs trees.

mod common;

use common::{idxd, machine, pci_dir, FakeSys};

#[test]
fn list_shows_functions_kernel_wqs_and_profiles() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    let out = idxd(&["list", "--root", root]);
    let s = out.ok();
    assert!(s.contains("0000:6a:01.0") && s.contains("idxd"), "{s}");
    assert!(s.contains("0000:6a:02.0") && s.contains("vfio-pci"), "{s}");
    assert!(s.contains("0000:e7:02.0") && s.contains("(none)"), "{s}");
    assert!(!s.contains("0000:17:00.0"), "the GPU is not an accelerator: {s}");
    assert!(s.contains("Sapphire Rapids"), "part names: {s}");
    assert!(
        s.contains("dsa0") && s.contains("wq0.0") && s.contains("app1"),
        "{s}"
    );
    assert!(s.contains("emu:iaa-spr") && s.contains("emu:dsa-dmr"), "{s}");
    let v = idxd(&["list", "--root", root, "--json"]).json();
    let pci = v["pci"].as_array().unwrap();
    assert_eq!(pci.len(), 3);
    assert_eq!(pci[0]["bdf"], "0000:6a:01.0");
    assert_eq!(pci[0]["driver"], "idxd");
    assert_eq!(pci[2]["numa_node"], 1);
    assert_eq!(v["kernel"][0]["wqs"][0]["name"], "wq0.0");
    assert_eq!(v["kernel"][0]["wqs"][0]["mode"], "dedicated");
    assert_eq!(v["emulated"].as_array().unwrap().len(), 5);
}

#[test]
fn list_of_an_empty_machine_still_lists_the_emulator() {
    let f = FakeSys::new();
    let s = idxd(&["list", "--root", f.root().to_str().unwrap()])
        .ok()
        .to_string();
    assert!(s.contains("none"), "{s}");
    assert!(s.contains("emu:dsa-spr"), "{s}");
}

#[test]
fn bind_writes_the_override_and_reports_who_holds_the_function() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    // The fake kernel does not move the function: the check names the driver that holds it.
    let l = idxd(&["bind", "0000:6a:01.0", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("bound to idxd, not vfio-pci"), "{l}");
    assert_eq!(
        m.dir
            .read(&format!("{}/driver_override", pci_dir("0000:6a:01.0"))),
        "vfio-pci"
    );
    assert_eq!(m.dir.read("sys/bus/pci/drivers/idxd/unbind"), "0000:6a:01.0");
    assert_eq!(m.dir.read("sys/bus/pci/drivers_probe"), "0000:6a:01.0");
    // Once the kernel has moved it, bind succeeds and says how to use it.
    m.bind("0000:6a:01.0", "vfio-pci");
    let s = idxd(&["bind", "0000:6a:01.0", "--root", root]).ok().to_string();
    assert!(
        s.contains("bound to vfio-pci") && s.contains("vfio:0000:6a:01.0"),
        "{s}"
    );
    assert!(s.contains("dev/vfio/17"), "{s}");
}

#[test]
fn bind_refuses_bad_addresses_and_other_devices() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    let l = idxd(&["bind", "6a:01.0", "--root", root]).fails(1).to_string();
    assert!(l.contains("dddd:bb:dd.f"), "{l}");
    let l = idxd(&["bind", "0000:17:00.0", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("not a DSA or IAA"), "{l}");
    idxd(&["bind", "0000:6a:09.0", "--root", root]).fails(1);
    idxd(&["bind", "--root", root]).fails(2);
    assert_eq!(m.dir.read("sys/bus/pci/drivers_probe"), "");
}

#[test]
fn unbind_gives_the_function_back() {
    let m = machine();
    let root = m.root().to_str().unwrap();
    // Held by vfio-pci: unbind and probe are written; the fake kernel leaves the link, so the
    // command says the function is still held.
    let l = idxd(&["unbind", "0000:6a:02.0", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("still bound to vfio-pci"), "{l}");
    assert_eq!(m.dir.read("sys/bus/pci/drivers/vfio-pci/unbind"), "0000:6a:02.0");
    assert_eq!(m.dir.read("sys/bus/pci/drivers_probe"), "0000:6a:02.0");
    assert_eq!(
        m.dir
            .read(&format!("{}/driver_override", pci_dir("0000:6a:02.0"))),
        "\n"
    );
    // What the kernel does next: idxd takes it.
    m.bind("0000:6a:02.0", "idxd");
    let s = idxd(&["unbind", "0000:6a:02.0", "--root", root]).ok().to_string();
    assert!(s.contains("now bound to idxd"), "{s}");
    // Unbound: probed, and the message says how to load idxd.
    let s = idxd(&["unbind", "0000:e7:02.0", "--root", root]).ok().to_string();
    assert!(s.contains("modprobe idxd"), "{s}");
    assert_eq!(m.dir.read("sys/bus/pci/drivers_probe"), "0000:e7:02.0");
    idxd(&["unbind", "0000:17:00.0", "--root", root]).fails(1);
}

#[test]
fn bind_of_a_denylisted_part_names_the_module_parameter() {
    // 0000:e7:02.0 is an 8086:0cfe (Sapphire Rapids IAA), unbound; vfio-pci is loaded with its
    // denylist on.
    let m = machine();
    m.dir
        .write("sys/module/vfio_pci/parameters/disable_denylist", "N\n");
    let root = m.root().to_str().unwrap();
    let l = idxd(&["bind", "0000:e7:02.0", "--root", root])
        .fails(1)
        .to_string();
    assert!(l.contains("vfio-pci's denylist"), "{l}");
    assert!(l.contains("disable_denylist=1"), "{l}");
    assert!(l.contains("INTEL-SA-01084"), "{l}");
    assert!(
        !l.contains("is the vfio-pci module loaded"),
        "not the misleading hint: {l}"
    );
}

#[test]
fn info_of_an_emulated_device_lists_what_the_emulator_does_not_execute() {
    let s = idxd(&["info", "--device", "emu:iaa-spr"]).ok().to_string();
    let line = s
        .lines()
        .find(|l| l.trim_start().starts_with("not emulated"))
        .unwrap_or_else(|| panic!("{s}"));
    for op in ["scan", "extract", "select", "expand", "zero-compress 32"] {
        assert!(line.contains(op), "{line}");
    }
    assert!(!line.contains("decompress,") && !line.contains("CRC64"), "{line}");
    let s = idxd(&["info", "--device", "emu:dsa-spr"]).ok().to_string();
    assert!(
        s.contains("not emulated     DIF check, DIF insert, DIF strip, DIF update"),
        "{s}"
    );
}
