//! What compresses: a device's deflate or a software codec, by name (`deflate-iaa`, `zstd-3`).

use std::str::FromStr;

use crate::error::RuntimeError;
use crate::iaa::IaaMode;

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
        let bad = || RuntimeError::UnknownAlgorithm(s.to_string());
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
        .and_then(Algorithm::checked)
    }
}

impl Algorithm {
    /// The algorithm if its level is one the library accepts: deflate 1..=9, zstd within
    /// zstd's own range (negative levels are zstd's fast modes).
    pub fn checked(self) -> Result<Self, RuntimeError> {
        let range = |lo: i64, hi: i64, level: i64, name: &'static str| {
            if (lo..=hi).contains(&level) {
                Ok(self)
            } else {
                Err(RuntimeError::BadLevel {
                    algorithm: name,
                    level,
                    min: lo,
                    max: hi,
                })
            }
        };
        match self {
            Algorithm::Deflate { level } => range(1, 9, level as i64, "deflate"),
            Algorithm::Zstd { level } => {
                let r = zstd::compression_level_range();
                range(*r.start() as i64, *r.end() as i64, level as i64, "zstd")
            }
            _ => Ok(self),
        }
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
