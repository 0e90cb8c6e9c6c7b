//! Each error kind comes from the condition that causes it, with the same kind for software
//! codecs and the (emulated) device.

use std::io::Write;
use std::time::Duration;

use idxd_emu::device::EmuConfig;
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_runtime::{Algorithm, DeviceSpec, ErrorKind, IaaMode, Runtime, RuntimeBuilder};

fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn text(n: usize) -> Vec<u8> {
    b"zswap stores compressed pages; zram is a compressed block device. "
        .iter()
        .cycle()
        .take(n)
        .copied()
        .collect()
}

fn iaa(inject: InjectConfig, fallback: bool) -> Runtime {
    RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig {
                inject,
                ..Default::default()
            },
        })
        .fallback(fallback)
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap()
}

fn every_backend() -> Vec<Runtime> {
    vec![
        RuntimeBuilder::new().algorithm(Algorithm::Lz4).build().unwrap(),
        RuntimeBuilder::new()
            .algorithm(Algorithm::Zstd { level: 1 })
            .build()
            .unwrap(),
        RuntimeBuilder::new()
            .algorithm(Algorithm::Deflate { level: 1 })
            .build()
            .unwrap(),
        iaa(InjectConfig::none(), false),
        iaa(InjectConfig::none(), true),
    ]
}

#[test]
fn does_not_fit_is_the_same_for_every_backend() {
    for rt in every_backend() {
        let mut ctx = rt.context();
        let page = noise(4096, 7);
        let mut out = vec![0u8; 4096];
        let r = ctx.compress(&[&page], &mut [&mut out]);
        assert_eq!(
            r[0].as_ref().unwrap_err().kind,
            ErrorKind::DoesNotFit,
            "{}",
            rt.algorithm_name()
        );
        // A compressible page decompressed into too little room.
        let t = text(4096);
        let n = ctx.compress(&[&t], &mut [&mut out])[0].clone().unwrap();
        let mut small = vec![0u8; 1000];
        let r = ctx.decompress(&[&out[..n]], &mut [&mut small]);
        assert_eq!(
            r[0].as_ref().unwrap_err().kind,
            ErrorKind::DoesNotFit,
            "{}",
            rt.algorithm_name()
        );
    }
}

#[test]
fn corrupt_and_invalid_requests_are_the_same_for_every_backend() {
    for rt in every_backend() {
        let mut ctx = rt.context();
        let mut out = vec![0u8; 4096];
        // A stream of a block type deflate does not have, a bad lz4 token, a bad zstd magic.
        let junk = [0xffu8; 64];
        let r = ctx.decompress(&[&junk], &mut [&mut out]);
        assert_eq!(
            r[0].as_ref().unwrap_err().kind,
            ErrorKind::Corrupt,
            "{}",
            rt.algorithm_name()
        );
        let r = ctx.compress(&[&[]], &mut [&mut out]);
        assert_eq!(
            r[0].as_ref().unwrap_err().kind,
            ErrorKind::InvalidRequest,
            "{}",
            rt.algorithm_name()
        );
        let page = text(4096);
        let r = ctx.compress(&[&page], &mut [&mut []]);
        assert_eq!(r[0].as_ref().unwrap_err().kind, ErrorKind::InvalidRequest);
    }
}

fn zlib_32k_stream(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn unsupported_32k_window_stream_falls_back_to_software_inflate() {
    // Data whose repeats are 8 KiB apart: zlib's 32 KiB window uses distances the device refuses.
    let block = noise(8192, 3);
    let data: Vec<u8> = block.iter().chain(block.iter()).copied().collect();
    let stream = zlib_32k_stream(&data);
    assert!(stream.len() < 12_000);
    let mut out = vec![0u8; data.len()];
    let rt = iaa(InjectConfig::none(), false);
    let r = rt.context().decompress(&[&stream], &mut [&mut out]);
    let e = r[0].as_ref().unwrap_err();
    assert_eq!(
        (e.kind, e.status, e.error_code),
        (ErrorKind::Unsupported, Some(0x0a), Some(17))
    );
    let rt = iaa(InjectConfig::none(), true);
    let r = rt.context().decompress(&[&stream], &mut [&mut out]);
    assert_eq!(r[0], Ok(data.len()));
    assert_eq!(out, data);
    let s = rt.stats();
    assert_eq!(s.get("deflate-iaa/decompress").fallbacks, 1);
}

#[test]
fn device_conditions_map_to_their_kinds() {
    let page = text(4096);
    let cases: [(Fault, ErrorKind); 4] = [
        (
            Fault::PageFault { at_offset: 100 },
            ErrorKind::PageFault { addr: 0 },
        ),
        (Fault::HardwareError, ErrorKind::DeviceError),
        (Fault::Watchdog, ErrorKind::Timeout),
        (Fault::Halt, ErrorKind::DeviceHalted),
    ];
    for (fault, want) in cases {
        let rt = iaa(
            InjectConfig {
                schedule: vec![(0, fault)],
                ..Default::default()
            },
            false,
        );
        let mut ctx = rt.context();
        let mut out = vec![0u8; 4096];
        let r = ctx.compress(&[&page], &mut [&mut out]);
        let e = r[0].as_ref().unwrap_err();
        match (e.kind, want) {
            (ErrorKind::PageFault { addr }, ErrorKind::PageFault { .. }) => assert_ne!(addr, 0),
            (k, w) => assert_eq!(k, w, "{fault:?}: {e}"),
        }
        // The next request works (the halted device recovered by itself).
        let r = ctx.compress(&[&page], &mut [&mut out]);
        assert!(r[0].is_ok(), "{fault:?}: {:?}", r[0]);
        // With fallback the same fault is invisible: software did the work.
        let rt = iaa(
            InjectConfig {
                schedule: vec![(0, fault)],
                ..Default::default()
            },
            true,
        );
        let r = rt.context().compress(&[&page], &mut [&mut out]);
        let n = *r[0].as_ref().unwrap();
        let mut back = vec![0u8; 4096];
        assert_eq!(
            rt.context().decompress(&[&out[..n]], &mut [&mut back])[0],
            Ok(4096)
        );
        assert_eq!(back, page);
        assert_eq!(rt.stats().get("deflate-iaa/compress").fallbacks, 1, "{fault:?}");
    }
}

#[test]
fn lost_completions_time_out_then_the_queue_fills() {
    let inject = InjectConfig {
        no_completion: 1.0,
        ..Default::default()
    };
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig {
                inject,
                ..Default::default()
            },
        })
        .wqs_per_device(8)
        .batch_size(1)
        .fallback(false)
        .timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let page = text(4096);
    let mut out = vec![0u8; 4096];
    // Every request times out and keeps its slot and staging (orphaned) until both run out on
    // every WQ of the context: then the request finds no room.
    let mut timeouts = 0u64;
    let last = loop {
        let r = ctx.compress(&[&page], &mut [&mut out]);
        let e = r[0].as_ref().unwrap_err().clone();
        if e.kind != ErrorKind::Timeout || timeouts > 8 * 16 {
            break e;
        }
        timeouts += 1;
    };
    assert_eq!(last.kind, ErrorKind::QueueFull, "{last}");
    let orphaned: u64 = rt.devices()[0].wqs().iter().map(|w| w.counters().orphaned).sum();
    assert!(timeouts >= 16, "{timeouts}");
    assert_eq!(orphaned, timeouts, "each timeout left its request with its WQ");
    let s = rt.stats().get("deflate-iaa/compress");
    assert_eq!(
        (s.errors_of(ErrorKind::Timeout), s.errors_of(ErrorKind::QueueFull)),
        (timeouts, 1)
    );
}

#[test]
fn verify_after_compress_passes_on_good_output() {
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Dynamic))
        .verify(true)
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let pages: Vec<Vec<u8>> = (0..8).map(|i| text(4096 - i * 100)).collect();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut outs = vec![vec![0u8; 4096]; 8];
    let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let r = ctx.compress(&srcs, &mut dsts);
    assert!(r.iter().all(|x| x.is_ok()), "{r:?}");
}

#[test]
fn algorithm_names_parse() {
    for (s, a) in [
        ("deflate-iaa", Algorithm::Iaa(IaaMode::Fixed)),
        ("deflate-iaa-dynamic", Algorithm::Iaa(IaaMode::Dynamic)),
        ("zstd-3", Algorithm::Zstd { level: 3 }),
        ("zstd", Algorithm::Zstd { level: 1 }),
        ("deflate-6", Algorithm::Deflate { level: 6 }),
        ("lz4", Algorithm::Lz4),
    ] {
        assert_eq!(s.parse::<Algorithm>().unwrap(), a, "{s}");
    }
    assert!("lzo".parse::<Algorithm>().is_err());
    assert!("zstd-x".parse::<Algorithm>().is_err());
}

#[test]
fn requests_larger_than_the_device_takes_go_to_software() {
    let big = text(256 * 1024);
    let mut out = vec![0u8; 256 * 1024];
    let rt = iaa(InjectConfig::none(), false);
    let r = rt.context().compress(&[&big], &mut [&mut out]);
    assert_eq!(r[0].as_ref().unwrap_err().kind, ErrorKind::InvalidRequest);
    let rt = iaa(InjectConfig::none(), true);
    let mut ctx = rt.context();
    let n = *ctx.compress(&[&big], &mut [&mut out])[0].as_ref().unwrap();
    let mut back = vec![0u8; big.len()];
    assert_eq!(ctx.decompress(&[&out[..n]], &mut [&mut back])[0], Ok(big.len()));
    assert_eq!(back, big);
}
