//! The driver's error type.

use std::path::PathBuf;

use idxd_hw::regs::{CmdError, Command, ResetType};

/// Everything the driver can report.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A sysfs or device file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A sysfs attribute had a value the driver cannot parse.
    #[error("{path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// VFIO is not available or refused the device.
    #[error("vfio: {0}")]
    Vfio(String),
    /// The device's IOMMU group holds devices not bound to vfio-pci.
    #[error("IOMMU group {group} is not viable: every device in it must be bound to vfio-pci ({detail})")]
    GroupNotViable {
        /// Group number.
        group: u32,
        /// What the kernel said.
        detail: String,
    },
    /// The CPU lacks an instruction the portal needs.
    #[error("this CPU lacks {instruction} (CPUID.7.0:ECX bit {bit}), needed to submit to {wq}")]
    CpuLacks {
        /// MOVDIR64B or ENQCMD.
        instruction: &'static str,
        /// The CPUID bit.
        bit: u32,
        /// The WQ it was needed for.
        wq: String,
    },
    /// A device command failed: the CMDSTS code, and the configuration field it points at.
    #[error("{command} failed: {code}{}", field.as_ref().map(|f| format!(" (offending field: {f})")).unwrap_or_default())]
    Command {
        /// The command.
        command: Command,
        /// CMDSTS error.
        code: CmdError,
        /// The configuration field the error points at, when one does.
        field: Option<String>,
    },
    /// A command set CMDSTS to an error byte the hardware does not define.
    #[error("{command} failed with undefined CMDSTS error {code:#x}")]
    CommandRaw {
        /// The command.
        command: Command,
        /// The raw byte.
        code: u8,
    },
    /// A configuration the device cannot take.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// A BAR0 register access outside the BAR or not aligned to its width.
    #[error("BAR0 access of {width} bytes at {offset:#x} is not an aligned register inside the {bar_len:#x}-byte BAR")]
    RegisterOutOfRange {
        /// The offset asked for.
        offset: u64,
        /// The access width in bytes.
        width: u64,
        /// The BAR's length.
        bar_len: u64,
    },
    /// A PCI configuration-space access outside the region VFIO reports or misaligned.
    #[error("PCI config access at {offset:#x} is not an aligned 16-bit register inside {len:#x} bytes of config space")]
    ConfigSpaceOutOfRange {
        /// The offset asked for.
        offset: u16,
        /// The config region's length.
        len: u64,
    },
    /// An MSI-X vector the backing does not have.
    #[error("{backing}: no MSI-X vector {vector} ({vectors} wired)")]
    NoSuchVector {
        /// The backing (`vfio:0000:6a:01.0`, `emu:iaa-spr`).
        backing: String,
        /// The vector asked for.
        vector: u16,
        /// How many there are.
        vectors: usize,
    },
    /// A portal mapping that cannot take descriptors (null, shorter than 64 bytes, misaligned).
    #[error("{wq}: portal mapping at {addr:#x} of {len} bytes is not a 64-byte-aligned portal")]
    BadPortalMapping {
        /// The WQ.
        wq: String,
        /// Where the mapping starts.
        addr: usize,
        /// Its length.
        len: usize,
    },
    /// A write through a portal with the instruction the WQ does not take.
    #[error("{wq} takes {expected}, not {got} ({mode} WQ)")]
    WrongPortalInstruction {
        /// The WQ.
        wq: String,
        /// The instruction its mode needs.
        expected: &'static str,
        /// The instruction asked for.
        got: &'static str,
        /// "dedicated" or "shared".
        mode: &'static str,
    },
    /// No kernel-owned WQ of that name.
    #[error("no kernel WQ {name} under {} (known: {})", dir.display(),
        if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    NoKernelWq {
        /// The name asked for (`wq1.0`).
        name: String,
        /// The bus directory searched.
        dir: PathBuf,
        /// The WQs that exist.
        known: Vec<String>,
    },
    /// An accel-config JSON file that cannot be read as a configuration.
    #[error("accel-config JSON: {path}: {reason}")]
    AccelConfig {
        /// Where in the file (`[0].groups[1].grouped_workqueues[0].size`).
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// The device halted.
    #[error("device halted (needs {reset:?} reset)")]
    Halted {
        /// What the device says it needs.
        reset: ResetType,
    },
    /// Waiting for the device took too long.
    #[error("timed out after {ms} ms waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        ms: u64,
    },
    /// A WQ has no room (shared WQ kept answering retry, or no credits left).
    #[error("WQ {wq} is full")]
    QueueFull {
        /// The WQ.
        wq: String,
    },
    /// A device spec that does not parse.
    #[error(transparent)]
    Spec(#[from] crate::open::SpecError),
    /// The capability registers do not describe a device this driver can drive.
    #[error("capability registers: {0}")]
    BadCapabilities(#[source] idxd_hw::HwError),
    /// A built-in or given device profile could not be read.
    #[error(transparent)]
    Profile(#[from] idxd_hw::ProfileError),
    /// The device is not in the state a command should have left it in.
    #[error("{what}: the device reports {state} after {after}")]
    UnexpectedState {
        /// What was checked (`GENSTS`, `wq 1`).
        what: String,
        /// What it reports.
        state: String,
        /// The command that should have changed it.
        after: &'static str,
    },
    /// A wait was given a ticket whose request is no longer in flight on that WQ (its
    /// completion was already collected by `poll` or `wait_all`).
    #[error("request {request} is not in flight on {wq}")]
    NotInFlight {
        /// The request number.
        request: u64,
        /// The WQ.
        wq: String,
    },
    /// A health check failed while requests were being waited for (each gets this error).
    #[error("device health check failed while waiting: {0}")]
    HealthCheck(#[source] std::sync::Arc<DriverError>),
    /// DMA memory could not be obtained or mapped.
    #[error("DMA memory: {0}")]
    Dma(String),
    /// A descriptor could not be built.
    #[error(transparent)]
    Build(#[from] idxd_hw::BuildError),
    /// An operation this backing does not offer.
    #[error("{0} is not supported by this backing")]
    Unsupported(&'static str),
    /// A PCI address that is not `dddd:bb:dd.f`.
    #[error("invalid PCI address {bdf:?}: expected dddd:bb:dd.f in hex (e.g. 0000:6a:01.0)")]
    InvalidBdf {
        /// What was given.
        bdf: String,
    },
    /// No PCI function at that address.
    #[error("no PCI function {bdf}: {} does not exist", path.display())]
    NoDevice {
        /// The address.
        bdf: String,
        /// The sysfs path looked for.
        path: PathBuf,
    },
    /// The PCI function is not a DSA or an IAA.
    #[error("{bdf} ({vendor:04x}:{device:04x}) is not a DSA or IAA this driver knows")]
    NotAccelerator {
        /// The address.
        bdf: String,
        /// Its vendor id.
        vendor: u16,
        /// Its device id.
        device: u16,
    },
    /// The PCI function is bound to another driver than the one needed.
    #[error("{bdf} is bound to {}, not {expected}{}", actual.as_deref().unwrap_or("no driver"),
        if actual.is_none() && *expected == "vfio-pci" { " (is the vfio-pci module loaded?)" } else { "" })]
    WrongDriver {
        /// The address.
        bdf: String,
        /// The driver needed.
        expected: &'static str,
        /// The driver it has.
        actual: Option<String>,
    },
    /// An ioctl failed.
    #[error("{ioctl} on {}: {source}", path.display())]
    Ioctl {
        /// The ioctl's name.
        ioctl: &'static str,
        /// The file it was issued on.
        path: PathBuf,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// The emulator refused something.
    #[cfg(feature = "emu")]
    #[error(transparent)]
    Emu(#[from] idxd_emu::EmuError),
}

impl DriverError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DriverError::Io {
            path: path.into(),
            source,
        }
    }
}

impl DriverError {
    /// One failure reported to every request it ended: timeouts and halts are copied as they
    /// are; anything else is shared behind [`DriverError::HealthCheck`].
    pub fn for_each_request(self) -> impl Fn() -> DriverError {
        enum Shared {
            Timeout(&'static str, u64),
            Halted(ResetType),
            Other(std::sync::Arc<DriverError>),
        }
        let s = match self {
            DriverError::Timeout { what, ms } => Shared::Timeout(what, ms),
            DriverError::Halted { reset } => Shared::Halted(reset),
            DriverError::HealthCheck(e) => Shared::Other(e),
            other => Shared::Other(std::sync::Arc::new(other)),
        };
        move || match &s {
            Shared::Timeout(what, ms) => DriverError::Timeout { what, ms: *ms },
            Shared::Halted(reset) => DriverError::Halted { reset: *reset },
            Shared::Other(e) => DriverError::HealthCheck(e.clone()),
        }
    }
}
