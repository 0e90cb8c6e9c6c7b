//! The engine's error: exactly what an IAA completion record can say about a failed job.

use idxd_hw::{AnalyticsError, IaaStatus};

/// Why a compress or decompress job failed, in completion-record terms.
///
/// Each variant maps to one record status ([`EngineError::status`]) and, for analytics errors,
/// one error code ([`EngineError::error_code`]). `produced` is the number of output bytes the
/// job had written when it stopped (the record's output size; 0 where nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EngineError {
    /// Status 0x0a, analytics error: the detail is the record's error code.
    #[error("analytics error: {code} after {produced} output bytes")]
    Analytics {
        /// The error code.
        code: AnalyticsError,
        /// Output bytes written before the error.
        produced: usize,
    },
    /// Status 0x0b: decompressed output does not fit in `max_dst_size`. Recoverable: the same
    /// job resubmitted with a larger destination succeeds. `produced` bytes (all of the
    /// destination) were written.
    #[error("output buffer overflow after {produced} bytes (recoverable)")]
    OutputOverflow {
        /// Output bytes written (the destination is full).
        produced: usize,
    },
    /// Status 0x30: the operation flags have undefined bits set or lack a required bit.
    #[error("invalid operation flags {flags:#06x}")]
    InvalidFlags {
        /// The flags word as given.
        flags: u16,
    },
}

impl EngineError {
    /// An analytics error with no output.
    pub(crate) const fn analytics(code: AnalyticsError) -> Self {
        EngineError::Analytics { code, produced: 0 }
    }

    /// The completion record's status.
    pub const fn status(&self) -> IaaStatus {
        match self {
            EngineError::Analytics { .. } => IaaStatus::AnalyticsError,
            EngineError::OutputOverflow { .. } => IaaStatus::OutbufOverflow,
            EngineError::InvalidFlags { .. } => IaaStatus::InvalidCompFlag,
        }
    }

    /// The completion record's error-code byte: the analytics error code for status 0x0a,
    /// 0 otherwise.
    pub const fn error_code(&self) -> u8 {
        match self {
            EngineError::Analytics { code, .. } => code.code(),
            _ => 0,
        }
    }

    /// The analytics error, for status 0x0a.
    pub const fn analytics_error(&self) -> Option<AnalyticsError> {
        match self {
            EngineError::Analytics { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Output bytes written before the job stopped.
    pub const fn produced(&self) -> usize {
        match self {
            EngineError::Analytics { produced, .. } | EngineError::OutputOverflow { produced } => *produced,
            EngineError::InvalidFlags { .. } => 0,
        }
    }

    /// Whether resubmitting the same job with a larger destination can succeed (status 0x0b).
    pub const fn is_recoverable(&self) -> bool {
        matches!(self, EngineError::OutputOverflow { .. })
    }

    /// This error with the output count replaced.
    pub(crate) const fn with_produced(self, n: usize) -> Self {
        match self {
            EngineError::Analytics { code, .. } => EngineError::Analytics { code, produced: n },
            EngineError::OutputOverflow { .. } => EngineError::OutputOverflow { produced: n },
            e @ EngineError::InvalidFlags { .. } => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_mapping() {
        let e = EngineError::analytics(AnalyticsError::DistanceTooFar);
        assert_eq!(e.status(), IaaStatus::AnalyticsError);
        assert_eq!(e.status().code(), 0x0a);
        assert_eq!(e.error_code(), 17);
        assert_eq!(e.analytics_error(), Some(AnalyticsError::DistanceTooFar));
        assert!(!e.is_recoverable());
        let o = EngineError::OutputOverflow { produced: 4096 };
        assert_eq!(o.status().code(), 0x0b);
        assert_eq!(o.error_code(), 0);
        assert_eq!(o.produced(), 4096);
        assert!(o.is_recoverable());
        let f = EngineError::InvalidFlags { flags: 0x100 };
        assert_eq!(f.status().code(), 0x30);
        assert_eq!(e.with_produced(5).produced(), 5);
        assert!(format!("{e}").contains("distance beyond"));
    }
}
