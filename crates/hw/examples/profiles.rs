//! Decodes every shipped device profile and builds the descriptor each part is most used for,
//! printing what the hardware model says. Run: `cargo run --release -p idxd-hw --example profiles`.

use idxd_hw::profile::{Profile, BUILTIN};
use idxd_hw::{CompressFlags, DeviceKind, DsaOp, EndProcessing, IaaOp, Limits, Submit};

fn main() {
    println!(
        "{:<8} {:<28} {:>5} {:>4} {:>7} {:>6} {:>5} {:>6} {:>8} {:>6}",
        "profile", "part", "WQs", "grp", "entries", "engine", "rdbuf", "batch", "max xfer", "opcodes"
    );
    let mut failures = 0;
    for (name, _) in BUILTIN {
        let p = match Profile::builtin(name) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                failures += 1;
                continue;
            }
        };
        let c = &p.caps;
        println!(
            "{:<8} {:<28} {:>5} {:>4} {:>7} {:>6} {:>5} {:>6} {:>7}M {:>6}",
            p.name,
            p.part_name(),
            c.num_wqs(),
            c.num_groups(),
            c.total_wq_size(),
            c.num_engines,
            c.total_read_buffers(),
            c.max_batch_size(),
            c.max_transfer_size() >> 20,
            c.opcap.opcodes().count()
        );
    }
    let spr = Profile::builtin("iaa-spr").expect("built-in profile");
    let lim = Limits::from_shifts(spr.caps.gencap.max_xfer_shift, spr.caps.gencap.max_batch_shift);
    let compress = IaaOp::Compress {
        src: 0x10_0000,
        len: 4096,
        dst: 0x20_0000,
        max_dst: 4096,
        aecs: 0x30_0000,
        aecs_size: 1568,
        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
        crc32c: false,
        aecs_write: idxd_hw::AecsWrite::Never,
        aecs_select: false,
    };
    let d = compress
        .build(&Submit::polled(0x40_0000), &lim)
        .expect("valid request");
    println!("\nIAA fixed-mode compress descriptor (the kernel's iaa_crypto form):");
    hexdump(&d.to_bytes());
    let dsa = Profile::builtin("dsa-spr").expect("built-in profile");
    assert_eq!(dsa.kind, DeviceKind::Dsa);
    let lim = Limits::from_shifts(dsa.caps.gencap.max_xfer_shift, dsa.caps.gencap.max_batch_shift);
    let d = DsaOp::Memmove {
        src: 0x10_0000,
        dst: 0x20_0000,
        len: 4096,
    }
    .build(&Submit::polled(0x40_0000), &lim)
    .expect("valid request");
    println!("DSA memmove descriptor:");
    hexdump(&d.to_bytes());
    match (DsaOp::Batch {
        list_addr: 0x1000,
        count: 2048,
    })
    .build(&Submit::polled(0x40_0000), &lim)
    {
        Err(e) => println!("refused as the hardware would: {e}"),
        Ok(_) => failures += 1,
    }
    std::process::exit(failures);
}

fn hexdump(b: &[u8]) {
    for (i, row) in b.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
        println!("  +{:02x}: {}", i * 16, hex.join(" "));
    }
}
