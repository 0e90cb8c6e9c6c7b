//! Test helpers shared by the zswap and zram tests (a dev-dependency only): corpus pages (or
//! generated ones), hashes, runtimes.

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::PathBuf;

use idxd_emu::device::{CounterSnapshot, EmuConfig};
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_runtime::{Algorithm, DeviceSpec, IaaMode, Runtime, RuntimeBuilder};

pub const PAGE: usize = 4096;

/// 64-bit hash of a page.
pub fn hash(page: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    page.hash(&mut h);
    h.finish()
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn read_pages(name: &str, n: usize) -> Option<Vec<Vec<u8>>> {
    let mut f = File::open(corpus_dir().join(name)).ok()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut p = vec![0u8; PAGE];
        f.read_exact(&mut p).ok()?;
        out.push(p);
    }
    Some(out)
}

/// `n` pages: half from py.pages, half from node.pages, interleaved; generated pages (with a
/// printed message) when the corpus is absent (or `IDXD_NO_CORPUS` is set, to try that path).
pub fn corpus(n: usize) -> Vec<Vec<u8>> {
    let half = n.div_ceil(2);
    let files = if std::env::var_os("IDXD_NO_CORPUS").is_some() {
        (None, None)
    } else {
        (read_pages("py.pages", half), read_pages("node.pages", half))
    };
    match files {
        (Some(a), Some(b)) => a.into_iter().zip(b).flat_map(|(x, y)| [x, y]).take(n).collect(),
        _ => {
            println!(
                "corpus not found at {}: using {n} generated pages",
                corpus_dir().display()
            );
            generated(n)
        }
    }
}

fn splitmix(z: &mut u64) -> u64 {
    *z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut x = *z;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Pages with a corpus-like mix: zero, same-filled, text, pointers, random.
pub fn generated(n: usize) -> Vec<Vec<u8>> {
    let mut s = 42u64;
    (0..n)
        .map(|i| {
            let mut p = vec![0u8; PAGE];
            match i % 10 {
                0 => {}
                1 => p.fill((i % 255) as u8 + 1),
                2..=4 => {
                    let words = ["alpha ", "beta ", "gamma ", "{\"key\": ", "42, ", "null "];
                    let mut o = 0;
                    while o < PAGE {
                        let w = words[(splitmix(&mut s) % words.len() as u64) as usize].as_bytes();
                        let k = w.len().min(PAGE - o);
                        p[o..o + k].copy_from_slice(&w[..k]);
                        o += k;
                    }
                }
                5..=7 => {
                    for c in p.chunks_exact_mut(8) {
                        let v = 0x7f00_0000_0000u64 + (splitmix(&mut s) % 4096) * 16;
                        c.copy_from_slice(&v.to_le_bytes());
                    }
                }
                _ => {
                    for c in p.chunks_exact_mut(8) {
                        c.copy_from_slice(&splitmix(&mut s).to_le_bytes());
                    }
                }
            }
            p
        })
        .collect()
}

/// A page that does not compress.
pub fn random_page(seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x1234_5678_9abc_def1) ^ 0x55;
    let mut p = vec![0u8; PAGE];
    for c in p.chunks_exact_mut(8) {
        c.copy_from_slice(&splitmix(&mut s).to_le_bytes());
    }
    p
}

/// The emulated IAA injecting page faults and hardware errors.
pub fn faulty_iaa(seed: u64) -> Runtime {
    RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig {
                inject: InjectConfig {
                    seed,
                    page_fault: 0.02,
                    hardware_error: 0.01,
                    ..Default::default()
                },
                ..Default::default()
            },
        })
        .batch_size(8)
        .fallback(true)
        .build()
        .expect("emulated IAA runtime")
}

/// A software runtime.
pub fn software(alg: &str) -> Runtime {
    RuntimeBuilder::new()
        .algorithm(alg.parse().expect("algorithm"))
        .build()
        .expect("runtime")
}

/// Requests the runtime redid in software plus errors other than "does not fit": how many
/// injected faults reached it.
pub fn faults_seen(rs: &idxd_runtime::StatsSnapshot) -> u64 {
    rs.codecs
        .iter()
        .map(|(_, c)| {
            c.fallbacks
                + c.errors
                    .iter()
                    .filter(|(k, _)| *k != "does_not_fit")
                    .map(|(_, n)| n)
                    .sum::<u64>()
        })
        .sum()
}

/// The emulated IAA (one device, batch 8, verify-after-compress on as by default, a 100 ms
/// completion timeout so lost completions end quickly) with `schedule`'s faults by descriptor
/// number, and the software fallback on or off.
pub fn iaa_scheduled(schedule: Vec<(u64, Fault)>, fallback: bool) -> Runtime {
    RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig {
                inject: InjectConfig {
                    schedule,
                    ..Default::default()
                },
                ..Default::default()
            },
        })
        .batch_size(8)
        .fallback(fallback)
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .expect("emulated IAA runtime")
}

/// The emulator's counters (the runtime's first device).
pub fn emu_counters(rt: &Runtime) -> CounterSnapshot {
    rt.devices()
        .first()
        .and_then(|d| d.emulated())
        .expect("an emulated device")
        .counters()
}

/// How many times the emulator shows that `fault` happened: completions with its status
/// (page fault 0x03, hardware error 0x20, watchdog 0x24, overflow 0x0a on compress or 0x0b on
/// decompress), records it withheld, outputs it corrupted.
pub fn fault_evidence(rt: &Runtime, fault: Fault) -> u64 {
    let c = emu_counters(rt);
    match fault {
        Fault::PageFault { .. } => c.status(0x03),
        Fault::HardwareError => c.status(0x20),
        Fault::Watchdog => c.status(0x24),
        Fault::OutputOverflow => c.status(0x0a) + c.status(0x0b),
        Fault::NoCompletion => c.no_record,
        Fault::CorruptOutput => c.corrupted,
        Fault::Slow(_) | Fault::Halt => 0,
    }
}

/// Requests served by the software fallback, over every codec.
pub fn fallbacks(rs: &idxd_runtime::StatsSnapshot) -> u64 {
    rs.codecs.iter().map(|(_, c)| c.fallbacks).sum()
}

/// Requests the runtime gave up waiting for (orphaned), over every device.
pub fn orphaned(rt: &Runtime) -> u64 {
    rt.health().iter().map(|h| h.orphaned).sum()
}
