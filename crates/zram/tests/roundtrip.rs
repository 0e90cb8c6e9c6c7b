//! Corpus round trips from several threads with the emulated IAA injecting faults: whole-page
//! and sector-granular writes, writeback and recompression in between; every page reads back
//! bit-identical (by hash).

use idxd_testutil as common;

use std::sync::Arc;
use std::time::Instant;

use common::{corpus, faulty_iaa, hash, software, PAGE};
use idxd_zram::{IdleMark, RecompressParams, WritebackMode, Zram, ZramBuilder};

const THREADS: usize = 4;
const PER_THREAD: usize = 512;

/// Retries writes the runtime failed (the kernel returns -EIO; the old data stays intact).
fn write_retry(z: &Zram, sector: u64, data: &[u8]) -> u64 {
    let mut failures = 0;
    loop {
        match z.write(sector, data) {
            Ok(()) => return failures,
            Err(e) if e.is_codec() && failures < 8 => failures += 1,
            Err(e) => panic!("write at sector {sector}: {e}"),
        }
    }
}

fn read_retry(z: &Zram, sector: u64, buf: &mut [u8]) -> u64 {
    let mut failures = 0;
    loop {
        match z.read(sector, buf) {
            Ok(()) => return failures,
            Err(e) if e.is_codec() && failures < 8 => failures += 1,
            Err(e) => panic!("read at sector {sector}: {e}"),
        }
    }
}

fn check_all(z: &Zram, pages: &[Vec<u8>]) -> u64 {
    let mut retries = 0;
    let mut page = vec![0u8; PAGE];
    for (i, p) in pages.iter().enumerate() {
        retries += read_retry(z, (i * 8) as u64, &mut page);
        assert_eq!(hash(&page), hash(p), "page {i}");
    }
    retries
}

#[test]
fn corpus_threads_faults_writeback_recompress() {
    let t0 = Instant::now();
    let pages = Arc::new(corpus(THREADS * PER_THREAD));
    let z = Arc::new(
        ZramBuilder::new((THREADS * PER_THREAD * PAGE) as u64, faulty_iaa(11))
            .recomp_algorithm(software("zstd-3"))
            .recomp_algorithm(software("deflate-6"))
            .backing_file(tempfile::tempfile().unwrap())
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (z, pages) = (Arc::clone(&z), Arc::clone(&pages));
            std::thread::spawn(move || {
                let first = t * PER_THREAD;
                let mut retries = 0;
                // Whole pages in runs of 1 to 32 pages.
                let mut i = first;
                let mut k = 0;
                while i < first + PER_THREAD {
                    let n = [1, 8, 32, 5][k % 4].min(first + PER_THREAD - i);
                    k += 1;
                    let buf: Vec<u8> = pages[i..i + n].iter().flat_map(|p| p.iter().copied()).collect();
                    retries += write_retry(&z, (i * 8) as u64, &buf);
                    i += n;
                }
                // Rewrite every fourth page sector by sector pieces (read-modify-write), from a
                // scrambled version back to the original.
                for i in (first..first + PER_THREAD).step_by(4) {
                    let mut scrambled = pages[i].clone();
                    scrambled.reverse();
                    retries += write_retry(&z, (i * 8) as u64, &scrambled);
                    for (s, chunk) in pages[i].chunks(1536).enumerate() {
                        // 1536 = 3 sectors: pieces straddle nothing but stay inside the page.
                        retries += write_retry(&z, (i * 8 + 3 * s) as u64, chunk);
                    }
                }
                // An unaligned multi-page range: from the middle of one page into the next.
                let a = first + 1;
                let mut span: Vec<u8> = pages[a][2048..].to_vec();
                span.extend_from_slice(&pages[a + 1][..2048]);
                retries += write_retry(&z, (a * 8 + 4) as u64, &span);
                let mut back = vec![0u8; span.len()];
                retries += read_retry(&z, (a * 8 + 4) as u64, &mut back);
                assert_eq!(back, span);
                retries
            })
        })
        .collect();
    let retries: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut read_retries = check_all(&z, &pages);

    // Huge pages to the backing file, then recompress the rest with the secondary algorithms.
    let wb = z.writeback(WritebackMode::Huge).unwrap();
    z.mark_idle(IdleMark::All);
    let rc = z.recompress(&RecompressParams::default()).unwrap();
    read_retries += check_all(&z, &pages);
    // Idle pages to the backing file too (everything read since is not idle any more).
    z.mark_idle(IdleMark::All);
    let wb2 = z.writeback(WritebackMode::Idle).unwrap();
    read_retries += check_all(&z, &pages);

    let mm = z.mm_stat();
    println!(
        "write retries {retries}, read retries {read_retries}; writeback huge {wb} idle {wb2}; {rc:?}; \
         priorities {:?}; {:?}\nmm_stat {mm}io_stat {}bd_stat {}",
        z.priority_histogram(),
        t0.elapsed(),
        z.io_stat(),
        z.bd_stat()
    );
    let rs = z.runtime(0).unwrap().stats();
    println!("runtime: {rs:?}");
    assert!(
        common::faults_seen(&rs) > 0,
        "no injected fault reached the runtime"
    );
    assert_eq!(mm.orig_data_size, (THREADS * PER_THREAD * PAGE) as u64);
    assert!(wb > 0 && wb2 > 0);
    assert!(rc.recompressed > 0);
    assert_eq!(z.bd_stat().bd_count, wb + wb2);
}

/// The pool's memory on the corpus: the compressed bytes live in zsmalloc pages, so
/// `mem_used_total` (pages held) is at least the stored bytes and at most what the classes'
/// slack allows; compaction after freeing every other page gives pages back.
#[test]
fn corpus_memory_figures() {
    let pages = corpus(2048);
    let z = ZramBuilder::new(pages.len() as u64 * PAGE as u64, software("lz4"))
        .build()
        .unwrap();
    for (i, p) in pages.iter().enumerate() {
        z.write((i * 8) as u64, p).unwrap();
    }
    let mm = z.mm_stat();
    println!(
        "corpus {} pages: orig {} compr {} mem_used_total {} ({} pages), same {}, huge {}",
        pages.len(),
        mm.orig_data_size,
        mm.compr_data_size,
        mm.mem_used_total,
        mm.mem_used_total / PAGE as u64,
        mm.same_pages,
        mm.huge_pages
    );
    assert!(mm.mem_used_total >= mm.compr_data_size);
    assert!(mm.mem_used_total < mm.orig_data_size);
    for i in (0..pages.len()).step_by(2) {
        z.discard((i * 8) as u64, PAGE as u64).unwrap();
    }
    let before = z.mm_stat().mem_used_total;
    let freed = z.compact();
    let after = z.mm_stat();
    println!(
        "after freeing half: compr {} mem_used_total {} -> {} (compaction freed {freed} pages)",
        after.compr_data_size, before, after.mem_used_total
    );
    // Half the objects are gone, spread over every zspage: compaction must give pages back.
    assert!(
        freed > 0,
        "compaction freed nothing after half the pages were discarded"
    );
    assert!(after.mem_used_total < before);
    assert_eq!(after.mem_used_total, before - freed * PAGE as u64);
    assert_eq!(after.pages_compacted, freed);
    for (i, p) in pages.iter().enumerate().skip(1).step_by(2) {
        let mut back = vec![0u8; PAGE];
        z.read((i * 8) as u64, &mut back).unwrap();
        assert_eq!(hash(&back), hash(p), "page {i}");
    }
}
