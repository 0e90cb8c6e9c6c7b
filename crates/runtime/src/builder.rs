//! The runtime: devices (opened by the driver, `idxd_driver::open`) and codecs chosen once,
//! per-thread contexts that do the work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idxd_driver::{DeviceSpec, OpenDevice, OpenOptions, Wq};
use idxd_hw::pci::DeviceKind;

use crate::algorithm::Algorithm;
use crate::codec::Codec;
use crate::context::{Context, ContextStats};
use crate::error::{ErrorKind, OffloadError, RuntimeError};
use crate::iaa::{IaaCodec, IaaOptions};
use crate::software::{DeflateCodec, Lz4Codec, ZstdCodec};
use crate::stats::{Stats, StatsSnapshot};

/// A device for the builder: a spec the driver opens, or a device opened already.
enum DeviceSource {
    Spec(DeviceSpec),
    Opened(OpenDevice),
}

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    algorithm: Algorithm,
    devices: Vec<DeviceSource>,
    batch: Option<usize>,
    verify: bool,
    fallback: bool,
    split: Option<u16>,
    wqs_per_device: u16,
    max_request: usize,
    timeout: Duration,
    numa_node: Option<u32>,
    dsa: Vec<DeviceSource>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("algorithm", &self.algorithm)
            .field("devices", &self.devices.len())
            .field("dsa", &self.dsa.len())
            .finish()
    }
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RuntimeBuilder {
    /// Defaults: lz4, batch 8 on devices, fallback on, verify-after-compress on (as iaa_crypto's
    /// default), 2 WQs per device, requests up to 64 KiB on the device, 1 s completion timeout.
    pub fn new() -> Self {
        RuntimeBuilder {
            algorithm: Algorithm::Lz4,
            devices: Vec::new(),
            batch: None,
            verify: true,
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
        self.dsa.push(DeviceSource::Spec(d));
        self
    }
    /// The algorithm.
    pub fn algorithm(mut self, a: Algorithm) -> Self {
        self.algorithm = a;
        self
    }
    /// Adds a device (IAA algorithms; with none given, an emulated `iaa-spr` is used in builds
    /// with the emulator, feature `emu`).
    pub fn device(mut self, d: DeviceSpec) -> Self {
        self.devices.push(DeviceSource::Spec(d));
        self
    }
    /// Adds a device opened already (with [`idxd_driver::open()`] or
    /// [`idxd_driver::Backed::bring_up`]), DSA or IAA: it goes where its kind belongs.
    pub fn opened_device(mut self, d: OpenDevice) -> Self {
        match d.kind() {
            DeviceKind::Iaa => self.devices.push(DeviceSource::Opened(d)),
            DeviceKind::Dsa => self.dsa.push(DeviceSource::Opened(d)),
        }
        self
    }
    /// Descriptors in flight per context (devices); software codecs always work one by one.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch = Some(n);
        self
    }
    /// Verify every device compression by decompressing it (output suppressed) and comparing
    /// CRCs; a mismatch fails the request as `Corrupt` (redone in software when falling back).
    /// On by default.
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

    fn open_all(src: Vec<DeviceSource>, wqs: u16, want: DeviceKind) -> Result<Vec<OpenDevice>, RuntimeError> {
        let opts = OpenOptions {
            wqs,
            ..OpenOptions::default()
        };
        src.into_iter()
            .map(|s| {
                let d = match s {
                    DeviceSource::Spec(spec) => idxd_driver::open(&spec, &opts)?,
                    DeviceSource::Opened(d) => d,
                };
                if d.kind() != want {
                    return Err(RuntimeError::WrongKind {
                        device: d.name().to_string(),
                        expected: want,
                    });
                }
                Ok(d)
            })
            .collect()
    }

    /// Opens the devices and checks the configuration.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let algorithm = self.algorithm.checked()?;
        let devices = match algorithm {
            Algorithm::Iaa(_) => {
                let mut src = self.devices;
                if src.is_empty() {
                    src.push(DeviceSource::Spec(default_device(algorithm)?));
                }
                Self::open_all(src, self.wqs_per_device, DeviceKind::Iaa)?
            }
            _ => Vec::new(),
        };
        let batch = match algorithm {
            Algorithm::Iaa(_) => self.batch.unwrap_or(8).clamp(1, 256),
            _ => 1,
        };
        let dsa = Self::open_all(self.dsa, self.wqs_per_device, DeviceKind::Dsa)?;
        let node = self.numa_node.or(devices.first().map(|d| d.node())).unwrap_or(0);
        Ok(Runtime {
            inner: Arc::new(Inner {
                algorithm,
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

/// One device's health, as [`Runtime::health`] reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceHealth {
    /// The device (`emu:iaa-spr@node0`, `vfio:...`, `wq:...`).
    pub name: String,
    /// Descriptors submitted to its WQs.
    pub submitted: u64,
    /// Requests in flight now (orphans included).
    pub in_flight: u64,
    /// Halts seen, and recoveries from them.
    pub halts: u64,
    /// Successful recoveries.
    pub recoveries: u64,
    /// Software errors read from SWERR (the last 64 at most).
    pub software_errors: u64,
    /// Requests whose wait gave up (timeout, failed health check).
    pub orphaned: u64,
    /// Orphans whose records came later.
    pub orphans_reaped: u64,
    /// Orphans released by a drain or reset (their records were lost).
    pub orphans_released: u64,
    /// Requests a halt abandoned.
    pub abandoned: u64,
    /// Drains run to recover orphans.
    pub drains: u64,
}

#[cfg(feature = "emu")]
fn default_device(_: Algorithm) -> Result<DeviceSpec, RuntimeError> {
    Ok(DeviceSpec::Emulated {
        profile: "iaa-spr".into(),
        config: Default::default(),
    })
}

#[cfg(not(feature = "emu"))]
fn default_device(a: Algorithm) -> Result<DeviceSpec, RuntimeError> {
    Err(RuntimeError::NoDevice(a))
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

    /// The compression devices the runtime opened.
    pub fn devices(&self) -> &[OpenDevice] {
        &self.inner.devices
    }

    /// What each device has been through: halts and recoveries, software errors, requests
    /// given up on (orphaned) and how they came back, drains. A device the runtime stopped
    /// being able to use shows here, not only as a rising fallback count.
    pub fn health(&self) -> Vec<DeviceHealth> {
        self.inner
            .devices
            .iter()
            .chain(self.inner.dsa.iter())
            .map(|d| {
                let mut h = DeviceHealth {
                    name: d.name().to_string(),
                    ..Default::default()
                };
                if let Some(dev) = d.device() {
                    let dh = dev.health();
                    h.halts = dh.halts;
                    h.recoveries = dh.recoveries;
                    h.software_errors = dh.swerrs.len() as u64;
                }
                for w in d.wqs() {
                    let c = w.counters();
                    h.submitted += c.submitted;
                    h.orphaned += c.orphaned;
                    h.orphans_reaped += c.orphans_reaped;
                    h.orphans_released += c.orphans_released;
                    h.abandoned += c.abandoned;
                    h.drains += c.drains;
                    h.in_flight += w.in_flight() as u64;
                }
                h
            })
            .collect()
    }

    /// The DSA devices the runtime opened.
    pub fn dsa_devices(&self) -> &[OpenDevice] {
        &self.inner.dsa
    }

    /// A per-thread DSA context: on the DSA devices given to the builder (WQs round robin over
    /// contexts), else software.
    pub fn dsa_context(&self) -> Result<crate::dsa::DsaContext, RuntimeError> {
        let i = &self.inner;
        let wqs: Vec<&Arc<Wq>> = i.dsa.iter().flat_map(|d| d.wqs().iter()).collect();
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
        let codec: Result<Box<dyn Codec>, OffloadError> = match i.algorithm {
            Algorithm::Lz4 => Ok(Box::new(Lz4Codec::default())),
            Algorithm::Zstd { level } => ZstdCodec::new(level).map(|c| Box::new(c) as Box<dyn Codec>),
            Algorithm::Deflate { level } => Ok(Box::new(DeflateCodec::new(level))),
            Algorithm::Iaa(mode) => {
                let (comp, decomp) = self.iaa_wqs();
                let opts = IaaOptions {
                    mode,
                    batch: i.batch,
                    max_request: i.max_request,
                    verify: i.verify,
                    timeout: i.timeout,
                };
                IaaCodec::new(&comp, &decomp, opts, id)
                    .map(|c| Box::new(c) as Box<dyn Codec>)
                    .map_err(|e| {
                        OffloadError::new(ErrorKind::of_driver(&e), "deflate-iaa")
                            .with_detail(format!("setting up the context: {e}"))
                    })
            }
        };
        let name = codec.as_ref().map_or("unavailable", |c| c.name());
        let stats = ContextStats {
            compress: i.stats.codec(&format!("{name}/compress")),
            decompress: i.stats.codec(&format!("{name}/decompress")),
            fallback: i.stats.codec("fallback"),
        };
        Context::new(
            codec,
            i.fallback,
            matches!(i.algorithm, Algorithm::Iaa(_)),
            i.max_request,
            stats,
        )
    }

    /// The compress and decompress WQs of the devices on the preferred node (all devices when
    /// none is on it), split as the builder asked.
    fn iaa_wqs(&self) -> (Vec<Arc<Wq>>, Vec<Arc<Wq>>) {
        let i = &self.inner;
        let local: Vec<&OpenDevice> = i.devices.iter().filter(|d| d.node() == i.node).collect();
        let devs: Vec<&OpenDevice> = if local.is_empty() {
            i.devices.iter().collect()
        } else {
            local
        };
        let (mut comp, mut decomp) = (Vec::new(), Vec::new());
        for d in devs {
            let wqs = d.wqs();
            let n = wqs.len();
            match i.split {
                Some(k) if (k as usize) < n && k > 0 => {
                    comp.extend(wqs[n - k as usize..].iter().cloned());
                    decomp.extend(wqs[..n - k as usize].iter().cloned());
                }
                _ => {
                    comp.extend(wqs.iter().cloned());
                    decomp.extend(wqs.iter().cloned());
                }
            }
        }
        (comp, decomp)
    }
}
