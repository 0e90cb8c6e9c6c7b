//! `idxd-zswap`: a zswap-style compressed page cache on the idxd offload runtime.
//!
//! It behaves as the kernel's zswap does (docs/frontends.md, "zswap"):
//!
//! - [`Zswap::store`] takes a folio of 1 to 512 pages at a swap offset and is all or nothing:
//!   pages are compressed in store batches (default 8) through one runtime context, and any
//!   refusal drops every entry at the folio's offsets;
//! - the compressed pages live in a zsmalloc pool ([`idxd_zsmalloc`]): size classes, zspages of
//!   real pages, allocator overhead included in `pool_total_size`; its limit is `max_pool_percent` of `memory_bytes`, with the accept
//!   threshold's hysteresis and `pool_limit_hit`;
//! - pages that do not compress (or fail to) are stored raw when writeback is possible, else
//!   refused with `reject_compress_poor` / `reject_compress_fail`;
//! - [`Zswap::load`] is exclusive, [`Zswap::invalidate`] drops an entry;
//! - writeback sends the oldest entries (second chance for referenced ones) to a swap file,
//!   from [`Zswap::shrink`] or a background shrinker woken by a limit hit;
//! - [`AsyncStore`] queues admitted folios and completes by callback;
//! - [`ZswapStats`] holds every debugfs counter and prints them as `name value` lines.
//!
//! ```
//! use idxd_runtime::{Algorithm, RuntimeBuilder};
//! use idxd_zswap::{Zswap, ZswapConfig};
//!
//! let rt = RuntimeBuilder::new().algorithm(Algorithm::Lz4).build().unwrap();
//! let zswap = Zswap::new(rt, ZswapConfig::default(), None).unwrap();
//! let folio: Vec<u8> = (0..2 * 4096).map(|i| (i % 251) as u8).collect();
//! zswap.store(10, &folio).unwrap();
//! let mut page = vec![0u8; 4096];
//! zswap.load(11, &mut page).unwrap();
//! assert_eq!(page, folio[4096..]);
//! assert_eq!(zswap.stats().stored_pages, 1);
//! assert!(zswap.stats().to_string().contains("stored_pages 1\n"));
//! ```

mod async_store;
mod cache;
pub mod config;
pub mod error;
mod lru;
pub mod stats;
mod writeback;
mod zswap;

pub use async_store::{AsyncStore, Dispatch, StoreCallback};
pub use config::{ZswapConfig, MAX_FOLIO_PAGES};
pub use error::{ConfigError, DecodeError, RejectReason, SwapOp, ZswapError};
pub use stats::{ZswapParams, ZswapStats};
pub use writeback::ShrinkReport;
pub use zswap::{PageSource, StoreOutcome, Zswap};
