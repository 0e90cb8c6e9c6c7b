//! `idxd-runtime`: the batching offload runtime.
//!
//! One API for compressing and decompressing many buffers at once, with one result per request
//! (the output length, or an [`OffloadError`] of one type shared by every backend), whether an
//! IAA (real or emulated) or a software codec does the work. Per-thread [`Context`]s own their
//! descriptors, completion records, AECS and staging buffers and take any lock once per batch.
//! DSA-backed operations (copy, fill, compare, CRC32C, same-filled page detection) go through
//! the same contexts. An asynchronous mode ([`AsyncCompressor`]) serves a bounded queue with
//! worker threads and completes by callback.
//!
//! ```
//! use idxd_runtime::{Algorithm, RuntimeBuilder};
//!
//! let rt = RuntimeBuilder::new().algorithm(Algorithm::Lz4).build().unwrap();
//! let mut ctx = rt.context();
//! let page = vec![7u8; 4096];
//! let mut out = vec![0u8; 4096];
//! let r = ctx.compress(&[&page[..]], &mut [&mut out[..]]);
//! let n = *r[0].as_ref().unwrap();
//! let mut back = vec![0u8; 4096];
//! let d = ctx.decompress(&[&out[..n]], &mut [&mut back[..]]);
//! assert_eq!(d[0], Ok(4096));
//! assert_eq!(back, page);
//! ```

pub mod algorithm;
pub mod async_queue;
pub mod builder;
pub mod codec;
pub mod context;
pub mod context_pool;
pub mod corpus;
pub mod dsa;
pub mod error;
pub mod iaa;
pub mod software;
pub mod stats;

pub use algorithm::Algorithm;
pub use async_queue::{AsyncCompressor, Callback};
pub use builder::{DeviceHealth, Runtime, RuntimeBuilder};
pub use codec::{Codec, Job};
pub use context::Context;
pub use context_pool::{ContextPool, PooledContext};
pub use dsa::{DsaContext, DsaOutput, DsaRequest};
pub use error::{ErrorKind, OffloadError, RuntimeError};
pub use iaa::IaaMode;
pub use idxd_driver::{DeviceSpec, OpenDevice};
pub use stats::{CodecSnapshot, StatsSnapshot};
