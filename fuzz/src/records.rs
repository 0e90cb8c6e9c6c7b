//! Completion records read back by the driver and mapped by the runtime: a backing that answers
//! every descriptor with arbitrary record bytes (what a faulty or hostile device could write).
//! Invariants: no panic, no hang; every request gets one outcome; a success never claims more
//! output than the destination has room for.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idxd_driver::backing::emu::{EmuBacking, Hooked};
use idxd_driver::{Backed, BringUpOptions, Enqueued};
use idxd_emu::device::EmuConfig;
use idxd_runtime::{Algorithm, IaaMode, Runtime, RuntimeBuilder};

/// The records the device will write: the next 64 bytes of the script for every descriptor.
#[derive(Default)]
struct Script(Mutex<(Vec<u8>, usize)>);

impl Script {
    fn next_record(&self) -> [u8; 64] {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut rec = [0u8; 64];
        let (bytes, pos) = &mut *g;
        for b in rec.iter_mut() {
            *b = bytes.get(*pos).copied().unwrap_or(0);
            *pos = (*pos + 1) % bytes.len().max(1);
        }
        // A record is complete once its status byte is non-zero.
        if rec[0] == 0 {
            rec[0] = 1;
        }
        rec
    }
}

fn runtime() -> &'static (Arc<Script>, Runtime) {
    static RT: OnceLock<(Arc<Script>, Runtime)> = OnceLock::new();
    RT.get_or_init(|| {
        let s = Arc::new(Script::default());
        let script = s.clone();
        // The hook plays the device: every descriptor is answered with the script's next
        // record (body first, status byte last, as a device writes it), nothing is executed.
        let backing = EmuBacking::from_profile("iaa-spr", EmuConfig::default())
            .expect("built-in profile")
            .with_submit_hook(Box::new(move |dev, desc| {
                let rec_addr = u64::from_le_bytes(desc.0[8..16].try_into().expect("8 bytes"));
                let rec = script.next_record();
                let _ = dev.iommu().cpu_write(rec_addr + 1, &rec[1..]);
                let _ = dev.iommu().cpu_write(rec_addr, &rec[..1]);
                Hooked::Answer(Enqueued::Accepted)
            }));
        let dev = Backed::from_backing(Arc::new(backing), "scripted".into(), 0)
            .expect("registers")
            .bring_up(None, 1, BringUpOptions::default())
            .expect("bring-up");
        let rt = RuntimeBuilder::new()
            .algorithm(Algorithm::Iaa(IaaMode::Fixed))
            .opened_device(dev)
            .batch_size(4)
            // The records themselves reach the callers: no software redo, no verify pass.
            .fallback(false)
            .verify(false)
            .timeout(Duration::from_millis(20))
            .build()
            .expect("runtime");
        (s, rt)
    })
}

/// One fuzz case: the records the device will write, in order.
pub fn records_one(data: &[u8]) {
    let (s, rt) = runtime();
    *s.0.lock().unwrap_or_else(|e| e.into_inner()) = (data.to_vec(), 0);
    let mut ctx = rt.context();
    let page: Vec<u8> = (0..4096u32).map(|i| (i / 16) as u8).collect();
    let srcs = [&page[..]; 4];
    for room in [4096usize, 100] {
        let mut outs = vec![vec![0u8; room]; 4];
        let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let r = ctx.compress(&srcs, &mut dsts);
        assert_eq!(r.len(), 4);
        for x in &r {
            if let Ok(n) = x {
                assert!(*n <= room, "compress claims {n} bytes in {room}");
            }
        }
        let mut backs = vec![vec![0u8; room]; 4];
        let mut b: Vec<&mut [u8]> = backs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let comp: Vec<&[u8]> = outs.iter().map(|o| &o[..64.min(o.len())]).collect();
        let r = ctx.decompress(&comp, &mut b);
        assert_eq!(r.len(), 4);
        for x in &r {
            if let Ok(n) = x {
                assert!(*n <= room, "decompress claims {n} bytes in {room}");
            }
        }
    }
}
