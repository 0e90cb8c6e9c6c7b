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
    /// VFIO is not available or refused the device (an ioctl that fails is
    /// [`DriverError::Ioctl`]).
    #[error("vfio: {0}")]
    Vfio(#[from] VfioError),
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
        /// Where in the file (`[0].groups\[1\].grouped_workqueues\[0\].size`).
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
    /// DMA memory could not be obtained, mapped for the device, carved or accessed.
    #[error("DMA memory: {0}")]
    Dma(#[from] DmaError),
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
    /// vfio-pci refused the function: its id is on vfio-pci's denylist and the module was
    /// loaded without `disable_denylist=1` (docs/hardware.md, "vfio-pci denylist").
    #[error("{bdf} ({vendor:04x}:{device:04x}) is on vfio-pci's denylist, so vfio-pci refuses it: \
        reload vfio-pci with disable_denylist=1 (`modprobe -r vfio-pci; modprobe vfio-pci disable_denylist=1`, \
        or vfio_pci.disable_denylist=1 on the kernel command line; {param} reads {value}). \
        The part is denylisted because of an erratum that makes direct submission by an untrusted \
        user unsafe (Intel advisory INTEL-SA-01084): a vfio-pci user owns the whole device, so only \
        lift the denylist for users you trust with it")]
    VfioDenylisted {
        /// The address.
        bdf: String,
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
        /// The module parameter's file.
        param: String,
        /// What it reads (`N`).
        value: String,
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

/// Why opening a device through VFIO failed, short of an ioctl error.
#[derive(Debug, thiserror::Error)]
pub enum VfioError {
    /// The PCI function has no `iommu_group` link: the IOMMU is off.
    #[error("{bdf} has no IOMMU group ({} missing): enable the IOMMU (intel_iommu=on)", path.display())]
    NoIommuGroup {
        /// The address.
        bdf: String,
        /// The sysfs link looked for.
        path: PathBuf,
    },
    /// The container speaks another VFIO API version.
    #[error("{}: API version {got}, expected {expected}", path.display())]
    ApiVersion {
        /// The container (`/dev/vfio/vfio`).
        path: PathBuf,
        /// What VFIO_GET_API_VERSION answered.
        got: i32,
        /// The version this driver speaks.
        expected: u32,
    },
    /// The container lacks the IOMMU type this driver needs.
    #[error("{}: the {iommu} IOMMU is not available", path.display())]
    NoIommuType {
        /// The container.
        path: PathBuf,
        /// The IOMMU type asked for (`Type1v2`).
        iommu: &'static str,
    },
    /// The VFIO_IOMMU_GET_INFO answer could not be decoded.
    #[error("{}: VFIO_IOMMU_GET_INFO: {source}", path.display())]
    IommuInfo {
        /// The container.
        path: PathBuf,
        /// What is wrong with the answer.
        #[source]
        source: IommuInfoError,
    },
    /// VFIO does not present the function as a PCI device with a config region.
    #[error("{bdf}: not a PCI device to VFIO (flags {flags:#x}, {regions} regions)")]
    NotPci {
        /// The address.
        bdf: String,
        /// VFIO_DEVICE_GET_INFO's flags.
        flags: u32,
        /// How many regions it reports.
        regions: u32,
    },
    /// A BAR that cannot be mapped into the process.
    #[error("{bdf}: BAR{bar} cannot be mapped (flags {flags:#x}, size {size:#x})")]
    BarNotMappable {
        /// The address.
        bdf: String,
        /// The BAR number.
        bar: u8,
        /// The region's flags.
        flags: u32,
        /// The region's size.
        size: u64,
    },
    /// A region larger than the address space.
    #[error("{region} of {size:#x} bytes too large")]
    RegionTooLarge {
        /// The region (`BAR0`).
        region: String,
        /// Its size.
        size: u64,
    },
    /// The function reports no MSI-X vectors.
    #[error("{bdf}: no MSI-X vectors")]
    NoMsix {
        /// The address.
        bdf: String,
    },
    /// An eventfd for an MSI-X vector could not be created.
    #[error("{bdf}: eventfd for MSI-X vector {vector}: {source}")]
    Eventfd {
        /// The address.
        bdf: String,
        /// The vector it was for.
        vector: u32,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with a VFIO_IOMMU_GET_INFO answer
/// ([`parse_iommu_info`](crate::backing::vfio::parse_iommu_info)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IommuInfoError {
    /// Shorter than the fixed structure.
    #[error("answer of {len} bytes, shorter than vfio_iommu_type1_info")]
    Short {
        /// The answer's length.
        len: usize,
    },
    /// The capability chain loops or is implausibly long.
    #[error("capability chain does not end (more than {hops} capabilities)")]
    ChainDoesNotEnd {
        /// Capabilities followed before giving up.
        hops: usize,
    },
    /// A capability offset into the fixed header or not 4-byte aligned.
    #[error("capability at offset {off} is inside the header or misaligned")]
    BadCapabilityOffset {
        /// The offset.
        off: usize,
    },
    /// A capability header past the end of the answer.
    #[error("capability header at {off} beyond the {len}-byte answer")]
    CapabilityBeyond {
        /// The capability's offset.
        off: usize,
        /// The answer's length.
        len: usize,
    },
    /// An IOVA-range capability too short for its count.
    #[error("IOVA-range capability at {off} truncated")]
    RangesTruncated {
        /// The capability's offset.
        off: usize,
    },
    /// An IOVA range past the end of the answer.
    #[error("IOVA range {index} of {count} beyond the {len}-byte answer")]
    RangeBeyond {
        /// Which range.
        index: usize,
        /// How many the capability claims.
        count: usize,
        /// The answer's length.
        len: usize,
    },
}

/// A DMA region or a buffer carved from one (for [`DmaError::OutOfBounds`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaObject {
    /// A [`DmaRegion`](crate::DmaRegion).
    Region,
    /// A [`DmaBuf`](crate::DmaBuf).
    Buffer,
}

impl std::fmt::Display for DmaObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DmaObject::Region => "region",
            DmaObject::Buffer => "buffer",
        })
    }
}

/// Why DMA memory could not be obtained, mapped for the device, carved or accessed.
#[derive(Debug, thiserror::Error)]
pub enum DmaError {
    /// The process memory itself could not be mapped.
    #[error("cannot map {len} bytes{}: {source}", if *hugetlb { " of 2 MiB huge pages" } else { "" })]
    MapFailed {
        /// Bytes asked for (rounded up to pages).
        len: usize,
        /// Whether 2 MiB huge pages were asked for.
        hugetlb: bool,
        /// What mmap said.
        #[source]
        source: std::io::Error,
    },
    /// mmap answered with a null address.
    #[error("null mapping of {len} bytes")]
    NullMapping {
        /// The mapping's length.
        len: usize,
    },
    /// A copy or access outside a region or a buffer.
    #[error("access {off}+{len} outside a {object} of {size} bytes")]
    OutOfBounds {
        /// Region or buffer.
        object: DmaObject,
        /// Where the access starts.
        off: usize,
        /// Its length.
        len: usize,
        /// The region's or buffer's length.
        size: usize,
    },
    /// An allocation of zero bytes or with an alignment that is not a power of two.
    #[error("bad allocation: {len} bytes aligned to {align}")]
    BadAllocation {
        /// Bytes asked for.
        len: usize,
        /// Alignment asked for.
        align: usize,
    },
    /// No free range of the pool is large enough.
    #[error("pool exhausted: {wanted} bytes wanted, {free} free")]
    PoolExhausted {
        /// Bytes asked for (rounded up to 64-byte granules).
        wanted: usize,
        /// Bytes free in all (possibly fragmented).
        free: usize,
    },
    /// A backing asked to map a null address or zero bytes.
    #[error("{backing}: cannot map {len} bytes at {addr:#x}")]
    BadMapRequest {
        /// The backing (`vfio:0000:6a:01.0`).
        backing: String,
        /// The host address given.
        addr: usize,
        /// The length given.
        len: usize,
    },
    /// A mapping whose page-rounded length overflows.
    #[error("{backing}: length {len:#x} at {addr:#x} overflows")]
    LengthOverflow {
        /// The backing.
        backing: String,
        /// The host address given.
        addr: usize,
        /// The length given.
        len: usize,
    },
    /// The IOVA allocator refused (space exhausted, or a free of something not allocated).
    #[error("{backing}: {source}")]
    Iova {
        /// The backing.
        backing: String,
        /// What the allocator said.
        #[source]
        source: crate::iova::IovaError,
    },
    /// Unmapping a device address that no mapping handed out.
    #[error("{backing}: {dev_addr:#x} is not a mapped DMA address")]
    NotMapped {
        /// The backing.
        backing: String,
        /// The device address given.
        dev_addr: u64,
    },
    /// Unmapping with another length than the mapping's.
    #[error("{backing}: {dev_addr:#x} was mapped with {mapped:#x} bytes, not {len:#x}")]
    LengthMismatch {
        /// The backing.
        backing: String,
        /// The device address given.
        dev_addr: u64,
        /// The length it was mapped with.
        mapped: usize,
        /// The length given.
        len: usize,
    },
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
