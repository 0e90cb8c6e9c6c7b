//! Counters against hand-computed values on crafted workloads (lz4, no faults).
//!
//! Pool arithmetic (zsmalloc model): a zero page compresses to a few dozen bytes; with the
//! 8-byte handle it lands in a small class whose zspage of P0 pages holds N objects (lz4: 32 or
//! 48 bytes, N = 128 or 256, P0 = 1 or 3), so N zero pages hold exactly P0 pool pages. A random
//! page is stored raw: one page each.

use idxd_testutil as common;

use common::{random_page, software, PAGE};
use idxd_zsmalloc::SizeClasses;
use idxd_zswap::{PageSource, RejectReason, Zswap, ZswapConfig, ZswapError, ZswapStats};

fn zeros(n: usize) -> Vec<u8> {
    vec![0u8; n * PAGE]
}

fn randoms(seed: u64, n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| random_page(seed + i as u64)).collect()
}

/// The class a zero page lands in with this runtime: (compressed length, objects per zspage,
/// pages per zspage).
fn zero_page_class(z: &Zswap) -> (usize, u64, u64) {
    z.store(4000, &zeros(1)).unwrap();
    let len = z.entry_len(4000).unwrap();
    assert!(z.invalidate(4000));
    let c = SizeClasses::new().class_for_alloc(len);
    (len, c.objs_per_zspage as u64, c.pages_per_zspage as u64)
}

#[test]
fn writeback_limit_hysteresis_and_shrink() {
    // 100 pages of "RAM": max_pages = 100 * 20 / 100 = 20, accept threshold = 20 * 90 / 100 = 18.
    let cfg = ZswapConfig {
        memory_bytes: 100 * PAGE as u64,
        shrinker_enabled: false,
        swap_slots: 4096,
        ..Default::default()
    };
    let z = Zswap::new(software("lz4"), cfg, Some(tempfile::tempfile().unwrap())).unwrap();
    assert_eq!((z.max_pages(), z.accept_thr_pages()), (20, 18));
    // N zero pages fill exactly one zspage of P0 pages (lz4: 1 page of 128 32-byte objects, or
    // 3 pages of 256 48-byte objects, depending on the encoder's few bytes).
    let (zl, n, p0) = zero_page_class(&z);
    println!("zero page: {zl} bytes, N = {n} per zspage of {p0} pages");
    assert!(p0 < 18);
    let mut o = 0;
    while o < n {
        let k = (n - o).min(8);
        z.store(o, &zeros(k as usize)).unwrap();
        o += k;
    }
    // M = 20 - P0 incompressible pages in one folio: stored raw, one page each.
    let m = 20 - p0;
    let raw = randoms(1, m as usize);
    z.store(1000, &raw).unwrap();
    assert_eq!(z.entry_len(1000), Some(PAGE));
    let expect = ZswapStats {
        stored_pages: n + m,
        stored_incompressible_pages: m,
        pool_total_size: 20 * PAGE as u64,
        ..Default::default()
    };
    assert_eq!(z.stats(), expect);

    // At the limit: refused, pool_limit_hit counts each refusal at the limit.
    assert!(matches!(
        z.store(3000, &zeros(1)),
        Err(ZswapError::Rejected(RejectReason::PoolLimit))
    ));
    assert!(matches!(
        z.store(3000, &zeros(1)),
        Err(ZswapError::Rejected(RejectReason::PoolLimit))
    ));
    assert_eq!(z.stats().pool_limit_hit, 2);

    // 19 pages: below the limit but above the accept threshold: still refused, not counted.
    assert!(z.invalidate(1000));
    assert!(matches!(
        z.store(3000, &zeros(1)),
        Err(ZswapError::Rejected(RejectReason::PoolLimit))
    ));
    assert_eq!(z.stats().pool_limit_hit, 2);
    assert_eq!(z.stats().stored_pages, n + m - 1);

    // The shrinker: a first pass clears every referenced bit (N + M - 1 rotations), then the
    // oldest (the N zero pages) go to the swap file; their zspage is freed with the last one:
    // 19 -> 19 - P0 pages, at or below the threshold.
    let r = z.shrink();
    assert_eq!((r.rotated, r.written_back, r.failed), (n + m - 1, n, 0));
    let expect = ZswapStats {
        pool_limit_hit: 2,
        written_back_pages: n,
        stored_pages: m - 1,
        stored_incompressible_pages: m - 1,
        pool_total_size: (19 - p0) * PAGE as u64,
        ..Default::default()
    };
    assert_eq!(z.stats(), expect);

    // At or below the threshold the pool accepts again.
    z.store(3000, &zeros(1)).unwrap();
    assert_eq!(z.stats().pool_total_size, (19 - p0 + p0) * PAGE as u64);

    // Written-back pages come from the swap file, the rest from zswap (exclusively).
    let mut page = vec![0u8; PAGE];
    assert_eq!(z.swap_in(5, &mut page).unwrap(), PageSource::SwapFile);
    assert!(page.iter().all(|&b| b == 0));
    assert_eq!(z.swap_in(1001, &mut page).unwrap(), PageSource::Zswap);
    assert_eq!(page, raw[PAGE..2 * PAGE]);
    assert!(matches!(z.load(1001, &mut page), Err(ZswapError::NotFound(1001))));
    let s = z.stats();
    assert_eq!((s.stored_pages, s.stored_incompressible_pages), (m - 1, m - 2));
    let text = s.to_string();
    assert!(text.contains(&format!("\nwritten_back_pages {n}\n")), "{text}");
    assert!(text.starts_with("pool_limit_hit 2\n"), "{text}");
}

#[test]
fn without_writeback_poor_pages_are_rejected() {
    let cfg = ZswapConfig {
        swap_slots: 4096,
        ..Default::default()
    };
    let z = Zswap::new(software("lz4"), cfg, None).unwrap();
    let (_, _, p0) = zero_page_class(&z);
    // N = 16 zero pages, one by one: one zspage.
    for o in 0..16 {
        z.store(o, &zeros(1)).unwrap();
    }
    // M = 5 random pages: each refused as compress_poor.
    for i in 0..5u64 {
        let e = z.store(100 + i, &random_page(i)).unwrap_err();
        assert!(matches!(e, ZswapError::Rejected(RejectReason::CompressPoor)));
        assert_eq!(e.errno(), 28);
    }
    // A folio of 3 zero pages and one random page over entries stored before: all or nothing,
    // the stale entries at its offsets are dropped too.
    z.store(200, &zeros(4)).unwrap();
    let mut folio = zeros(3);
    folio.extend(random_page(77));
    assert!(z.store(200, &folio).is_err());
    for o in 200..204 {
        assert!(!z.contains(o));
    }
    // Disabled: refused without a counter.
    z.set_enabled(false);
    assert!(matches!(
        z.store(300, &zeros(1)),
        Err(ZswapError::Rejected(RejectReason::Disabled))
    ));
    z.set_enabled(true);
    let expect = ZswapStats {
        reject_compress_poor: 6,
        stored_pages: 16,
        pool_total_size: p0 * PAGE as u64,
        ..Default::default()
    };
    assert_eq!(z.stats(), expect);
    assert!(z.params().to_string().contains("compressor lz4\n"));
}

#[test]
fn allocation_failure_inside_a_folio() {
    // 5 pages of "RAM", 100% of it for the pool: the limit check passes on an empty pool, the
    // sixth raw page of a 9-page folio cannot be allocated.
    let cfg = ZswapConfig {
        memory_bytes: 5 * PAGE as u64,
        max_pool_percent: 100,
        shrinker_enabled: false,
        swap_slots: 64,
        ..Default::default()
    };
    let z = Zswap::new(software("lz4"), cfg, Some(tempfile::tempfile().unwrap())).unwrap();
    let folio = randoms(9, 9);
    let out = z.swap_out(0, &folio).unwrap();
    assert_eq!(out, idxd_zswap::StoreOutcome::SwappedOut(RejectReason::AllocFail));
    let expect = ZswapStats {
        reject_alloc_fail: 1,
        ..Default::default()
    };
    assert_eq!(z.stats(), expect);
    let mut page = vec![0u8; PAGE];
    assert_eq!(z.swap_in(8, &mut page).unwrap(), PageSource::SwapFile);
    assert_eq!(page, folio[8 * PAGE..]);
}

#[test]
fn bad_input_is_an_error() {
    let z = Zswap::new(
        software("lz4"),
        ZswapConfig {
            swap_slots: 16,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert!(matches!(z.store(0, &[]), Err(ZswapError::InvalidLength { .. })));
    assert!(matches!(
        z.store(0, &[0u8; 100]),
        Err(ZswapError::InvalidLength { .. })
    ));
    assert!(matches!(
        z.store(0, &zeros(513)),
        Err(ZswapError::InvalidLength { .. })
    ));
    assert!(matches!(
        z.store(15, &zeros(2)),
        Err(ZswapError::OutOfRange { .. })
    ));
    assert!(matches!(
        z.store(u64::MAX, &zeros(1)),
        Err(ZswapError::OutOfRange { .. })
    ));
    let mut small = [0u8; 10];
    assert!(matches!(
        z.load(0, &mut small),
        Err(ZswapError::InvalidLength { .. })
    ));
    let mut page = vec![0u8; PAGE];
    assert!(matches!(
        z.load(99, &mut page),
        Err(ZswapError::OutOfRange { .. })
    ));
    assert!(matches!(z.swap_in(3, &mut page), Err(ZswapError::NotFound(3))));
    assert!(!z.invalidate(u64::MAX));
    assert!(z.set_max_pool_percent(101).is_err());
    assert!(Zswap::new(
        software("lz4"),
        ZswapConfig {
            batch_size: 0,
            ..Default::default()
        },
        None
    )
    .is_err());
}
