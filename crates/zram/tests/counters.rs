//! mm_stat, io_stat, bd_stat and debug_stat against hand-computed values on a crafted workload
//! (lz4 primary, zstd secondary, no faults).
//!
//! Pool arithmetic (zsmalloc model): a raw (huge) page takes a one-page zspage of its own; K
//! copies of one compressible page of length L take ceil(K / objs) zspages of the class of
//! L + 8 bytes; same-filled pages take nothing.

use idxd_testutil as common;

use common::{random_page, software, PAGE};
use idxd_zram::{
    BdStat, DebugStat, IdleMark, IoStat, MmStat, RecompressParams, WritebackMode, ZramBuilder, ZramError,
};
use idxd_zsmalloc::SizeClasses;

const P: u64 = PAGE as u64;

fn text_page() -> Vec<u8> {
    let mut p = Vec::with_capacity(PAGE);
    let mut i = 0u32;
    while p.len() < PAGE {
        p.extend_from_slice(format!("{{\"id\": {i}, \"name\": \"item-{}\"}}, ", i * 7 % 13).as_bytes());
        i += 1;
    }
    p.truncate(PAGE);
    p
}

#[test]
fn crafted_workload_counters() {
    let lz4 = software("lz4");
    let z = ZramBuilder::new(64 * P, lz4.clone())
        .recomp_algorithm(software("zstd-19"))
        .backing_file(tempfile::tempfile().unwrap())
        .build()
        .unwrap();
    let sector = |page: u64| page * 8;

    // N = 10 zero pages and 2 pages filled with one non-zero word: same-filled, no memory.
    for i in 0..10 {
        z.write(sector(i), &[0u8; PAGE]).unwrap();
    }
    let mut filled = vec![0u8; PAGE];
    for c in filled.chunks_exact_mut(8) {
        c.copy_from_slice(&0xdead_beef_0000_0001u64.to_ne_bytes());
    }
    z.write(sector(10), &filled).unwrap();
    z.write(sector(11), &[0xa5u8; PAGE]).unwrap();

    // M = 5 random pages (one write of 5 pages): huge, one pool page each.
    let randoms: Vec<u8> = (0..5).flat_map(random_page).collect();
    z.write(sector(12), &randoms).unwrap();

    // K = 4 copies of one text page: compressed to L bytes each.
    let text = text_page();
    let l = {
        let mut out = vec![0u8; PAGE];
        lz4.context().compress(&[&text[..]], &mut [&mut out[..]])[0]
            .clone()
            .unwrap() as u64
    };
    assert!((l as usize) < z.huge_class_size());
    for i in 17..21 {
        z.write(sector(i), &text).unwrap();
    }
    let c = SizeClasses::new().class_for_alloc(l as usize);
    let text_pages = 4u64.div_ceil(c.objs_per_zspage as u64) * c.pages_per_zspage as u64;
    let expect = MmStat {
        orig_data_size: 21 * P,
        compr_data_size: 5 * P + 4 * l,
        mem_used_total: (5 + text_pages) * P,
        mem_limit: 0,
        mem_used_max: (5 + text_pages) * P,
        same_pages: 12,
        pages_compacted: 0,
        huge_pages: 5,
        huge_pages_since: 5,
    };
    assert_eq!(z.mm_stat(), expect);

    // Overwrite one huge page with zeros, discard two pages (one same, one text).
    z.write(sector(12), &[0u8; PAGE]).unwrap();
    z.discard(sector(0), 8 * 512).unwrap();
    z.discard(sector(20), 8 * 512).unwrap();
    // A discard of half a page frees nothing.
    z.discard(sector(1), 4 * 512).unwrap();
    let mm = z.mm_stat();
    assert_eq!(
        (
            mm.orig_data_size,
            mm.compr_data_size,
            mm.same_pages,
            mm.huge_pages,
            mm.huge_pages_since
        ),
        (19 * P, 4 * P + 3 * l, 12, 4, 5)
    );

    // mem_limit at the current usage: one more raw page cannot be stored (-ENOMEM, counted in
    // failed_writes) and the slot keeps its old data.
    z.set_mem_limit(mm.mem_used_total);
    let e = z.write(sector(17), &random_page(99)).unwrap_err();
    assert!(matches!(e, ZramError::NoMemory));
    let mut back = vec![0u8; PAGE];
    z.read(sector(17), &mut back).unwrap();
    assert_eq!(back, text);
    z.set_mem_limit(0);

    // Invalid I/O: past the end, and not whole sectors.
    assert!(matches!(
        z.read(sector(64), &mut back),
        Err(ZramError::InvalidIo { .. })
    ));
    assert!(matches!(
        z.write(0, &[0u8; 100]),
        Err(ZramError::InvalidIo { .. })
    ));
    assert!(matches!(
        z.discard(u64::MAX, 512),
        Err(ZramError::InvalidIo { .. })
    ));
    assert_eq!(
        z.io_stat(),
        IoStat {
            failed_reads: 0,
            failed_writes: 1,
            invalid_io: 3,
            notify_free: 2
        }
    );

    // Writeback of the huge pages (4), then one read served from the backing file.
    let mem_before = z.mm_stat().mem_used_total;
    assert_eq!(z.writeback(WritebackMode::Huge).unwrap(), 4);
    z.read(sector(13), &mut back).unwrap();
    assert_eq!(back, randoms[PAGE..2 * PAGE]);
    assert_eq!(
        z.bd_stat(),
        BdStat {
            bd_count: 4,
            bd_reads: 1,
            bd_writes: 4
        }
    );
    let mm = z.mm_stat();
    assert_eq!(
        (mm.orig_data_size, mm.compr_data_size, mm.huge_pages),
        (19 * P, 3 * l, 0)
    );
    assert_eq!(mm.mem_used_total, mem_before - 4 * P);

    // Recompression with zstd: the three text pages move to a smaller class (or are marked
    // incompressible when zstd cannot do better); either way every page still reads back.
    z.mark_idle(IdleMark::All);
    let r = z
        .recompress(&"type=idle".parse::<RecompressParams>().unwrap())
        .unwrap();
    assert_eq!(r.tried, 3);
    assert_eq!(r.recompressed + r.marked_incompressible, 3);
    for i in [17u64, 18, 19] {
        z.read(sector(i), &mut back).unwrap();
        assert_eq!(back, text);
    }

    // Writeback budget: one page allowed, the second attempt is refused.
    let randoms2: Vec<u8> = (10..12).flat_map(random_page).collect();
    z.write(sector(30), &randoms2).unwrap();
    z.set_writeback_limit_enable(true);
    z.set_writeback_limit(1);
    let e = z.writeback(WritebackMode::Huge).unwrap_err();
    assert!(matches!(e, ZramError::WritebackLimit { written: 1 }));
    assert_eq!(
        z.bd_stat(),
        BdStat {
            bd_count: 5,
            bd_reads: 1,
            bd_writes: 5
        }
    );
    // Overwriting a written-back page releases its block.
    z.write(sector(13), &[7u8; PAGE]).unwrap();
    assert_eq!(z.bd_stat().bd_count, 4);

    // Slot-free notification.
    assert!(z.slot_free_notify(10).unwrap());
    assert!(z.slot_free_notify(1000).is_err());
    assert_eq!(z.io_stat().notify_free, 3);
    assert_eq!(
        z.debug_stat(),
        DebugStat {
            writestall: 0,
            miss_free: 0
        }
    );
    assert_eq!(z.debug_stat().to_string(), "version: 1\n       0        0\n");

    let line = z.mm_stat().to_string();
    assert_eq!(line.split_whitespace().count(), 9, "{line}");
    println!("mm_stat {line}io_stat {}bd_stat {}", z.io_stat(), z.bd_stat());
}

#[test]
fn recompression_marks_incompressible_and_writeback_takes_them() {
    let z = ZramBuilder::new(16 * P, software("lz4"))
        .recomp_algorithm(software("zstd"))
        .recomp_algorithm(software("deflate-6"))
        .backing_file(tempfile::tempfile().unwrap())
        .build()
        .unwrap();
    assert_eq!(z.recomp_algorithm(), "#1: zstd-1\n#2: deflate-6\n");
    let randoms: Vec<u8> = (0..3).flat_map(random_page).collect();
    z.write(0, &randoms).unwrap();
    let r = z.recompress(&"type=huge".parse().unwrap()).unwrap();
    assert_eq!((r.tried, r.recompressed, r.marked_incompressible), (3, 0, 3));
    // Never tried again.
    let r = z.recompress(&RecompressParams::default()).unwrap();
    assert_eq!(r.tried, 0);
    assert_eq!(z.writeback(WritebackMode::Incompressible).unwrap(), 3);
    let mut back = vec![0u8; 3 * PAGE];
    z.read(0, &mut back).unwrap();
    assert_eq!(back, randoms);
    // A priority that does not exist.
    assert!(z.recompress(&"priority=3".parse().unwrap()).is_err());
    assert!("type=bogus".parse::<RecompressParams>().is_err());
}

#[test]
fn idle_marking_by_age() {
    let z = ZramBuilder::new(8 * P, software("lz4"))
        .backing_file(tempfile::tempfile().unwrap())
        .build()
        .unwrap();
    z.write(0, &common::generated(4)[2..4].concat()).unwrap(); // two text pages
    z.write(16, &random_page(5)).unwrap();
    z.mark_idle(IdleMark::OlderThan(std::time::Duration::from_secs(3600)));
    assert_eq!(z.idle_pages(), 0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    z.mark_idle(IdleMark::OlderThan(std::time::Duration::from_millis(10)));
    assert_eq!(z.idle_pages(), 3);
    let mut b = vec![0u8; PAGE];
    z.read(8, &mut b).unwrap(); // an access clears the mark
    assert_eq!(z.idle_pages(), 2);
    // Same-filled pages are never marked.
    z.write(24, &[0u8; PAGE]).unwrap();
    z.mark_idle(IdleMark::All);
    assert_eq!(z.idle_pages(), 3);
    assert_eq!(z.writeback(WritebackMode::HugeIdle).unwrap(), 1);
    assert_eq!(z.writeback("page_index=1".parse().unwrap()).unwrap(), 1);
    assert!(z.writeback("page_index=8".parse().unwrap()).is_err());
    assert_eq!(z.bd_stat().bd_count, 2);
}
