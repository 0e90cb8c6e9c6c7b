//! With slow engines and short timeouts, the runtime never hands the device memory that an
//! earlier request's descriptor may still write (docs/design.md, "Buffer ownership").
//!
//! A submit hook of the emulator backing watches what the driver submits: it decodes every
//! descriptor and keeps, until that descriptor's completion record is written, the
//! ranges it reads and writes. A new descriptor that touches a range an unfinished one may
//! write is a violation. The runtime must also give every page back intact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use idxd_driver::backing::emu::{EmuBacking, Hooked};
use idxd_driver::{Backed, BringUpOptions, DescBytes};
use idxd_emu::device::{EmuConfig, EmuDevice};
use idxd_emu::inject::InjectConfig;
use idxd_hw::IaaDesc;
use idxd_runtime::{Algorithm, IaaMode, RuntimeBuilder};

/// A descriptor the device may still be working on: its record, and what it may write.
struct InFlight {
    record: u64,
    writes: Vec<(u64, u64)>,
}

#[derive(Default)]
struct Watch {
    in_flight: Mutex<Vec<InFlight>>,
    violations: Mutex<Vec<String>>,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

impl Watch {
    fn check(&self, dev: &EmuDevice, desc: &DescBytes) {
        let d = IaaDesc::from_bytes(&desc.0);
        let iommu = dev.iommu();
        let mut live = self.in_flight.lock().unwrap();
        // Finished descriptors (record written), and one whose record slot the driver reuses
        // (it reaps a slot before reusing it), are no longer in flight.
        live.retain(|f| {
            f.record != d.completion_addr && iommu.cpu_load_acquire_u8(f.record).unwrap_or(1) == 0
        });
        let touches = [
            (d.src1_addr, d.src1_size as u64),
            (d.src2_addr, d.src2_size as u64),
            (d.dst_addr, d.max_dst_size as u64),
            (d.completion_addr, 64),
        ];
        for f in live.iter() {
            for w in &f.writes {
                for t in touches.iter().filter(|t| t.1 > 0) {
                    if overlaps(*w, *t) {
                        self.violations.lock().unwrap().push(format!(
                            "{t:x?} of a new descriptor overlaps {w:x?}, still writable by an unfinished one"
                        ));
                    }
                }
            }
        }
        live.push(InFlight {
            record: d.completion_addr,
            writes: [
                (d.dst_addr, d.max_dst_size as u64),
                (d.src2_addr, d.src2_size as u64),
                (d.completion_addr, 64),
            ]
            .into_iter()
            .filter(|r| r.1 > 0)
            .collect(),
        });
    }
}

fn page(i: usize) -> Vec<u8> {
    // Compressible, different per page.
    (0..4096)
        .map(|k| ((k / 64) as u8).wrapping_mul(i as u8 | 1) ^ (i as u8))
        .collect()
}

fn watched_round_trips(mode: IaaMode) {
    let inject = InjectConfig {
        seed: 7,
        slow: Some((0.15, Duration::from_millis(40))),
        ..Default::default()
    };
    let watch = Arc::new(Watch::default());
    let w = watch.clone();
    let backing = EmuBacking::from_profile(
        "iaa-spr",
        EmuConfig {
            inject,
            ..Default::default()
        },
    )
    .unwrap()
    .with_submit_hook(Box::new(move |dev, desc| {
        w.check(dev, desc);
        Hooked::Forward
    }));
    let dev = Backed::from_backing(Arc::new(backing), "watch".into(), 0)
        .unwrap()
        .bring_up(None, 2, BringUpOptions::default())
        .unwrap();
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(mode))
        .opened_device(dev)
        .batch_size(8)
        .verify(true)
        .timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let pages: Vec<Vec<u8>> = (0..160).map(page).collect();
    for chunk in pages.chunks(8) {
        let srcs: Vec<&[u8]> = chunk.iter().map(|p| &p[..]).collect();
        let mut outs: Vec<Vec<u8>> = chunk.iter().map(|_| vec![0u8; 4096]).collect();
        let mut o: Vec<&mut [u8]> = outs.iter_mut().map(|v| &mut v[..]).collect();
        let sizes: Vec<usize> = ctx
            .compress(&srcs, &mut o)
            .into_iter()
            .map(|r| r.expect("compress (fallback on)"))
            .collect();
        let comp: Vec<&[u8]> = outs.iter().zip(&sizes).map(|(v, n)| &v[..*n]).collect();
        let mut backs: Vec<Vec<u8>> = chunk.iter().map(|_| vec![0u8; 4096]).collect();
        let mut b: Vec<&mut [u8]> = backs.iter_mut().map(|v| &mut v[..]).collect();
        for r in ctx.decompress(&comp, &mut b) {
            assert_eq!(r.expect("decompress (fallback on)"), 4096);
        }
        for (p, back) in chunk.iter().zip(&backs) {
            assert_eq!(p, back, "a page came back wrong");
        }
    }
    // The fault reached the code meant to handle it: waits gave up on descriptors that were
    // still running (orphaned, their staging left with the WQ), and the fallback redid them.
    let orphaned: u64 = rt.devices()[0].wqs().iter().map(|w| w.counters().orphaned).sum();
    let fallbacks = rt.stats().get("fallback").requests;
    assert!(
        orphaned > 10,
        "only {orphaned} orphaned requests: the slow-engine fault did not bite"
    );
    assert!(
        fallbacks >= orphaned,
        "{fallbacks} fallbacks for {orphaned} orphans"
    );
    let v = watch.violations.lock().unwrap();
    assert!(v.is_empty(), "{} violations, first: {}", v.len(), v[0]);
}

#[test]
fn slow_engines_and_short_timeouts_never_reuse_memory_the_device_may_write_fixed() {
    watched_round_trips(IaaMode::Fixed);
}

#[test]
fn slow_engines_and_short_timeouts_never_reuse_memory_the_device_may_write_dynamic() {
    watched_round_trips(IaaMode::Dynamic);
}
