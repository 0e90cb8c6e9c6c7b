//! The asynchronous store's queue is part of the cache: read-your-writes for queued folios,
//! invalidations and newer stores cancel queued pages, and a queued store re-checks the pool
//! limits when it runs.
//!
//! The queue is held deterministically: one worker, blocked in the callback of a first folio
//! until the test releases it, so everything submitted meanwhile waits in the queue.

use idxd_testutil as common;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use common::{random_page, software, PAGE};
use idxd_zswap::{
    AsyncStore, Dispatch, PageSource, RejectReason, StoreOutcome, Zswap, ZswapConfig, ZswapError,
};

const WAIT: Duration = Duration::from_secs(10);

fn text(seed: u8) -> Vec<u8> {
    (0..PAGE)
        .map(|i| b"abcdefgh"[(i / 7 + seed as usize) % 8] ^ seed)
        .collect()
}

fn cfg() -> ZswapConfig {
    ZswapConfig {
        swap_slots: 4096,
        shrinker_enabled: false,
        ..Default::default()
    }
}

/// An async store whose only worker is blocked; `release` unblocks it. Outcomes arrive on
/// `outcomes` (the blocker's at offset 4000 included).
struct Held {
    store: AsyncStore,
    release: Sender<()>,
    tx: Sender<(u64, StoreOutcome)>,
    outcomes: Receiver<(u64, StoreOutcome)>,
}

fn held(z: &Arc<Zswap>) -> Held {
    let store = AsyncStore::new(Arc::clone(z), 1, 16).unwrap();
    let (tx, outcomes) = mpsc::channel();
    let (release, wait) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel();
    let t = tx.clone();
    let d = store
        .submit(
            4000,
            text(99),
            Box::new(move |off, _, o| {
                entered_tx.send(()).unwrap();
                // Bounded: a test that forgets to release fails instead of hanging.
                wait.recv_timeout(WAIT).expect("released");
                t.send((off, o)).unwrap();
            }),
        )
        .unwrap();
    assert_eq!(d, Dispatch::Queued);
    entered
        .recv_timeout(WAIT)
        .expect("the worker took the first folio");
    Held {
        store,
        release,
        tx,
        outcomes,
    }
}

impl Held {
    fn submit(&self, offset: u64, folio: Vec<u8>) {
        let tx = self.tx.clone();
        let d = self
            .store
            .submit(
                offset,
                folio,
                Box::new(move |off, _, o| tx.send((off, o)).unwrap()),
            )
            .unwrap();
        assert_eq!(d, Dispatch::Queued, "held in the queue");
    }

    /// Releases the worker, waits for every store; outcomes sorted by offset.
    fn finish(self) -> Vec<(u64, StoreOutcome)> {
        self.release.send(()).unwrap();
        self.store.finish();
        drop(self.tx);
        let mut v: Vec<_> = self.outcomes.iter().collect();
        v.sort_by_key(|(o, _)| *o);
        v
    }
}

#[test]
fn loads_find_queued_pages() {
    let z = Arc::new(Zswap::new(software("lz4"), cfg(), Some(tempfile::tempfile().unwrap())).unwrap());
    // Old data: offset 5 in the swap file, offset 6 in the pool.
    z.set_enabled(false);
    assert_eq!(
        z.swap_out(5, &random_page(1)).unwrap(),
        StoreOutcome::SwappedOut(RejectReason::Disabled)
    );
    z.set_enabled(true);
    z.store(6, &text(1)).unwrap();

    let h = held(&z);
    let (a, b) = (text(2), text(3));
    h.submit(5, [a.clone(), b.clone()].concat());
    h.submit(20, [text(4), text(5)].concat());
    assert_eq!(h.store.queued(), 2);
    assert!(z.contains(5) && z.contains(21));

    // Read-your-writes: the queued pages, not the swap file's or the pool's older ones.
    let mut page = vec![0u8; PAGE];
    assert_eq!(z.swap_in(5, &mut page).unwrap(), PageSource::Zswap);
    assert_eq!(page, a);
    z.load(6, &mut page).unwrap();
    assert_eq!(page, b);
    // Loads are exclusive: the page left the queued folio, the stale entry is gone too.
    assert!(matches!(z.load(6, &mut page), Err(ZswapError::NotFound(6))));
    assert!(!z.contains(5));
    z.load(20, &mut page).unwrap();
    assert_eq!(page, text(4));

    let out = h.finish();
    assert_eq!(
        out,
        vec![
            (5, StoreOutcome::Superseded),
            (20, StoreOutcome::Stored),
            (4000, StoreOutcome::Stored)
        ]
    );
    // Of the folio at 20 only the page not loaded was stored.
    assert!(!z.contains(20) && !z.contains(5) && !z.contains(6));
    z.load(21, &mut page).unwrap();
    assert_eq!(page, text(5));
    assert_eq!(z.stats().stored_pages, 1, "the blocker's page only");
}

#[test]
fn invalidations_and_newer_stores_cancel_queued_pages() {
    let z = Arc::new(Zswap::new(software("lz4"), cfg(), Some(tempfile::tempfile().unwrap())).unwrap());
    let h = held(&z);
    // An invalidate that arrives before the queued store lands.
    h.submit(7, text(7));
    assert!(z.invalidate(7), "the queued page counts as an entry");
    assert!(!z.contains(7));
    // A newer synchronous store of a queued offset wins over the queued one.
    h.submit(30, [text(30), text(31)].concat());
    z.store(31, &text(32)).unwrap();
    // A newer queued store too.
    h.submit(40, text(40));
    h.submit(40, text(41));
    let out = h.finish();
    assert_eq!(
        out,
        vec![
            (7, StoreOutcome::Superseded),
            (30, StoreOutcome::Stored),
            (40, StoreOutcome::Superseded),
            (40, StoreOutcome::Stored),
            (4000, StoreOutcome::Stored)
        ]
    );
    assert!(!z.contains(7), "the invalidated page was not stored");
    let mut page = vec![0u8; PAGE];
    for (off, want) in [(30, text(30)), (31, text(32)), (40, text(41))] {
        z.load(off, &mut page).unwrap();
        assert_eq!(page, want, "offset {off}");
    }
    assert_eq!(z.stats().stored_pages, 1);
}

#[test]
fn queued_stores_recheck_the_pool_limit() {
    let z = Arc::new(Zswap::new(software("lz4"), cfg(), Some(tempfile::tempfile().unwrap())).unwrap());
    let h = held(&z);
    h.submit(50, [text(50), text(51)].concat());
    // The limit drops to nothing while the folio waits.
    z.set_max_pool_percent(0).unwrap();
    let out = h.finish();
    assert_eq!(
        out,
        vec![
            (50, StoreOutcome::SwappedOut(RejectReason::PoolLimit)),
            (4000, StoreOutcome::Stored)
        ]
    );
    let s = z.stats();
    assert_eq!((s.pool_limit_hit, s.stored_pages), (1, 1));
    // The refused folio went to the swap file.
    let mut page = vec![0u8; PAGE];
    assert_eq!(z.swap_in(51, &mut page).unwrap(), PageSource::SwapFile);
    assert_eq!(page, text(51));

    // Without a swap file the caller is told to keep it, and nothing is left behind.
    let z = Arc::new(Zswap::new(software("lz4"), cfg(), None).unwrap());
    let h = held(&z);
    h.submit(60, text(60));
    z.set_enabled(false);
    let out = h.finish();
    assert_eq!(out[0], (60, StoreOutcome::Rejected(RejectReason::Disabled)));
    assert!(!z.contains(60));
}
