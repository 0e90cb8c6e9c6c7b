//! The asynchronous queue and the DSA operations.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use idxd_emu::device::EmuConfig;
use idxd_runtime::{
    Algorithm, AsyncCompressor, Callback, DeviceSpec, DsaOutput, DsaRequest, IaaMode, RuntimeBuilder,
};

fn page(i: usize) -> Vec<u8> {
    format!("page {i}: the quick brown fox jumps over the lazy dog. ")
        .bytes()
        .cycle()
        .take(4096)
        .collect()
}

#[test]
fn async_queue_completes_every_request_by_callback() {
    for alg in [Algorithm::Lz4, Algorithm::Iaa(IaaMode::Fixed)] {
        let rt = RuntimeBuilder::new().algorithm(alg).build().unwrap();
        let q = AsyncCompressor::new(&rt, 2, 64);
        let (tx, rx) = mpsc::channel();
        let mut sync_done = 0;
        for i in 0..500 {
            let tx = tx.clone();
            let cb: Callback = Box::new(move |src, res| tx.send((src, res)).unwrap());
            if let Err((src, cb)) = q.submit(page(i), 4096, cb) {
                // Queue full: the caller does it synchronously.
                let mut out = vec![0u8; 4096];
                let r = rt.context().compress(&[&src], &mut [&mut out]);
                cb(src, r[0].clone().map(|n| out[..n].to_vec()));
                sync_done += 1;
            }
        }
        drop(tx);
        q.shutdown();
        let mut ctx = rt.context();
        let mut n = 0;
        for (src, res) in rx.iter() {
            let comp = res.unwrap();
            let mut back = vec![0u8; 4096];
            assert_eq!(ctx.decompress(&[&comp], &mut [&mut back])[0], Ok(4096));
            assert_eq!(back, src);
            n += 1;
        }
        assert_eq!(n, 500, "{alg}: {sync_done} done synchronously");
    }
}

#[test]
fn a_full_queue_hands_the_request_back() {
    let rt = RuntimeBuilder::new().algorithm(Algorithm::Lz4).build().unwrap();
    let gate = Arc::new(Mutex::new(()));
    let hold = gate.lock().unwrap();
    let q = AsyncCompressor::new(&rt, 1, 2);
    let mut refused = 0;
    for i in 0..10 {
        let g = gate.clone();
        let cb: Callback = Box::new(move |_, _| drop(g.lock()));
        if q.submit(page(i), 4096, cb).is_err() {
            refused += 1;
        }
    }
    // One request is with the worker (blocked in its callback), two are queued.
    assert!(refused >= 7, "{refused}");
    drop(hold);
    q.shutdown();
}

#[test]
fn dsa_operations_on_device_match_software() {
    let dev = RuntimeBuilder::new()
        .dsa_device(DeviceSpec::Emulated {
            profile: "dsa-spr".into(),
            config: EmuConfig::default(),
        })
        .build()
        .unwrap();
    let sw = RuntimeBuilder::new().build().unwrap();
    let mut on_dev = dev.dsa_context().unwrap();
    let mut soft = sw.dsa_context().unwrap();
    assert!(on_dev.is_device() && !soft.is_device());
    let a = page(1);
    let mut b = a.clone();
    b[1234] ^= 1;
    let zero = vec![0u8; 4096];
    let same: Vec<u8> = 0x0102_0304_0506_0708u64
        .to_le_bytes()
        .iter()
        .cycle()
        .take(4096)
        .copied()
        .collect();
    let run = |ctx: &mut idxd_runtime::DsaContext| {
        let mut copy = vec![0u8; 4096];
        let mut fill = vec![0u8; 4096];
        let out = {
            let mut reqs = vec![
                DsaRequest::Copy {
                    src: &a,
                    dst: &mut copy,
                },
                DsaRequest::Fill {
                    dst: &mut fill,
                    pattern: 0xfeed,
                },
                DsaRequest::Compare { a: &a, b: &b },
                DsaRequest::Compare { a: &a, b: &a },
                DsaRequest::Crc32c { src: &a, seed: 0 },
                DsaRequest::SameFilled { page: &zero },
                DsaRequest::SameFilled { page: &same },
                DsaRequest::SameFilled { page: &a },
            ];
            ctx.run(&mut reqs)
        };
        (out, copy, fill)
    };
    let (d, dc, df) = run(&mut on_dev);
    let (s, sc, sf) = run(&mut soft);
    assert_eq!(d, s);
    assert_eq!((dc, df), (sc, sf));
    assert_eq!(d[2], Ok(DsaOutput::Compared(Some(1234))));
    assert_eq!(d[5], Ok(DsaOutput::SameFilled(Some(0))));
    assert_eq!(d[6], Ok(DsaOutput::SameFilled(Some(0x0102_0304_0506_0708))));
    assert_eq!(d[7], Ok(DsaOutput::SameFilled(None)));
    // Bad requests get their own error, the rest still run.
    let mut dst = vec![0u8; 10];
    let mut reqs = vec![
        DsaRequest::Copy {
            src: &a,
            dst: &mut dst,
        },
        DsaRequest::Crc32c { src: &a, seed: 0 },
    ];
    let r = on_dev.run(&mut reqs);
    assert_eq!(
        r[0].as_ref().unwrap_err().kind,
        idxd_runtime::ErrorKind::InvalidRequest
    );
    assert_eq!(r[1], d[4]);
}

#[test]
fn stats_count_requests_bytes_and_latency() {
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Zstd { level: 1 })
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let pages: Vec<Vec<u8>> = (0..16).map(page).collect();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut outs = vec![vec![0u8; 4096]; 16];
    let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let r = ctx.compress(&srcs, &mut dsts);
    let total: usize = r.iter().map(|x| *x.as_ref().unwrap()).sum();
    let s = rt.stats().get("zstd/compress");
    assert_eq!(
        (s.requests, s.bytes_in, s.bytes_out),
        (16, 16 * 4096, total as u64)
    );
    assert!(s.latency_quantile_ns(0.5) > 0);
}

#[test]
fn contexts_prefer_devices_on_their_numa_node_and_split_wqs() {
    let spec = |node| DeviceSpec::EmulatedOnNode {
        profile: "iaa-spr".into(),
        config: EmuConfig::default(),
        node,
    };
    let pages: Vec<Vec<u8>> = (0..32).map(page).collect();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let work = |rt: &idxd_runtime::Runtime| {
        for _ in 0..4 {
            let mut ctx = rt.context();
            let mut outs = vec![vec![0u8; 4096]; 32];
            let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
            assert!(ctx.compress(&srcs, &mut dsts).iter().all(|r| r.is_ok()));
        }
        rt.devices()
            .iter()
            .map(|d| d.emulated().unwrap().counters().opcode(0x43))
            .collect::<Vec<_>>()
    };
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(spec(0))
        .device(spec(1))
        .numa_node(1)
        .build()
        .unwrap();
    assert_eq!(work(&rt), vec![0, 128], "every compress on the node-1 device");
    // No device on the context's node: all devices share the work.
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .device(spec(0))
        .device(spec(1))
        .numa_node(7)
        .build()
        .unwrap();
    let c = work(&rt);
    assert!(c[0] > 0 && c[1] > 0 && c[0] + c[1] == 128, "{c:?}");
    // Split: compress on the last WQ only, decompress on the others (checked through their
    // completions: every request still succeeds both ways).
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Iaa(IaaMode::Fixed))
        .wqs_per_device(4)
        .split_wqs(1)
        .build()
        .unwrap();
    let mut ctx = rt.context();
    let mut out = vec![0u8; 4096];
    let n = *ctx.compress(&[&pages[0]], &mut [&mut out])[0].as_ref().unwrap();
    let mut back = vec![0u8; 4096];
    assert_eq!(ctx.decompress(&[&out[..n]], &mut [&mut back])[0], Ok(4096));
    assert_eq!(back, pages[0]);
}

#[test]
fn dynamic_mode_runs_a_statistics_pass_on_the_device_and_beats_fixed() {
    let (pages, _) = idxd_runtime::corpus::pages_or_builtin(512);
    let pages: Vec<Vec<u8>> = pages
        .into_iter()
        .filter(|p| p.iter().any(|&b| b != 0))
        .take(64)
        .collect();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut sizes = Vec::new();
    for mode in [IaaMode::Fixed, IaaMode::Dynamic] {
        let rt = RuntimeBuilder::new()
            .algorithm(Algorithm::Iaa(mode))
            .verify(true)
            .fallback(false)
            .build()
            .unwrap();
        let mut ctx = rt.context();
        let mut outs = vec![vec![0u8; 4096]; pages.len()];
        let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let r = ctx.compress(&srcs, &mut dsts);
        let mut total = 0usize;
        for (k, res) in r.iter().enumerate() {
            let n = match res {
                Ok(n) => *n,
                Err(e) if e.kind == idxd_runtime::ErrorKind::DoesNotFit => 4096,
                Err(e) => panic!("{mode:?}: {e}"),
            };
            total += n;
            if n < 4096 {
                let mut back = vec![0u8; 4096];
                assert_eq!(ctx.decompress(&[&outs[k][..n]], &mut [&mut back])[0], Ok(4096));
                assert_eq!(back, pages[k]);
            }
        }
        let dev = rt.devices()[0].emulated().unwrap().counters();
        // Fixed: one compress descriptor per request; dynamic: statistics pass + compress pass.
        let per = if mode == IaaMode::Dynamic { 2 } else { 1 };
        assert_eq!(dev.opcode(0x43), per * pages.len() as u64, "{mode:?}");
        sizes.push(total);
    }
    assert!(
        sizes[1] < sizes[0],
        "dynamic {} bytes vs fixed {}",
        sizes[1],
        sizes[0]
    );
}
