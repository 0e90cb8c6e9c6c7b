//! Corpus round trips from several threads with the emulated IAA injecting faults: every page
//! comes back bit-identical (by hash), from zswap or from the swap file, nothing lost.

use idxd_testutil as common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use common::{corpus, faulty_iaa, hash, PAGE};
use idxd_zswap::{AsyncStore, Dispatch, PageSource, StoreOutcome, Zswap, ZswapConfig, ZswapError};

const THREADS: usize = 4;

/// The runtime saw injected faults (errors it reported, or requests it redid in software).
fn assert_faults_seen(z: &Zswap) {
    let rs = z.runtime().stats();
    println!("runtime: {rs:?}");
    assert!(
        common::faults_seen(&rs) > 0,
        "no injected fault reached the runtime"
    );
}

/// Reads a page back, retrying a load the runtime could not decompress (the entry is kept).
fn swap_in_retry(z: &Zswap, offset: u64, page: &mut [u8], io_errors: &AtomicU64) -> PageSource {
    for _ in 0..8 {
        match z.swap_in(offset, page) {
            Ok(src) => return src,
            Err(ZswapError::Io { .. }) => {
                io_errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => panic!("swap_in({offset}): {e}"),
        }
    }
    panic!("swap_in({offset}) kept failing");
}

#[test]
fn corpus_roundtrip_threads_with_faults_and_writeback() {
    let t0 = Instant::now();
    let pages = Arc::new(corpus(THREADS * 384));
    let swap = tempfile::tempfile().unwrap();
    let cfg = ZswapConfig {
        // Small enough that the limit is hit and the background shrinker writes back.
        memory_bytes: 10 * 1024 * 1024,
        max_pool_percent: 20,
        swap_slots: 1 << 16,
        ..Default::default()
    };
    let z = Arc::new(Zswap::new(faulty_iaa(7), cfg, Some(swap)).unwrap());
    let io_errors = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let z = Arc::clone(&z);
            let pages = Arc::clone(&pages);
            let io_errors = Arc::clone(&io_errors);
            std::thread::spawn(move || {
                let mine: Vec<&Vec<u8>> = pages.iter().skip(t).step_by(THREADS).collect();
                let base = (t as u64) * 10_000;
                let sizes = [1usize, 4, 16, 3, 8, 32];
                let (mut i, mut k) = (0, 0);
                let mut outcomes = [0u64; 2];
                while i < mine.len() {
                    let n = sizes[k % sizes.len()].min(mine.len() - i);
                    k += 1;
                    let folio: Vec<u8> = mine[i..i + n].iter().flat_map(|p| p.iter().copied()).collect();
                    match z.swap_out(base + i as u64, &folio).unwrap() {
                        StoreOutcome::Stored => outcomes[0] += 1,
                        StoreOutcome::SwappedOut(_) => outcomes[1] += 1,
                        o => panic!("unexpected outcome {o:?}"),
                    }
                    i += n;
                }
                // Read every other page back now, the rest after all threads are done.
                let mut page = vec![0u8; PAGE];
                for (j, p) in mine.iter().enumerate().filter(|(j, _)| j % 2 == 0) {
                    swap_in_retry(&z, base + j as u64, &mut page, &io_errors);
                    assert_eq!(hash(&page), hash(p), "thread {t} page {j}");
                }
                outcomes
            })
        })
        .collect();
    let mut totals = [0u64; 2];
    for h in handles {
        let o = h.join().unwrap();
        totals[0] += o[0];
        totals[1] += o[1];
    }
    z.writeback(64);
    let mut page = vec![0u8; PAGE];
    let mut from = [0u64; 2];
    for t in 0..THREADS {
        let mine: Vec<&Vec<u8>> = pages.iter().skip(t).step_by(THREADS).collect();
        for (j, p) in mine.iter().enumerate().filter(|(j, _)| j % 2 == 1) {
            let src = swap_in_retry(&z, (t as u64) * 10_000 + j as u64, &mut page, &io_errors);
            from[(src == PageSource::SwapFile) as usize] += 1;
            assert_eq!(hash(&page), hash(p), "thread {t} page {j}");
        }
    }
    let s = z.stats();
    println!(
        "folios stored {} swapped out {}; second half from zswap {} swap file {}; load retries {}; {:?}\n{s}",
        totals[0],
        totals[1],
        from[0],
        from[1],
        io_errors.load(Ordering::Relaxed),
        t0.elapsed()
    );
    assert_faults_seen(&z);
    assert_eq!(s.stored_pages, 0, "every entry was loaded");
    assert_eq!(s.pool_total_size, 0);
    assert!(s.written_back_pages > 0, "the limit must have forced writeback");
}

#[test]
fn faults_without_writeback_reject_whole_folios_never_corrupt() {
    let pages = corpus(THREADS * 128);
    let z = Arc::new(
        Zswap::new(
            faulty_iaa(99),
            ZswapConfig {
                swap_slots: 1 << 16,
                ..Default::default()
            },
            None,
        )
        .unwrap(),
    );
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let z = Arc::clone(&z);
            let pages = &pages;
            s.spawn(move || {
                let base = (t as u64) * 1000;
                let mine: Vec<&Vec<u8>> = pages.iter().skip(t).step_by(THREADS).collect();
                let mut kept = Vec::new();
                for (f, chunk) in mine.chunks(4).enumerate() {
                    let off = base + 4 * f as u64;
                    let folio: Vec<u8> = chunk.iter().flat_map(|p| p.iter().copied()).collect();
                    match z.store(off, &folio) {
                        Ok(()) => kept.push((off, chunk.to_vec())),
                        Err(ZswapError::Rejected(_)) => {
                            for i in 0..chunk.len() as u64 {
                                assert!(!z.contains(off + i), "partial folio left behind");
                            }
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                let mut page = vec![0u8; PAGE];
                for (off, chunk) in kept {
                    for (i, p) in chunk.iter().enumerate() {
                        let mut tries = 0;
                        loop {
                            match z.load(off + i as u64, &mut page) {
                                Ok(()) => break,
                                Err(ZswapError::Io { .. }) if tries < 8 => tries += 1,
                                Err(e) => panic!("{e}"),
                            }
                        }
                        assert_eq!(hash(&page), hash(p));
                    }
                }
            });
        }
    });
    let s = z.stats();
    println!("{s}");
    assert_faults_seen(&z);
    assert_eq!(s.stored_pages, 0);
    assert_eq!(
        s.stored_incompressible_pages, 0,
        "no raw entries without writeback"
    );
    assert_eq!(s.written_back_pages, 0);
}

#[test]
fn async_store_roundtrip_with_faults() {
    let pages = Arc::new(corpus(512));
    let swap = tempfile::tempfile().unwrap();
    let cfg = ZswapConfig {
        memory_bytes: 8 * 1024 * 1024,
        swap_slots: 4096,
        ..Default::default()
    };
    let z = Arc::new(Zswap::new(faulty_iaa(3), cfg, Some(swap)).unwrap());
    let store = AsyncStore::new(Arc::clone(&z), 2, 4).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut dispatch = [0u64; 3];
    for (f, chunk) in pages.chunks(8).enumerate() {
        let folio: Vec<u8> = chunk.iter().flat_map(|p| p.iter().copied()).collect();
        let expected = folio.clone();
        let tx = tx.clone();
        let d = store
            .submit(
                8 * f as u64,
                folio,
                Box::new(move |off, back, outcome| {
                    assert_eq!(back, expected, "the folio comes back untouched");
                    tx.send((off, outcome)).unwrap();
                }),
            )
            .unwrap();
        dispatch[match d {
            Dispatch::Queued => 0,
            Dispatch::RejectedNow => 1,
            Dispatch::Synchronous => 2,
        }] += 1;
    }
    store.finish();
    drop(tx);
    let outcomes: Vec<(u64, StoreOutcome)> = rx.iter().collect();
    assert_eq!(outcomes.len(), pages.len() / 8, "one callback per folio");
    for (_, o) in &outcomes {
        assert!(
            matches!(o, StoreOutcome::Stored | StoreOutcome::SwappedOut(_)),
            "{o:?}"
        );
    }
    let mut page = vec![0u8; PAGE];
    let io = AtomicU64::new(0);
    for (i, p) in pages.iter().enumerate() {
        swap_in_retry(&z, i as u64, &mut page, &io);
        assert_eq!(hash(&page), hash(p), "page {i}");
    }
    println!(
        "dispatch queued/rejected-now/synchronous {dispatch:?}\n{}",
        z.stats()
    );
    assert_faults_seen(&z);
    assert!(dispatch[0] > 0);
}
