//! The emulator's IOMMU: translation, permissions, partial accesses, address-space edges,
//! mapping management, concurrency and the completion-record protocol.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

use idxd_emu::iommu::{Fault, Iommu};
use idxd_emu::EmuError;

fn rd(m: &Iommu, iova: u64, len: usize) -> Result<Vec<u8>, Fault> {
    let mut v = vec![0u8; len];
    m.read(iova, &mut v).map(|_| v)
}

#[test]
fn unmapped_accesses_fault_at_the_first_byte() {
    let m = Iommu::new();
    assert_eq!(
        rd(&m, 0x1000, 4),
        Err(Fault {
            addr: 0x1000,
            write: false
        })
    );
    assert_eq!(
        m.write(0x1000, &[1]),
        Err(Fault {
            addr: 0x1000,
            write: true
        })
    );
    assert_eq!(
        m.cpu_read(0x1000, &mut [0]),
        Err(Fault {
            addr: 0x1000,
            write: false
        })
    );
    assert_eq!(
        m.cpu_write(0x1000, &[0]),
        Err(Fault {
            addr: 0x1000,
            write: true
        })
    );
    assert_eq!(
        m.cpu_load_acquire_u8(0x1000),
        Err(Fault {
            addr: 0x1000,
            write: false
        })
    );
    // A zero-length access touches nothing and cannot fault.
    assert_eq!(m.read(0x1000, &mut []), Ok(()));
    m.map_owned(0x1000, 0x100, true).unwrap();
    assert_eq!(
        rd(&m, 0x0fff, 2),
        Err(Fault {
            addr: 0x0fff,
            write: false
        })
    );
    assert_eq!(
        rd(&m, 0x10ff, 2),
        Err(Fault {
            addr: 0x1100,
            write: false
        })
    );
}

#[test]
fn read_only_mappings_refuse_device_writes_but_not_the_cpu() {
    let m = Iommu::new();
    m.map_owned(0x2000, 0x1000, false).unwrap();
    assert_eq!(
        m.write(0x2010, &[1, 2, 3]),
        Err(Fault {
            addr: 0x2010,
            write: true
        })
    );
    assert_eq!(rd(&m, 0x2010, 3).unwrap(), [0, 0, 0]);
    m.cpu_write(0x2010, &[1, 2, 3]).unwrap();
    assert_eq!(rd(&m, 0x2010, 3).unwrap(), [1, 2, 3]);
    assert_eq!(
        m.write_record(0x2000, &[1; 32]),
        Err(Fault {
            addr: 0x2000,
            write: true
        })
    );
    assert_eq!(m.check(0x2000, 0x1000, false), Ok(()));
    assert_eq!(
        m.check(0x2000, 0x1000, true),
        Err(Fault {
            addr: 0x2000,
            write: true
        })
    );
    // A write that runs from a writable mapping into a read-only one writes the writable part.
    m.map_owned(0x1000, 0x1000, true).unwrap();
    assert_eq!(
        m.write(0x1ffe, &[7, 7, 7, 7]),
        Err(Fault {
            addr: 0x2000,
            write: true
        })
    );
    assert_eq!(m.cpu_read_vec(0x1ffe, 4).unwrap(), [7, 7, 0, 0]);
}

#[test]
fn partial_accesses_say_how_far_they_got() {
    let m = Iommu::new();
    m.map_owned(0x1000, 100, true).unwrap();
    m.cpu_write(0x1000, &(0..100).collect::<Vec<u8>>()).unwrap();
    let mut buf = [0xeeu8; 100];
    assert_eq!(
        m.read(0x1000 + 50, &mut buf),
        Err(Fault {
            addr: 0x1000 + 100,
            write: false
        })
    );
    assert_eq!(&buf[..50], &(50..100).collect::<Vec<u8>>()[..]);
    assert!(
        buf[50..].iter().all(|&b| b == 0xee),
        "nothing past the fault is touched"
    );
    assert_eq!(
        m.write(0x1000 + 90, &[0xab; 20]),
        Err(Fault {
            addr: 0x1000 + 100,
            write: true
        })
    );
    assert_eq!(m.cpu_read_vec(0x1000 + 90, 10).unwrap(), [0xab; 10]);
    // A hole in the middle.
    m.map_owned(0x1000 + 200, 100, true).unwrap();
    assert_eq!(
        m.check(0x1000, 300, false),
        Err(Fault {
            addr: 0x1000 + 100,
            write: false
        })
    );
    assert_eq!(
        m.last_fault(0x1000, 300, false),
        Some(Fault {
            addr: 0x1000 + 199,
            write: false
        })
    );
}

#[test]
fn accesses_span_adjacent_mappings_of_both_kinds() {
    let m = Iommu::new();
    let mut host = vec![0u8; 0x1000].into_boxed_slice();
    m.map_owned(0x10000, 0x1000, true).unwrap();
    // SAFETY: `host` outlives the mapping (unmapped below before it is dropped) and is not
    // touched through references while mapped.
    unsafe { m.map(0x11000, host.as_mut_ptr(), host.len(), true).unwrap() };
    m.map_owned(0x12000, 0x1000, true).unwrap();
    let data: Vec<u8> = (0..0x2800u32).map(|i| (i * 7 % 251) as u8).collect();
    m.write(0x10400, &data).unwrap();
    assert_eq!(rd(&m, 0x10400, data.len()).unwrap(), data);
    m.unmap(0x11000, 0x1000).unwrap();
    assert_eq!(
        &host[..],
        &data[0xc00..0x1c00],
        "the host buffer holds what the device wrote"
    );
    assert_eq!(
        rd(&m, 0x10400, data.len()),
        Err(Fault {
            addr: 0x11000,
            write: false
        })
    );
}

#[test]
fn addresses_never_wrap() {
    let m = Iommu::new();
    m.map_owned(0, 0x1000, true).unwrap();
    // Nothing at the top: the first byte faults.
    assert_eq!(
        rd(&m, u64::MAX - 3, 8),
        Err(Fault {
            addr: u64::MAX - 3,
            write: false
        })
    );
    assert_eq!(
        m.write(u64::MAX - 3, &[1; 8]),
        Err(Fault {
            addr: u64::MAX - 3,
            write: true
        })
    );
    // The top page mapped (it ends at u64::MAX, exclusive): the access faults at u64::MAX and
    // nothing reaches address 0.
    m.map_owned(u64::MAX - 0x1000, 0x1000, true).unwrap();
    assert_eq!(
        m.write(u64::MAX - 3, &[1; 8]),
        Err(Fault {
            addr: u64::MAX,
            write: true
        })
    );
    assert_eq!(m.cpu_read_vec(u64::MAX - 3, 3).unwrap(), [1, 1, 1]);
    assert_eq!(m.cpu_read_vec(0, 8).unwrap(), [0; 8]);
    assert_eq!(
        rd(&m, u64::MAX - 3, 8),
        Err(Fault {
            addr: u64::MAX,
            write: false
        })
    );
    assert_eq!(
        m.check(u64::MAX, usize::MAX, false),
        Err(Fault {
            addr: u64::MAX,
            write: false
        })
    );
    assert_eq!(
        m.last_fault(u64::MAX - 3, 8, false),
        Some(Fault {
            addr: u64::MAX,
            write: false
        })
    );
    assert_eq!(
        m.write_record(u64::MAX - 16, &[1; 32]),
        Err(Fault {
            addr: u64::MAX,
            write: true
        })
    );
    assert_eq!(
        m.cpu_read_vec(u64::MAX - 16, 13).unwrap(),
        [0; 13],
        "a record that does not fit is not written"
    );
    // Mappings that would reach past the end are refused.
    assert!(matches!(
        m.map_owned(u64::MAX, 1, true),
        Err(EmuError::Wraparound { .. })
    ));
    assert!(matches!(
        m.map_owned(u64::MAX - 10, 11, true),
        Err(EmuError::Wraparound { .. })
    ));
}

#[test]
fn map_refuses_overlaps_and_bad_ranges() {
    let m = Iommu::new();
    m.map_owned(0x10000, 0x1000, true).unwrap();
    for (iova, len) in [
        (0x10000, 0x1000),
        (0x10800, 0x10),
        (0xf000, 0x1001),
        (0x10fff, 0x10),
        (0xf000, 0x3000),
    ] {
        assert!(
            matches!(
                m.map_owned(iova, len, true),
                Err(EmuError::Overlap {
                    existing: 0x10000,
                    ..
                })
            ),
            "{iova:#x}+{len:#x}"
        );
    }
    // Adjacent on both sides is fine.
    m.map_owned(0xf000, 0x1000, false).unwrap();
    m.map_owned(0x11000, 0x1000, false).unwrap();
    assert!(matches!(
        m.map_owned(0x20000, 0, true),
        Err(EmuError::ZeroLength { .. })
    ));
    let mut x = [0u8; 4];
    // SAFETY: refused before anything is mapped.
    let r = unsafe { m.map(0x30000, std::ptr::null_mut(), 4, true) };
    assert!(matches!(r, Err(EmuError::NullHost { .. })));
    // SAFETY: refused (overlap), nothing is mapped.
    let r = unsafe { m.map(0x10004, x.as_mut_ptr(), 4, true) };
    assert!(matches!(r, Err(EmuError::Overlap { .. })));
    // Unmap needs the exact range.
    assert!(matches!(m.unmap(0x10000, 0x800), Err(EmuError::NotMapped { .. })));
    assert!(matches!(m.unmap(0x10800, 0x800), Err(EmuError::NotMapped { .. })));
    m.unmap(0x10000, 0x1000).unwrap();
    assert!(matches!(
        m.unmap(0x10000, 0x1000),
        Err(EmuError::NotMapped { .. })
    ));
    assert_eq!(m.mappings(), 2);
    assert!(format!("{m:?}").contains("0xf000+0x1000 ro"));
}

#[test]
fn concurrent_readers_a_writer_and_a_mapper() {
    let m = Arc::new(Iommu::new());
    const STABLE: u64 = 0x100000;
    const WRITTEN: u64 = 0x200000;
    const CHURN: u64 = 0x300000;
    let pattern: Vec<u8> = (0..65536u32).map(|i| (i % 253) as u8).collect();
    m.map_owned(STABLE, pattern.len(), false).unwrap();
    m.cpu_write(STABLE, &pattern).unwrap();
    m.map_owned(WRITTEN, 65536, true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for t in 0..3u64 {
        let (m, stop, pattern) = (m.clone(), stop.clone(), pattern.clone());
        handles.push(thread::spawn(move || {
            let mut n = 0u64;
            let mut buf = vec![0u8; 4096];
            while !stop.load(Ordering::Relaxed) || n < 100 {
                let off = (n * 4093 + t * 977) % (65536 - 4096);
                m.read(STABLE + off, &mut buf).unwrap();
                assert_eq!(buf[..], pattern[off as usize..off as usize + 4096]);
                // The churning range is either absent (a fault at its start) or all zeros.
                match m.read(CHURN, &mut buf[..64]) {
                    Ok(()) => assert!(buf[..64].iter().all(|&b| b == 0)),
                    Err(f) => assert_eq!(
                        f,
                        Fault {
                            addr: CHURN,
                            write: false
                        }
                    ),
                }
                n += 1;
            }
            n
        }));
    }
    let writer = {
        let (m, stop) = (m.clone(), stop.clone());
        thread::spawn(move || {
            for round in 0..2000u32 {
                let v = vec![(round % 256) as u8; 4096];
                m.write(WRITTEN + (round as u64 % 16) * 4096, &v).unwrap();
            }
            stop.load(Ordering::Relaxed)
        })
    };
    let mapper = {
        let m = m.clone();
        thread::spawn(move || {
            for _ in 0..2000 {
                m.map_owned(CHURN, 4096, true).unwrap();
                m.unmap(CHURN, 4096).unwrap();
            }
        })
    };
    writer.join().unwrap();
    mapper.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        assert!(h.join().unwrap() >= 100);
    }
    // The writer's last round for each page is what memory holds.
    for page in 0..16u64 {
        let last = (0..2000u32).filter(|r| r % 16 == page as u32).max().unwrap();
        assert_eq!(
            m.cpu_read_vec(WRITTEN + page * 4096, 4096).unwrap(),
            vec![(last % 256) as u8; 4096]
        );
    }
}

#[test]
fn a_record_is_complete_once_its_status_is_seen() {
    let m = Arc::new(Iommu::new());
    const R: u64 = 0x4000;
    m.map_owned(R, 64, true).unwrap();
    const ROUNDS: u32 = 3000;
    let ack = Arc::new(AtomicU32::new(0));
    let poller = {
        let (m, ack) = (m.clone(), ack.clone());
        thread::spawn(move || {
            for k in 1..=ROUNDS {
                let want = (k % 255 + 1) as u8;
                loop {
                    let s = m.cpu_load_acquire_u8(R).unwrap();
                    if s == want {
                        break;
                    }
                    std::hint::spin_loop();
                }
                let rec = m.cpu_read_vec(R, 64).unwrap();
                assert!(rec.iter().all(|&b| b == want), "round {k}: {rec:?}");
                ack.store(k, Ordering::Release);
            }
        })
    };
    for k in 1..=ROUNDS {
        while ack.load(Ordering::Acquire) != k - 1 {
            std::hint::spin_loop();
        }
        let v = (k % 255 + 1) as u8;
        m.write_record(R, &[v; 64]).unwrap();
    }
    poller.join().unwrap();
}

#[test]
fn records_are_all_or_nothing() {
    let m = Iommu::new();
    m.map_owned(0x1000, 0x20, true).unwrap();
    m.map_owned(0x1020, 0x20, false).unwrap();
    assert_eq!(
        m.write_record(0x1000, &[9; 64]),
        Err(Fault {
            addr: 0x1020,
            write: true
        })
    );
    assert_eq!(m.cpu_read_vec(0x1000, 0x20).unwrap(), [0; 0x20]);
    m.map_owned(0x2000, 0x10, true).unwrap();
    m.map_owned(0x2010, 0x10, true).unwrap();
    let mut r = [0u8; 32];
    r[0] = 1;
    r[31] = 0x55;
    m.write_record(0x2000, &r).unwrap();
    assert_eq!(m.cpu_load_acquire_u8(0x2000), Ok(1));
    assert_eq!(m.cpu_read_vec(0x2000, 32).unwrap(), r);
    assert_eq!(m.write_record(0x2000, &[]), Ok(()));
}
