//! The pool through its public API: round trips (objects across page boundaries), pages held
//! against hand-computed counts, compaction that moves data and frees pages with handles still
//! valid, errors, and random operation sequences against a `HashMap` model.

use std::collections::HashMap;

use idxd_zsmalloc::{Handle, PoolError, SizeClasses, ZsPool, PAGE_SIZE};
use proptest::prelude::*;

/// Distinct contents for object `seed` (no two objects of one test share their bytes).
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn read(p: &ZsPool, h: Handle) -> Vec<u8> {
    let mut out = vec![0u8; PAGE_SIZE];
    let n = p.read(h, &mut out).unwrap();
    out.truncate(n);
    out
}

const P: u64 = PAGE_SIZE as u64;

#[test]
fn round_trips_across_page_boundaries() {
    // 100 bytes + the 8-byte header = 108 -> the 112-byte class: 7 pages hold 256 objects
    // (7 * 4096 = 28672 = 256 * 112, no waste); object k starts at byte 112 k of the chain, so
    // six of the seven page boundaries fall inside an object (object 36 spans 4032..4144).
    let mut p = ZsPool::new(None);
    let hs: Vec<Handle> = (0..300).map(|i| p.store(&pattern(i, 100)).unwrap()).collect();
    // 300 objects: one full zspage and one with 44: 14 pages.
    assert_eq!(p.total_pages(), 14);
    assert_eq!(p.pages_held(), 14);
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(read(&p, *h), pattern(i as u64, 100), "object {i}");
    }
    // Mixed sizes in one pool: every length from 1 to a page, each read back.
    let mut q = ZsPool::new(None);
    let mixed: Vec<(Handle, Vec<u8>)> = (1..=PAGE_SIZE)
        .step_by(37)
        .map(|len| {
            let d = pattern(len as u64, len);
            (q.store(&d).unwrap(), d)
        })
        .collect();
    for (h, d) in &mixed {
        assert_eq!(&read(&q, *h), d);
    }
}

#[test]
fn frees_give_pages_back() {
    let mut p = ZsPool::new(None);
    // Three raw pages: three one-page zspages. 129 objects of 20 (+8) bytes: the 32-byte class,
    // 128 per page: two pages.
    let raw: Vec<Handle> = (0..3).map(|i| p.store(&pattern(i, PAGE_SIZE)).unwrap()).collect();
    let small: Vec<Handle> = (0..129)
        .map(|i| p.store(&pattern(100 + i, 20)).unwrap())
        .collect();
    assert_eq!(p.total_pages() * P, 5 * P);
    assert_eq!(p.pages_held(), 5);
    p.free(raw[1]).unwrap();
    p.free(small[128]).unwrap();
    assert_eq!((p.total_pages(), p.pages_held()), (3, 3));
    assert_eq!(read(&p, raw[2]), pattern(2, PAGE_SIZE));
    for h in raw.iter().step_by(2).chain(&small[..128]) {
        p.free(*h).unwrap();
    }
    assert_eq!((p.total_pages(), p.pages_held(), p.objects()), (0, 0, 0));
}

#[test]
fn compaction_moves_data_and_frees_pages() {
    let mut p = ZsPool::new(None);
    // 40 + 8 = 48-byte class: 256 objects per 3-page zspage; 1024 objects: 4 zspages, 12 pages.
    let hs: Vec<Handle> = (0..1024).map(|i| p.store(&pattern(i, 40)).unwrap()).collect();
    assert_eq!(p.total_pages(), 12);
    // Keep one object in four: 64 in each zspage, no zspage emptied, still 12 pages.
    let kept: Vec<(u64, Handle)> = hs
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            if i % 4 == 0 {
                Some((i as u64, *h))
            } else {
                p.free(*h).unwrap();
                None
            }
        })
        .collect();
    assert_eq!((p.total_pages(), p.pages_held()), (12, 12));
    // 256 objects fit one zspage: compaction frees the other three (9 pages).
    assert_eq!(p.compact(), 9);
    assert_eq!((p.total_pages(), p.pages_held()), (3, 3));
    assert_eq!(p.pages_compacted(), 9);
    // Every handle still reads its own data, can be rewritten and freed.
    for (i, h) in &kept {
        assert_eq!(read(&p, *h), pattern(*i, 40), "object {i}");
    }
    p.write(kept[5].1, &[7u8; 40]).unwrap();
    assert_eq!(read(&p, kept[5].1), vec![7u8; 40]);
    assert_eq!(read(&p, kept[6].1), pattern(kept[6].0, 40));
    // Nothing left to gain: a second pass frees nothing.
    assert_eq!(p.compact(), 0);
    for (_, h) in &kept {
        p.free(*h).unwrap();
    }
    assert_eq!((p.total_pages(), p.pages_held()), (0, 0));
}

#[test]
fn compaction_only_when_a_zspage_can_go() {
    let mut p = ZsPool::new(None);
    // Two pages of the 32-byte class, 128 + 1 objects: moving would not free a whole zspage
    // unless the free objects add up to 128.
    let hs: Vec<Handle> = (0..129).map(|i| p.store(&pattern(i, 20)).unwrap()).collect();
    p.free(hs[0]).unwrap();
    // Zspage 0: 127 objects, zspage 1: 1 object; 128 free in total: one zspage goes.
    assert_eq!(p.compact(), 1);
    assert_eq!(p.total_pages(), 1);
    for (i, h) in hs.iter().enumerate().skip(1) {
        assert_eq!(read(&p, *h), pattern(i as u64, 20));
    }
    // Now one full page: nothing to do.
    assert_eq!(p.compact(), 0);
    assert_eq!(p.total_pages(), 1);
}

#[test]
fn errors() {
    let mut p = ZsPool::new(Some(2));
    assert_eq!(p.alloc(0), Err(PoolError::InvalidSize(0)));
    assert_eq!(
        p.store(&vec![0; PAGE_SIZE + 1]),
        Err(PoolError::InvalidSize(PAGE_SIZE + 1))
    );
    let a = p.store(&[1u8; PAGE_SIZE]).unwrap();
    let _b = p.store(&[2u8; PAGE_SIZE]).unwrap();
    assert_eq!(p.store(&[3u8; 10]), Err(PoolError::NoMemory));
    assert_eq!(p.total_pages(), 2);
    let mut small = [0u8; 100];
    assert_eq!(
        p.read(a, &mut small),
        Err(PoolError::BufferTooSmall {
            len: PAGE_SIZE,
            given: 100
        })
    );
    assert_eq!(
        p.write(a, &[0u8; 10]),
        Err(PoolError::LengthMismatch {
            len: PAGE_SIZE,
            given: 10
        })
    );
    p.free(a).unwrap();
    assert_eq!(p.free(a), Err(PoolError::BadHandle));
    // The table slot is reused by the next object; the stale handle still does not reach it.
    let c = p.store(&[4u8; 20]).unwrap(); // the 32-byte class: one page
    assert_eq!(p.read(a, &mut small), Err(PoolError::BadHandle));
    assert_eq!(p.obj_len(a), Err(PoolError::BadHandle));
    assert_eq!(p.obj_len(c), Ok(20));
    // A handle from another pool is not one of ours.
    let other = ZsPool::new(None);
    assert_eq!(other.obj_len(c), Err(PoolError::BadHandle));
}

#[derive(Clone, Debug)]
enum Op {
    Store(usize),
    Free(usize),
    Write(usize),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Mostly a few sizes, so that classes fill zspages and compaction has work to do.
        6 => prop_oneof![
            4 => prop::sample::select(vec![20usize, 40, 100, 500, 1500, 3000, PAGE_SIZE]),
            1 => 1usize..=PAGE_SIZE,
        ]
        .prop_map(Op::Store),
        5 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::Write),
        1 => Just(Op::Compact),
    ]
}

/// Pages a class needs at best for `n` objects: whole zspages.
fn min_pages(classes: &SizeClasses, lens: &[usize]) -> u64 {
    let mut per_class: HashMap<usize, (u64, u64, u64)> = HashMap::new();
    for &len in lens {
        let c = classes.class_for_alloc(len);
        let e = per_class
            .entry(c.index)
            .or_insert((0, c.objs_per_zspage as u64, c.pages_per_zspage as u64));
        e.0 += 1;
    }
    per_class
        .values()
        .map(|(n, objs, ppz)| n.div_ceil(*objs) * ppz)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_sequences_match_a_model(ops in prop::collection::vec(op(), 1..800)) {
        let mut p = ZsPool::new(None);
        let classes = SizeClasses::new();
        let mut model: HashMap<Handle, Vec<u8>> = HashMap::new();
        let mut order: Vec<Handle> = Vec::new();
        let mut seed = 0u64;
        for op in ops {
            seed += 1;
            match op {
                Op::Store(len) => {
                    let d = pattern(seed, len);
                    let h = p.store(&d).unwrap();
                    prop_assert!(model.insert(h, d).is_none(), "handle handed out twice");
                    order.push(h);
                }
                Op::Free(i) if !order.is_empty() => {
                    let h = order.swap_remove(i % order.len());
                    model.remove(&h);
                    p.free(h).unwrap();
                    prop_assert_eq!(p.free(h), Err(PoolError::BadHandle));
                }
                Op::Write(i) if !order.is_empty() => {
                    let h = order[i % order.len()];
                    let len = model[&h].len();
                    let d = pattern(seed, len);
                    p.write(h, &d).unwrap();
                    model.insert(h, d);
                }
                Op::Compact => {
                    p.compact();
                    // After compaction every class holds exactly the zspages its objects need.
                    let lens: Vec<usize> = model.values().map(|d| d.len()).collect();
                    prop_assert_eq!(p.total_pages(), min_pages(&classes, &lens));
                }
                _ => {}
            }
            prop_assert_eq!(p.objects(), model.len());
            prop_assert_eq!(p.total_pages(), p.pages_held());
            let lens: Vec<usize> = model.values().map(|d| d.len()).collect();
            prop_assert!(p.total_pages() >= min_pages(&classes, &lens));
        }
        for (h, d) in &model {
            prop_assert_eq!(&read(&p, *h), d);
        }
        for h in order {
            p.free(h).unwrap();
        }
        prop_assert_eq!((p.total_pages(), p.pages_held(), p.objects()), (0, 0, 0));
    }
}
