//! Helpers of the `idxd` command tests: running the binary, temporary directories, fake sysfs
//! trees laid out as the kernel does (objects under sys/devices, bus views as relative links).
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a run of `idxd` gave.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts a failure with exit status `code` and exactly one `idxd: ` line on stderr;
    /// returns that line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr must be one line: {:?}", self.stderr);
        assert!(lines[0].starts_with("idxd: "), "{:?}", lines[0]);
        lines[0]
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs the built `idxd` with `args`.
pub fn idxd<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_idxd"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("running idxd");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs the built `idxd` with `args` under a deadline and an address-space limit (so that a
/// run that would read or allocate without bound fails fast instead of taking the machine);
/// `None` when it was still running at the deadline (it is killed then).
pub fn idxd_bounded<S: AsRef<std::ffi::OsStr>>(args: &[S], deadline: std::time::Duration) -> Option<Out> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 8388608 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_idxd"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running idxd");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ro = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let re = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for idxd") {
            break Some(st);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = (ro.join().unwrap(), re.join().unwrap());
    let st = status?;
    Some(Out {
        code: st.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// A fresh directory under cargo's per-test temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "idxd-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.join(rel)).unwrap()
    }

    pub fn link(&self, rel: &str, target: &str) {
        let p = self.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        symlink(target, p).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `sys/devices/pci<dddd>:<bb>/<bdf>`.
pub fn pci_dir(bdf: &str) -> String {
    format!("sys/devices/pci{}:{}/{bdf}", &bdf[..4], &bdf[5..7])
}

/// A fake root with PCI functions, drivers, IOMMU groups and kernel-owned devices and WQs.
pub struct FakeSys {
    pub dir: TempDir,
}

impl FakeSys {
    pub fn new() -> Self {
        let dir = TempDir::new("sysfs");
        dir.write("sys/bus/pci/drivers_probe", "");
        for d in ["idxd", "vfio-pci"] {
            dir.write(&format!("sys/bus/pci/drivers/{d}/bind"), "");
            dir.write(&format!("sys/bus/pci/drivers/{d}/unbind"), "");
        }
        FakeSys { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A PCI function, listed on the bus, with an IOMMU group and optionally a driver.
    pub fn pci(&self, bdf: &str, device: u16, numa: i32, group: u32, driver: Option<&str>) -> &Self {
        let d = pci_dir(bdf);
        self.dir.write(&format!("{d}/vendor"), "0x8086\n");
        self.dir
            .write(&format!("{d}/device"), &format!("0x{device:04x}\n"));
        self.dir.write(&format!("{d}/numa_node"), &format!("{numa}\n"));
        self.dir.write(&format!("{d}/driver_override"), "(null)\n");
        self.dir.link(
            &format!("sys/bus/pci/devices/{bdf}"),
            &format!("../../../devices/pci{}:{}/{bdf}", &bdf[..4], &bdf[5..7]),
        );
        fs::create_dir_all(self.dir.join(&format!("sys/kernel/iommu_groups/{group}/devices"))).unwrap();
        self.dir.link(
            &format!("{d}/iommu_group"),
            &format!("../../../kernel/iommu_groups/{group}"),
        );
        self.dir.link(
            &format!("sys/kernel/iommu_groups/{group}/devices/{bdf}"),
            &format!("../../../../{}", &d[4..]),
        );
        if let Some(drv) = driver {
            self.bind(bdf, drv);
        }
        self
    }

    /// Points the function's driver link at `driver`.
    pub fn bind(&self, bdf: &str, driver: &str) {
        self.dir.link(
            &format!("{}/driver", pci_dir(bdf)),
            &format!("../../../bus/pci/drivers/{driver}"),
        );
    }

    /// Another vendor's function on the bus.
    pub fn other(&self, bdf: &str, vendor: u16, device: u16) -> &Self {
        let d = pci_dir(bdf);
        self.dir
            .write(&format!("{d}/vendor"), &format!("0x{vendor:04x}\n"));
        self.dir
            .write(&format!("{d}/device"), &format!("0x{device:04x}\n"));
        self.dir.link(
            &format!("sys/bus/pci/devices/{bdf}"),
            &format!("../../../devices/pci{}:{}/{bdf}", &bdf[..4], &bdf[5..7]),
        );
        self
    }

    /// A kernel device (`iax1`) under function `bdf`, on the dsa bus.
    pub fn kdev(&self, bdf: &str, name: &str, attrs: &[(&str, &str)]) -> &Self {
        let d = format!("{}/{name}", pci_dir(bdf));
        fs::create_dir_all(self.dir.join(&d)).unwrap();
        for (k, v) in attrs {
            self.dir.write(&format!("{d}/{k}"), &format!("{v}\n"));
        }
        self.dir.link(
            &format!("sys/bus/dsa/devices/{name}"),
            &format!("../../../{}", &d[4..]),
        );
        self
    }

    /// A WQ of kernel device `dev`.
    pub fn kwq(&self, bdf: &str, dev: &str, wq: &str, attrs: &[(&str, &str)]) -> &Self {
        let d = format!("{}/{dev}/{wq}", pci_dir(bdf));
        fs::create_dir_all(self.dir.join(&d)).unwrap();
        for (k, v) in attrs {
            self.dir.write(&format!("{d}/{k}"), &format!("{v}\n"));
        }
        self.dir.link(
            &format!("sys/bus/dsa/devices/{wq}"),
            &format!("../../../{}", &d[4..]),
        );
        self
    }
}

/// A machine with one DSA on idxd (with a user WQ), one IAA on vfio-pci, one unbound IAA, and
/// a GPU that must not be listed.
pub fn machine() -> FakeSys {
    let f = FakeSys::new();
    f.pci("0000:6a:01.0", 0x0b25, 0, 17, Some("idxd"))
        .pci("0000:6a:02.0", 0x0cfe, 0, 18, Some("vfio-pci"))
        .pci("0000:e7:02.0", 0x0cfe, 1, 40, None)
        .other("0000:17:00.0", 0x10de, 0x2330);
    f.kdev(
        "0000:6a:01.0",
        "dsa0",
        &[
            ("state", "enabled"),
            ("numa_node", "0"),
            ("max_batch_size", "1024"),
        ],
    )
    .kwq(
        "0000:6a:01.0",
        "dsa0",
        "wq0.0",
        &[
            ("mode", "dedicated"),
            ("size", "16"),
            ("type", "user"),
            ("state", "enabled"),
            ("name", "app1"),
            ("priority", "10"),
            ("max_transfer_size", "2097152"),
            ("max_batch_size", "32"),
        ],
    );
    f.dir.write("dev/dsa/wq0.0", "");
    f
}
