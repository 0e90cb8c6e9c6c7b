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

/// Every completion is lost. Each request times out, and its slot and staging stay with the
/// WQ; when they run short, a drain proves the device is done with them and gives them back,
/// so the device keeps being used (it used to be abandoned for good after 128 lost records,
/// every later request going to software without a word). The WQ counters say what happened.
#[test]
fn lost_completions_are_recovered_by_draining_and_the_device_stays_in_use() {
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
        .batch_size(4)
        .fallback(true)
        .timeout(Duration::from_millis(2))
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let page = text(4096);
    const N: usize = 300;
    for i in 0..N / 4 {
        let srcs = [&page[..]; 4];
        let mut outs = vec![vec![0u8; 4096]; 4];
        let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        for r in ctx.compress(&srcs, &mut dsts) {
            assert!(r.is_ok(), "request {i}: {r:?}");
        }
    }
    let dev = &rt.devices()[0];
    let emu = dev.emulated().unwrap().counters();
    // Every request reached the device (compress and its verify each get a descriptor, but a
    // compress whose record is lost never gets a verify).
    assert_eq!(emu.no_record, N as u64, "every request was sent to the device");
    let (mut orphaned, mut released, mut drains) = (0, 0, 0);
    for w in dev.wqs() {
        let c = w.counters();
        orphaned += c.orphaned;
        released += c.orphans_released;
        drains += c.drains;
    }
    assert_eq!(orphaned, N as u64);
    assert!(drains > 0 && released > 0, "drains {drains}, released {released}");
    assert_eq!(rt.stats().get("fallback").requests, N as u64);
}

/// A device that reports success for output with a wrong byte: verify-after-compress (on by
/// default) fails the request as `Corrupt`; with the fallback on, software redoes it and the
/// page comes back whole. The emulator's `corrupted` counter proves the fault reached the
/// verify path.
#[test]
fn verify_catches_output_the_device_got_wrong() {
    let inject = InjectConfig {
        corrupt_output: 1.0,
        ..Default::default()
    };
    let page = text(4096);
    let mut out = vec![0u8; 4096];
    let rt = iaa(inject.clone(), false);
    let r = rt.context().compress(&[&page], &mut [&mut out]);
    let e = r[0].as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Corrupt, "{e}");
    assert!(rt.devices()[0].emulated().unwrap().counters().corrupted >= 1);
    // Whatever the wrong byte does to the stream (a CRC mismatch, or an analytics error such as
    // a distance too far), the request is Corrupt, so a fallback redoes it.
    let mut ctx = rt.context();
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..64u32 {
        let mut p = text(4096);
        for (k, b) in noise(512, seed + 1).into_iter().enumerate() {
            p[k * 8] = b;
        }
        let r = ctx.compress(&[&p], &mut [&mut out]);
        let e = r[0].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Corrupt, "page {seed}: {e}");
        kinds.insert((e.status, e.error_code));
    }
    assert!(
        kinds.len() > 1,
        "the corruptions took more than one form: {kinds:?}"
    );

    let rt = iaa(inject, true);
    let mut ctx = rt.context();
    let n = *ctx.compress(&[&page], &mut [&mut out])[0].as_ref().unwrap();
    let mut back = vec![0u8; 4096];
    // The fallback compressed it in software: an independent inflater (zlib through flate2)
    // reads the page back from it.
    let mut plain = flate2::Decompress::new(false);
    plain
        .decompress(&out[..n], &mut back, flate2::FlushDecompress::Finish)
        .unwrap();
    assert_eq!(back, page, "the fallback's output is a valid stream of the page");
    assert_eq!(rt.stats().get("fallback").requests, 1);
    // Verify off: the corrupted stream is returned as if good (the reason verify is the default).
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(DeviceSpec::Emulated {
            profile: "iaa-spr".into(),
            config: EmuConfig {
                inject: InjectConfig {
                    corrupt_output: 1.0,
                    ..Default::default()
                },
                ..Default::default()
            },
        })
        .verify(false)
        .build()
        .unwrap();
    assert!(rt.context().compress(&[&page], &mut [&mut out])[0].is_ok());
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
    for bad in ["deflate-0", "deflate-10", "zstd-1000"] {
        assert!(
            matches!(
                bad.parse::<Algorithm>(),
                Err(idxd_runtime::RuntimeError::BadLevel { .. })
            ),
            "{bad}"
        );
    }
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
