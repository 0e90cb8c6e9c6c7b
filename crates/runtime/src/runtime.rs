//! The runtime: devices and codecs chosen once, per-thread contexts that do the work.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use idxd_driver::backing::emu::EmuBacking;
use idxd_driver::{BringUpOptions, Device, DeviceConfig, Wq};
use idxd_emu::device::EmuConfig;
use idxd_hw::pci::DeviceKind;

use crate::codec::{Codec, Job};
use crate::error::{ErrorKind, OffloadError, RuntimeError};
use crate::iaa::{IaaCodec, IaaMode, IaaOptions};
use crate::software::{inflate_into, DeflateCodec, Lz4Codec, ZstdCodec};
use crate::stats::{CodecStats, Stats, StatsSnapshot};

/// What compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Deflate on an IAA (real or emulated).
    Iaa(IaaMode),
    /// Software raw deflate with a 4 KiB window (any IAA can decompress it).
    Deflate {
        /// 1..=9.
        level: u32,
    },
    /// Software zstd.
    Zstd {
        /// zstd level.
        level: i32,
    },
    /// Software lz4 (block format).
    Lz4,
}

impl FromStr for Algorithm {
    type Err = RuntimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            RuntimeError::Config(format!(
                "unknown algorithm `{s}` (deflate-iaa, deflate-iaa-dynamic, deflate[-N], zstd[-N], lz4)"
            ))
        };
        let (base, level) = match s.rsplit_once('-') {
            Some((b, l)) if l.chars().all(|c| c.is_ascii_digit() || c == '-') && !l.is_empty() => {
                (b, Some(l))
            }
            _ => (s, None),
        };
        Ok(match (base, level) {
            ("deflate-iaa", None) | ("iaa", None) => Algorithm::Iaa(IaaMode::Fixed),
            ("deflate-iaa-dynamic", None) => Algorithm::Iaa(IaaMode::Dynamic),
            ("deflate", l) => Algorithm::Deflate {
                level: l.map_or(Ok(1), str::parse).map_err(|_| bad())?,
            },
            ("zstd", l) => Algorithm::Zstd {
                level: l.map_or(Ok(1), str::parse).map_err(|_| bad())?,
            },
            ("lz4", None) => Algorithm::Lz4,
            _ => return Err(bad()),
        })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Algorithm::Iaa(IaaMode::Fixed) => write!(f, "deflate-iaa"),
            Algorithm::Iaa(IaaMode::Dynamic) => write!(f, "deflate-iaa-dynamic"),
            Algorithm::Deflate { level } => write!(f, "deflate-{level}"),
            Algorithm::Zstd { level } => write!(f, "zstd-{level}"),
            Algorithm::Lz4 => write!(f, "lz4"),
        }
    }
}

/// A device the runtime opens.
#[derive(Clone, Debug)]
pub enum DeviceSpec {
    /// An in-process emulated device from a built-in profile.
    Emulated {
        /// Profile name (`iaa-spr`, ...).
        profile: String,
        /// Execution mode and fault injection.
        config: EmuConfig,
    },
    /// An emulated device that reports itself on a given NUMA node (for placement tests and
    /// multi-node setups).
    EmulatedOnNode {
        /// Profile name.
        profile: String,
        /// Execution mode and fault injection.
        config: EmuConfig,
        /// The node it reports.
        node: u32,
    },
    /// A device bound to vfio-pci.
    Vfio {
        /// PCI address.
        bdf: String,
    },
    /// A WQ owned by the kernel's idxd driver (`/dev/iax/wq1.0`).
    KernelWq {
        /// Its character device.
        path: PathBuf,
    },
}

/// Builds a [`Runtime`].
#[derive(Clone, Debug)]
pub struct RuntimeBuilder {
    algorithm: Algorithm,
    devices: Vec<DeviceSpec>,
    batch: Option<usize>,
    verify: bool,
    fallback: bool,
    split: Option<u16>,
    wqs_per_device: u16,
    max_request: usize,
    timeout: Duration,
    numa_node: Option<u32>,
    dsa: Vec<DeviceSpec>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RuntimeBuilder {
    /// Defaults: lz4, batch 8 on devices, fallback on, verify off, 2 WQs per device, requests up
    /// to 64 KiB on the device, 1 s completion timeout.
    pub fn new() -> Self {
        RuntimeBuilder {
            algorithm: Algorithm::Lz4,
            devices: Vec::new(),
            batch: None,
            verify: false,
            fallback: true,
            split: None,
            wqs_per_device: 2,
            max_request: 64 * 1024,
            timeout: Duration::from_secs(1),
            numa_node: None,
            dsa: Vec::new(),
        }
    }
    /// Adds a DSA device for [`Runtime::dsa_context`] (copy, fill, compare, CRC32C, same-filled
    /// detection). Without one, those run in software.
    pub fn dsa_device(mut self, d: DeviceSpec) -> Self {
        self.dsa.push(d);
        self
    }
    /// The algorithm.
    pub fn algorithm(mut self, a: Algorithm) -> Self {
        self.algorithm = a;
        self
    }
    /// Adds a device (IAA algorithms; with none given, an emulated `iaa-spr` is used).
    pub fn device(mut self, d: DeviceSpec) -> Self {
        self.devices.push(d);
        self
    }
    /// Descriptors in flight per context (devices); software codecs always work one by one.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch = Some(n);
        self
    }
    /// Verify every device compression by decompressing it (output suppressed).
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }
    /// Fall back to software when the device cannot serve a request (queue full after retries,
    /// halt, timeout, device error, page fault; decompress also on analytics errors).
    pub fn fallback(mut self, on: bool) -> Self {
        self.fallback = on;
        self
    }
    /// Dedicate the last `n` WQs of each device to compression and the rest to decompression.
    pub fn split_wqs(mut self, n: u16) -> Self {
        self.split = Some(n);
        self
    }
    /// WQs configured per device the runtime brings up.
    pub fn wqs_per_device(mut self, n: u16) -> Self {
        self.wqs_per_device = n.max(1);
        self
    }
    /// Largest request sent to a device.
    pub fn max_request(mut self, n: usize) -> Self {
        self.max_request = n.max(4096);
        self
    }
    /// Completion timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// The NUMA node contexts prefer (default: the node of the first device).
    pub fn numa_node(mut self, n: u32) -> Self {
        self.numa_node = Some(n);
        self
    }

    /// Opens the devices and checks the configuration.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let mut devices = Vec::new();
        if let Algorithm::Iaa(_) = self.algorithm {
            let specs = if self.devices.is_empty() {
                vec![DeviceSpec::Emulated {
                    profile: "iaa-spr".into(),
                    config: EmuConfig::default(),
                }]
            } else {
                self.devices.clone()
            };
            for spec in &specs {
                devices.push(open(spec, self.wqs_per_device)?);
            }
            if devices.iter().any(|d| d.kind != DeviceKind::Iaa) {
                return Err(RuntimeError::Config("deflate-iaa needs IAA devices".into()));
            }
        }
        let batch = match self.algorithm {
            Algorithm::Iaa(_) => self.batch.unwrap_or(8).clamp(1, 256),
            _ => 1,
        };
        let mut dsa = Vec::new();
        for spec in &self.dsa {
            let d = open(spec, self.wqs_per_device)?;
            if d.kind != DeviceKind::Dsa {
                return Err(RuntimeError::Config(format!("{} is not a DSA", d.name)));
            }
            dsa.push(d);
        }
        let node = self.numa_node.or(devices.first().map(|d| d.node)).unwrap_or(0);
        Ok(Runtime {
            inner: Arc::new(Inner {
                algorithm: self.algorithm,
                devices,
                batch,
                verify: self.verify,
                fallback: self.fallback,
                split: self.split,
                max_request: self.max_request,
                timeout: self.timeout,
                node,
                stats: Stats::default(),
                contexts: AtomicUsize::new(0),
                dsa,
            }),
        })
    }
}

/// An opened device and its WQs.
pub struct OpenDevice {
    /// The device (None for a kernel-owned WQ).
    pub device: Option<Device>,
    /// Its WQs.
    pub wqs: Vec<Arc<Wq>>,
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// NUMA node.
    pub node: u32,
    /// A name.
    pub name: String,
    /// The emulated device behind it, when it is one (its counters show where work went).
    pub emulated: Option<Arc<idxd_emu::device::EmuDevice>>,
}

/// Opens a device for the runtime (also used for DSA devices by [`crate::dsa`]).
pub fn open(spec: &DeviceSpec, wqs: u16) -> Result<OpenDevice, RuntimeError> {
    match spec {
        DeviceSpec::Emulated { profile, config } => open_emulated(profile, config, None, wqs),
        DeviceSpec::EmulatedOnNode {
            profile,
            config,
            node,
        } => open_emulated(profile, config, Some(*node), wqs),
        DeviceSpec::Vfio { bdf } => {
            let root = std::path::Path::new("/");
            let b = Arc::new(idxd_driver::backing::vfio::VfioBacking::open(root, bdf)?);
            let node = idxd_driver::sysfs::pci_function(root, bdf)
                .ok()
                .and_then(|f| f.numa_node)
                .unwrap_or(0);
            let regs = idxd_driver::DeviceBacking::registers(b.as_ref())
                .ok_or_else(|| RuntimeError::Config(format!("vfio:{bdf}: no register access")))?;
            let kind = idxd_driver::DeviceBacking::kind(b.as_ref());
            let caps = idxd_hw::Capabilities::decode(kind, &idxd_driver::device::read_cap_registers(regs))
                .map_err(|e| RuntimeError::Config(format!("vfio:{bdf}: {e}")))?;
            let dev = Device::bring_up(b, &DeviceConfig::dedicated(&caps, wqs), BringUpOptions::default())?;
            Ok(OpenDevice {
                wqs: dev.wqs(),
                device: Some(dev),
                kind,
                node: node as u32,
                name: format!("vfio:{bdf}"),
                emulated: None,
            })
        }
        DeviceSpec::KernelWq { path } => {
            let root = std::path::Path::new("/");
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| RuntimeError::Config(format!("{}: not a WQ device path", path.display())))?;
            let wq = idxd_driver::sysfs::kernel_wq(root, name)?;
            let node = idxd_driver::sysfs::list_kernel_devices(root)?
                .into_iter()
                .find(|d| d.id == wq.device_id && d.kind == wq.kind)
                .and_then(|d| d.numa_node)
                .unwrap_or(0);
            let b = Arc::new(idxd_driver::backing::kernel_wq::KernelWqBacking::open(&wq)?);
            let portal = b.portal_kind();
            let limits = idxd_hw::Limits {
                max_transfer: wq.max_transfer_size.unwrap_or(1 << 21),
                max_batch: wq.max_batch_size.unwrap_or(0),
            };
            let w = Arc::new(Wq::unmanaged(
                b,
                wq.wq_id as u16,
                portal,
                limits,
                wq.size.unwrap_or(16),
            )?);
            Ok(OpenDevice {
                device: None,
                wqs: vec![w],
                kind: wq.kind,
                node,
                name: format!("wq:{}", path.display()),
                emulated: None,
            })
        }
    }
}

fn open_emulated(
    profile: &str,
    config: &EmuConfig,
    node: Option<u32>,
    wqs: u16,
) -> Result<OpenDevice, RuntimeError> {
    let mut p = idxd_hw::Profile::builtin(profile).map_err(|e| RuntimeError::Config(e.to_string()))?;
    if let Some(n) = node {
        p.numa_node = n;
    }
    let emu = Arc::new(idxd_emu::device::EmuDevice::new(p.clone(), config.clone()));
    let b = Arc::new(EmuBacking::new(emu.clone()));
    let dev = Device::bring_up(
        b,
        &DeviceConfig::dedicated(&p.caps, wqs),
        BringUpOptions::default(),
    )?;
    Ok(OpenDevice {
        wqs: dev.wqs(),
        device: Some(dev),
        kind: p.kind,
        node: p.numa_node,
        name: format!("emu:{profile}@node{}", p.numa_node),
        emulated: Some(emu),
    })
}

struct Inner {
    algorithm: Algorithm,
    devices: Vec<OpenDevice>,
    batch: usize,
    verify: bool,
    fallback: bool,
    split: Option<u16>,
    max_request: usize,
    timeout: Duration,
    node: u32,
    stats: Stats,
    contexts: AtomicUsize,
    dsa: Vec<OpenDevice>,
}

/// A configured runtime; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("algorithm", &self.inner.algorithm)
            .field("batch", &self.inner.batch)
            .finish()
    }
}

impl Runtime {
    /// The algorithm's name (`deflate-iaa`, `zstd-1`, ...).
    pub fn algorithm_name(&self) -> String {
        self.inner.algorithm.to_string()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// Requests a context works on at once.
    pub fn batch_size(&self) -> usize {
        self.inner.batch
    }

    /// Every codec's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The devices the runtime opened.
    pub fn devices(&self) -> &[OpenDevice] {
        &self.inner.devices
    }

    /// A per-thread DSA context: on the DSA devices given to the builder (WQs round robin over
    /// contexts), else software.
    pub fn dsa_context(&self) -> Result<crate::dsa::DsaContext, RuntimeError> {
        let i = &self.inner;
        let wqs: Vec<&Arc<Wq>> = i.dsa.iter().flat_map(|d| d.wqs.iter()).collect();
        if wqs.is_empty() {
            return Ok(crate::dsa::DsaContext::software());
        }
        let id = i.contexts.fetch_add(1, Ordering::Relaxed);
        Ok(crate::dsa::DsaContext::on_device(
            wqs[id % wqs.len()].clone(),
            i.batch.max(8),
            64 * 1024,
            i.timeout,
        )?)
    }

    /// A per-thread context: its own codec state, staging buffers and records. Contexts are
    /// spread over the WQs of the devices on the preferred NUMA node (all devices when none is
    /// on it), round robin.
    pub fn context(&self) -> Context {
        let i = &self.inner;
        let id = i.contexts.fetch_add(1, Ordering::Relaxed);
        let codec: Result<Box<dyn Codec>, String> = match i.algorithm {
            Algorithm::Lz4 => Ok(Box::new(Lz4Codec::default())),
            Algorithm::Zstd { level } => ZstdCodec::new(level)
                .map(|c| Box::new(c) as Box<dyn Codec>)
                .map_err(|e| e.to_string()),
            Algorithm::Deflate { level } => Ok(Box::new(DeflateCodec::new(level))),
            Algorithm::Iaa(mode) => {
                let local: Vec<&OpenDevice> = i.devices.iter().filter(|d| d.node == i.node).collect();
                let devs: Vec<&OpenDevice> = if local.is_empty() {
                    i.devices.iter().collect()
                } else {
                    local
                };
                let (mut comp, mut decomp) = (Vec::new(), Vec::new());
                for d in devs {
                    let n = d.wqs.len();
                    match i.split {
                        Some(k) if (k as usize) < n && k > 0 => {
                            comp.extend(d.wqs[n - k as usize..].iter().cloned());
                            decomp.extend(d.wqs[..n - k as usize].iter().cloned());
                        }
                        _ => {
                            comp.extend(d.wqs.iter().cloned());
                            decomp.extend(d.wqs.iter().cloned());
                        }
                    }
                }
                let opts = IaaOptions {
                    mode,
                    batch: i.batch,
                    max_request: i.max_request,
                    verify: i.verify,
                    timeout: i.timeout,
                };
                IaaCodec::new(&comp, &decomp, opts, id)
                    .map(|c| Box::new(c) as Box<dyn Codec>)
                    .map_err(|e| e.to_string())
            }
        };
        let (codec, broken) = match codec {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        let name = codec.as_ref().map_or("unavailable", |c| c.name());
        Context {
            comp_stats: i.stats.codec(&format!("{name}/compress")),
            decomp_stats: i.stats.codec(&format!("{name}/decompress")),
            fb_stats: i.stats.codec("fallback"),
            codec,
            broken,
            soft: DeflateCodec::new(1),
            inflater: flate2::Decompress::new(false),
            fallback: i.fallback,
            is_device: matches!(i.algorithm, Algorithm::Iaa(_)),
            max_request: i.max_request,
        }
    }
}

/// A per-thread context. `Send`, not shared: each thread makes its own.
pub struct Context {
    codec: Option<Box<dyn Codec>>,
    broken: Option<String>,
    soft: DeflateCodec,
    inflater: flate2::Decompress,
    fallback: bool,
    is_device: bool,
    max_request: usize,
    comp_stats: Arc<CodecStats>,
    decomp_stats: Arc<CodecStats>,
    fb_stats: Arc<CodecStats>,
}

/// Device errors after which a request is worth redoing in software.
fn device_side(k: ErrorKind, decompress: bool) -> bool {
    match k {
        ErrorKind::QueueFull | ErrorKind::DeviceHalted | ErrorKind::Timeout | ErrorKind::DeviceError => true,
        ErrorKind::PageFault { .. } => true,
        // As the kernel: decompress falls back to software inflate on analytics errors (a
        // 32 KiB-window stream is the usual one); a stream software cannot read either stays
        // an error.
        ErrorKind::Unsupported | ErrorKind::Corrupt => decompress,
        ErrorKind::DoesNotFit | ErrorKind::InvalidRequest => false,
    }
}

impl Context {
    /// Hands jobs to the codec (or fails them all when it could not be set up).
    fn dispatch(&mut self, jobs: &mut [Job<'_>], decompress: bool) {
        match (&mut self.codec, &self.broken) {
            (Some(c), _) if decompress => c.decompress(jobs),
            (Some(c), _) => c.compress(jobs),
            (None, b) => {
                let e = OffloadError::new(ErrorKind::DeviceError, "runtime")
                    .with_detail(b.clone().unwrap_or_default());
                jobs.iter_mut().for_each(|j| j.result = Some(Err(e.clone())));
            }
        }
    }

    fn run(
        &mut self,
        srcs: &[&[u8]],
        dsts: &mut [&mut [u8]],
        decompress: bool,
    ) -> Vec<Result<usize, OffloadError>> {
        let n = srcs.len().min(dsts.len());
        let start = Instant::now();
        let mut jobs: Vec<Job<'_>> = srcs
            .iter()
            .zip(dsts.iter_mut())
            .map(|(s, d)| Job::new(s, d))
            .collect();
        // The same refusal whatever the backend: nothing to do, or nowhere to put it.
        for j in jobs.iter_mut() {
            if j.src.is_empty() || j.dst.is_empty() {
                j.result = Some(Err(OffloadError::new(ErrorKind::InvalidRequest, "runtime")
                    .with_detail(format!(
                        "{} bytes in, {} bytes of room",
                        j.src.len(),
                        j.dst.len()
                    ))));
            }
        }
        if jobs.iter().all(|j| j.result.is_none()) {
            self.dispatch(&mut jobs, decompress);
        } else {
            // Only the requests that passed the check go to the codec.
            let mut slots = Vec::new();
            let mut todo: Vec<Job<'_>> = Vec::new();
            for (k, j) in jobs.iter_mut().enumerate() {
                if j.result.is_none() {
                    todo.push(Job::new(j.src, &mut *j.dst));
                    slots.push(k);
                }
            }
            self.dispatch(&mut todo, decompress);
            let done: Vec<_> = todo.into_iter().map(|j| j.result).collect();
            for (k, r) in slots.into_iter().zip(done) {
                jobs[k].result = r;
            }
        }
        let mut fell_back = 0u64;
        if self.is_device && self.fallback {
            for j in jobs.iter_mut() {
                // Beyond the device's staging size: the input, or (decompress) room for output
                // the device could not use.
                let too_big = (j.src.len() > self.max_request && !j.dst.is_empty())
                    || (decompress
                        && j.dst.len() > self.max_request
                        && matches!(&j.result, Some(Err(e)) if e.kind == ErrorKind::DoesNotFit));
                // (A codec that could not be set up reports DeviceError, a device-side kind.)
                let redo = too_big || matches!(&j.result, Some(Err(e)) if device_side(e.kind, decompress));
                if redo {
                    fell_back += 1;
                    j.result = Some(if decompress {
                        inflate_into(&mut self.inflater, j.src, j.dst, "fallback")
                    } else {
                        let mut one = [Job::new(j.src, &mut *j.dst)];
                        self.soft.compress(&mut one);
                        one[0].result.take().expect("software codec sets every result")
                    });
                }
            }
        }
        let results: Vec<Result<usize, OffloadError>> = jobs
            .into_iter()
            .map(|j| {
                j.result
                    .unwrap_or_else(|| Err(OffloadError::new(ErrorKind::InvalidRequest, "runtime")))
            })
            .collect();
        let (mut bin, mut bout) = (0u64, 0u64);
        let mut errs = Vec::new();
        for (r, s) in results.iter().zip(srcs) {
            match r {
                Ok(m) => {
                    bin += s.len() as u64;
                    bout += *m as u64;
                }
                Err(e) => errs.push(e.kind),
            }
        }
        let st = if decompress {
            &self.decomp_stats
        } else {
            &self.comp_stats
        };
        st.record(n as u64, bin, bout, start.elapsed().as_nanos() as u64, &errs);
        if fell_back > 0 {
            st.fallback(fell_back);
            self.fb_stats.record(fell_back, 0, 0, 0, &[]);
        }
        results
    }

    /// Compresses `srcs[i]` into `dsts[i]`: one result per request, in order (the output
    /// length, or the error of that request alone).
    pub fn compress(&mut self, srcs: &[&[u8]], dsts: &mut [&mut [u8]]) -> Vec<Result<usize, OffloadError>> {
        self.run(srcs, dsts, false)
    }

    /// Decompresses `srcs[i]` into `dsts[i]`.
    pub fn decompress(&mut self, srcs: &[&[u8]], dsts: &mut [&mut [u8]]) -> Vec<Result<usize, OffloadError>> {
        self.run(srcs, dsts, true)
    }

    /// The codec's name.
    pub fn codec_name(&self) -> &'static str {
        self.codec.as_ref().map_or("unavailable", |c| c.name())
    }
}
