//! Instruction counts of building descriptors with the `idxd-hw` builders (validation included):
//! a DSA memmove, CRC32C, batch and dualcast, an IAA fixed-mode compress and a decompress, and
//! the decode of a built descriptor back to its operation.
//!
//! Needs valgrind and the runner of the same version as the `iai-callgrind` dev-dependency
//! (not run by `.ci/run`):
//!
//! ```sh
//! cargo install iai-callgrind-runner --version 0.16.1
//! cargo bench -p idxd-cli --bench descriptors_iai
//! ```

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use idxd_hw::{
    AecsWrite, CompressFlags, CrcSeed, DecompressFlags, DsaDesc, DsaOp, EndProcessing, IaaDesc, IaaOp,
    Limits, Submit,
};

const REC: u64 = 0x40_0000;

fn limits() -> Limits {
    // Sapphire Rapids DSA: 2 GiB transfers, batches of 1024.
    Limits::from_shifts(31, 10)
}

fn dsa_memmove() -> DsaOp {
    DsaOp::Memmove {
        src: 0x10_0000,
        dst: 0x20_0000,
        len: 4096,
    }
}

fn dsa_crc() -> DsaOp {
    DsaOp::CrcGen {
        src: 0x10_0000,
        len: 4096,
        seed: CrcSeed::Value(0),
    }
}

fn dsa_batch() -> DsaOp {
    DsaOp::Batch {
        list_addr: 0x30_0000,
        count: 32,
    }
}

fn dsa_dualcast() -> DsaOp {
    DsaOp::Dualcast {
        src: 0x10_0000,
        dst1: 0x20_0000,
        dst2: 0x30_0000,
        len: 4096,
    }
}

fn iaa_compress() -> IaaOp {
    IaaOp::Compress {
        src: 0x10_0000,
        len: 4096,
        dst: 0x20_0000,
        max_dst: 4096,
        aecs: 0x30_0000,
        aecs_size: 1568,
        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
        crc32c: false,
        aecs_write: AecsWrite::Never,
        aecs_select: false,
    }
}

fn iaa_decompress() -> IaaOp {
    IaaOp::Decompress {
        src: 0x20_0000,
        len: 1200,
        dst: 0x10_0000,
        max_dst: 4096,
        flags: DecompressFlags::empty(),
        crc32c: false,
    }
}

#[library_benchmark]
#[bench::memmove(dsa_memmove())]
#[bench::crc32c(dsa_crc())]
#[bench::batch(dsa_batch())]
#[bench::dualcast(dsa_dualcast())]
fn build_dsa(op: DsaOp) -> DsaDesc {
    black_box(op)
        .build(&Submit::polled(REC), &limits())
        .expect("valid descriptor")
}

#[library_benchmark]
#[bench::compress(iaa_compress())]
#[bench::decompress(iaa_decompress())]
fn build_iaa(op: IaaOp) -> IaaDesc {
    black_box(op)
        .build(&Submit::polled(REC), &limits())
        .expect("valid descriptor")
}

fn built_memmove() -> DsaDesc {
    dsa_memmove()
        .build(&Submit::polled(REC), &limits())
        .expect("valid descriptor")
}

#[library_benchmark]
#[bench::memmove(built_memmove())]
fn decode_dsa(d: DsaDesc) -> DsaOp {
    DsaOp::decode(black_box(&d)).expect("known opcode").1
}

library_benchmark_group!(name = descriptors; benchmarks = build_dsa, build_iaa, decode_dsa);
main!(library_benchmark_groups = descriptors);
