//! One error type for every backend: what went wrong with one request, the same kind whether a
//! software codec, the emulator or a real device did the work, with the raw status kept.

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The output does not fit in the destination (software "output too small", IAA analytics
    /// error 25 on compress, status 0x0b on decompress): zswap's "compress_poor".
    DoesNotFit,
    /// The input is not a valid stream for this codec.
    Corrupt,
    /// A valid stream this backend cannot handle (e.g. a deflate stream with 32 KiB distances on
    /// IAA, analytics error 17).
    Unsupported,
    /// The device faulted on an address.
    PageFault {
        /// The faulting device address.
        addr: u64,
    },
    /// The device halted; the request was abandoned.
    DeviceHalted,
    /// The device reported an internal (hardware) error for this request.
    DeviceError,
    /// No completion in time (or the device's watchdog fired).
    Timeout,
    /// No room on any queue.
    QueueFull,
    /// The request itself is invalid (empty input, oversize, a status that means a malformed
    /// descriptor).
    InvalidRequest,
}

impl ErrorKind {
    /// The one mapping of a driver error (submission or waiting) to a request's error kind.
    pub fn of_driver(e: &idxd_driver::DriverError) -> ErrorKind {
        use idxd_driver::DriverError as D;
        match e {
            D::QueueFull { .. } => ErrorKind::QueueFull,
            D::Halted { .. } => ErrorKind::DeviceHalted,
            D::Timeout { .. } => ErrorKind::Timeout,
            D::Build(_) => ErrorKind::InvalidRequest,
            D::HealthCheck(inner) => ErrorKind::of_driver(inner),
            _ => ErrorKind::DeviceError,
        }
    }

    /// A short name, used as the statistics key.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::DoesNotFit => "does_not_fit",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::PageFault { .. } => "page_fault",
            ErrorKind::DeviceHalted => "device_halted",
            ErrorKind::DeviceError => "device_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::QueueFull => "queue_full",
            ErrorKind::InvalidRequest => "invalid_request",
        }
    }

    /// Every kind (with a zero address for page faults), for statistics tables.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::DoesNotFit,
        ErrorKind::Corrupt,
        ErrorKind::Unsupported,
        ErrorKind::PageFault { addr: 0 },
        ErrorKind::DeviceHalted,
        ErrorKind::DeviceError,
        ErrorKind::Timeout,
        ErrorKind::QueueFull,
        ErrorKind::InvalidRequest,
    ];

    /// Index into [`ErrorKind::ALL`].
    pub fn index(&self) -> usize {
        match self {
            ErrorKind::DoesNotFit => 0,
            ErrorKind::Corrupt => 1,
            ErrorKind::Unsupported => 2,
            ErrorKind::PageFault { .. } => 3,
            ErrorKind::DeviceHalted => 4,
            ErrorKind::DeviceError => 5,
            ErrorKind::Timeout => 6,
            ErrorKind::QueueFull => 7,
            ErrorKind::InvalidRequest => 8,
        }
    }
}

/// The error of one request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{backend}: {kind:?}{}", raw_suffix(*status, *error_code, detail))]
pub struct OffloadError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The backend that reported it (`deflate-iaa`, `zstd`, ...).
    pub backend: &'static str,
    /// The raw completion status, when a device reported it.
    pub status: Option<u8>,
    /// The raw error code (IAA analytics error), when a device reported it.
    pub error_code: Option<u8>,
    /// More words for diagnosis.
    pub detail: Option<String>,
}

fn raw_suffix(status: Option<u8>, code: Option<u8>, detail: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(st) = status {
        s.push_str(&format!(" (status {st:#04x}"));
        if let Some(c) = code {
            s.push_str(&format!(", error {c}"));
        }
        s.push(')');
    }
    if let Some(d) = detail {
        s.push_str(": ");
        s.push_str(d);
    }
    s
}

impl OffloadError {
    /// An error without device status.
    pub fn new(kind: ErrorKind, backend: &'static str) -> Self {
        OffloadError {
            kind,
            backend,
            status: None,
            error_code: None,
            detail: None,
        }
    }

    /// A driver error, mapped by [`ErrorKind::of_driver`], its message kept as the detail.
    pub fn from_driver(e: &idxd_driver::DriverError, backend: &'static str) -> Self {
        OffloadError::new(ErrorKind::of_driver(e), backend).with_detail(e.to_string())
    }

    /// With a detail message.
    pub fn with_detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// Errors building a runtime (bad configuration, a device that cannot be opened).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An algorithm name the runtime does not know.
    #[error("unknown algorithm `{0}` (deflate-iaa, deflate-iaa-dynamic, deflate[-N], zstd[-N], lz4)")]
    UnknownAlgorithm(String),
    /// A level outside the codec's range.
    #[error("{algorithm} level {level} is outside {min}..={max}")]
    BadLevel {
        /// The codec.
        algorithm: &'static str,
        /// The level given.
        level: i64,
        /// Lowest level.
        min: i64,
        /// Highest level.
        max: i64,
    },
    /// A device of the wrong kind for where it was given.
    #[error("{device} is not {}", if *expected == idxd_hw::pci::DeviceKind::Iaa { "an IAA (deflate-iaa needs one)" } else { "a DSA" })]
    WrongKind {
        /// The device.
        device: String,
        /// The kind needed.
        expected: idxd_hw::pci::DeviceKind,
    },
    /// A device algorithm with no device given, in a build without the emulator.
    #[error("{0} needs a device: none was given, and this build has no emulator (feature `emu`)")]
    NoDevice(crate::Algorithm),
    /// The driver could not open or bring up a device.
    #[error(transparent)]
    Driver(#[from] idxd_driver::DriverError),
}
