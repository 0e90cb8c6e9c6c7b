//! `idxd corpus capture` on a live child process and on this test process.

mod common;

use std::process::{Command, Stdio};

use common::{idxd, TempDir};

fn check_pages(path: &std::path::Path) -> usize {
    let len = std::fs::metadata(path).unwrap().len() as usize;
    assert!(len > 0 && len % 4096 == 0, "{len} bytes");
    len / 4096
}

#[test]
fn capture_of_a_child_process() {
    let t = TempDir::new("capture");
    let mut child = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .expect("sleep");
    // Let it map its heap and stack.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let out = t.join("sleep.pages");
    let pid = child.id().to_string();
    let res = idxd(&["corpus", "capture", "--pid", &pid, "--out", out.to_str().unwrap()]);
    let _ = child.kill();
    let _ = child.wait();
    let s = res.ok();
    assert!(s.contains("captured") && s.contains("sleep"), "{s}");
    assert!(check_pages(&out) >= 1);
}

#[test]
fn capture_of_this_process_is_usable_as_a_corpus() {
    let t = TempDir::new("capture");
    let keep: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let out = t.join("self.pages");
    let pid = std::process::id().to_string();
    idxd(&[
        "corpus",
        "capture",
        "--pid",
        &pid,
        "--out",
        out.to_str().unwrap(),
        "--max-pages",
        "512",
    ])
    .ok();
    std::hint::black_box(&keep);
    let n = check_pages(&out);
    assert!((1..=512).contains(&n), "{n}");
    let s = idxd(&[
        "bench",
        "zswap",
        "--device",
        "sw:lz4",
        "--corpus",
        out.to_str().unwrap(),
    ])
    .ok()
    .to_string();
    assert!(s.contains(&format!("{n} pages")), "{s}");
}

#[test]
fn capture_refusals_are_one_line() {
    let t = TempDir::new("capture");
    let out = t.join("x.pages");
    let l = idxd(&[
        "corpus",
        "capture",
        "--pid",
        "999999999",
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1)
    .to_string();
    assert!(l.contains("no process 999999999"), "{l}");
    assert!(!out.exists());
    idxd(&["corpus", "capture", "--out", out.to_str().unwrap()]).fails(2);
    idxd(&[
        "corpus",
        "capture",
        "--pid",
        "abc",
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(2);
    let pid = std::process::id().to_string();
    idxd(&[
        "corpus",
        "capture",
        "--pid",
        &pid,
        "--out",
        "/nonexistent/dir/x.pages",
    ])
    .fails(1);
}

#[test]
fn capture_without_permission_is_one_clear_line() {
    // Where this process may not read another's memory (pid 1 outside our namespace, or not
    // root), the refusal is one line; where it may, there is nothing to check here.
    if std::fs::read_to_string("/proc/1/maps").is_ok() {
        return;
    }
    let t = TempDir::new("capture");
    let out = t.join("init.pages");
    let l = idxd(&["corpus", "capture", "--pid", "1", "--out", out.to_str().unwrap()])
        .fails(1)
        .to_string();
    assert!(l.contains("permission denied"), "{l}");
    assert!(!out.exists());
}
