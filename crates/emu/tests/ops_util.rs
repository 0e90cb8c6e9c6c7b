//! Shared support of the `ops_*` tests (included with `#[path]`; as a test target of its own it
//! holds no tests): a memory layout behind an IOMMU, descriptor builders, software references.
#![allow(dead_code)]

use idxd_emu::iommu::Iommu;
use idxd_emu::ops::{finish, run_dsa, run_iaa, Completed, ExecCtx, Injection, WqLimits};
use idxd_hw::aecs::COMPRESS_AECS_SIZE;
use idxd_hw::regs::SwErr;
use idxd_hw::{
    AecsWrite, Capabilities, CompressFlags, DecompressFlags, DescFlags, DsaCompletion, DsaDesc,
    EndProcessing, IaaCompletion, IaaDesc, IaaOp, Limits, Profile, Submit,
};

/// Completion records (4 KiB: 64 slots of 64 bytes).
pub const REC: u64 = 0x1000;
/// Source buffer (1 MiB).
pub const SRC: u64 = 0x10_0000;
/// Destination buffer (1 MiB).
pub const DST: u64 = 0x20_0000;
/// Auxiliary buffer (1 MiB): second destinations, delta records, AECS, descriptor lists.
pub const AUX: u64 = 0x30_0000;
/// Read-only buffer (64 KiB).
pub const RO: u64 = 0x40_0000;
/// Never mapped.
pub const HOLE: u64 = 0x50_0000;
/// Size of SRC, DST and AUX.
pub const BUF: usize = 1 << 20;

/// The record slot `i`.
pub const fn rec(i: u64) -> u64 {
    REC + 64 * i
}

/// A device's memory and configuration.
pub struct Env {
    pub mmu: Iommu,
    pub caps: Capabilities,
    pub wq: WqLimits,
    pub inject: Option<Injection>,
}

/// What one descriptor did: the result, what `finish` said, and the records as memory holds
/// them afterwards (zero status: not written).
pub struct Out<R> {
    pub done: Completed,
    pub fin: Result<(), SwErr>,
    pub rec: R,
}

impl Env {
    pub fn new(profile: &str) -> Self {
        let caps = Profile::builtin(profile).unwrap().caps;
        let mmu = Iommu::new();
        mmu.map_owned(REC, 4096, true).unwrap();
        mmu.map_owned(SRC, BUF, true).unwrap();
        mmu.map_owned(DST, BUF, true).unwrap();
        mmu.map_owned(AUX, BUF, true).unwrap();
        mmu.map_owned(RO, 64 * 1024, false).unwrap();
        Env {
            mmu,
            caps,
            wq: WqLimits::device_max(&caps),
            inject: None,
        }
    }

    pub fn dsa() -> Self {
        Self::new("dsa-spr")
    }

    pub fn iaa() -> Self {
        Self::new("iaa-spr")
    }

    pub fn ctx(&self) -> ExecCtx<'_> {
        ExecCtx {
            mem: &self.mmu,
            caps: &self.caps,
            wq: self.wq,
            inject: self.inject,
        }
    }

    pub fn put(&self, iova: u64, data: &[u8]) {
        self.mmu.cpu_write(iova, data).unwrap();
    }

    pub fn get(&self, iova: u64, len: usize) -> Vec<u8> {
        self.mmu.cpu_read_vec(iova, len).unwrap()
    }

    fn clear_record(&self, addr: u64, len: usize) {
        // Best effort: the record may be deliberately unmapped or misaligned.
        let _ = self.mmu.cpu_write(addr, &vec![0u8; len]);
    }

    pub fn run_dsa(&self, d: &DsaDesc) -> Out<DsaCompletion> {
        self.clear_record(d.completion_addr, 32);
        let ctx = self.ctx();
        let done = run_dsa(&ctx, d);
        let fin = finish(&ctx, &done);
        let mut b = [0u8; 32];
        let _ = self.mmu.cpu_read(d.completion_addr, &mut b);
        Out {
            done,
            fin,
            rec: DsaCompletion::from_bytes(&b),
        }
    }

    pub fn run_iaa(&self, d: &IaaDesc) -> Out<IaaCompletion> {
        self.clear_record(d.completion_addr, 64);
        let ctx = self.ctx();
        let done = run_iaa(&ctx, d);
        let fin = finish(&ctx, &done);
        let mut b = [0u8; 64];
        let _ = self.mmu.cpu_read(d.completion_addr, &mut b);
        Out {
            done,
            fin,
            rec: IaaCompletion::from_bytes(&b),
        }
    }

    /// Deterministic pseudo-random bytes into `iova`; returns them.
    pub fn fill_random(&self, iova: u64, len: usize, seed: u64) -> Vec<u8> {
        let v = random_bytes(len, seed);
        self.put(iova, &v);
        v
    }
}

/// Deterministic pseudo-random bytes (splitmix64).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        v.extend_from_slice(&z.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Record flags every test descriptor uses unless it says otherwise.
pub fn polled() -> u32 {
    (DescFlags::CRAV | DescFlags::RCR).bits()
}

/// A DSA descriptor with a record at slot 0.
pub fn dsa(opcode: u8, src: u64, dst: u64, len: u32) -> DsaDesc {
    let mut d = DsaDesc::default();
    d.set_opcode_flags(opcode, polled());
    d.completion_addr = rec(0);
    d.src_addr = src;
    d.dst_addr = dst;
    d.xfer_size = len;
    d
}

/// Adds flags to a descriptor.
pub fn with_flags(mut d: DsaDesc, flags: DescFlags) -> DsaDesc {
    let op = d.opcode_raw();
    let f = d.flags_raw() | flags.bits();
    d.set_opcode_flags(op, f);
    d
}

/// Replaces a descriptor's flags.
pub fn set_flags(mut d: DsaDesc, flags: u32) -> DsaDesc {
    let op = d.opcode_raw();
    d.set_opcode_flags(op, flags);
    d
}

/// An IAA descriptor with a record at slot 0.
pub fn iaa(opcode: u8, src: u64, dst: u64, len: u32) -> IaaDesc {
    let mut d = IaaDesc::default();
    d.set_opcode_flags(opcode, polled());
    d.completion_addr = rec(0);
    d.src1_addr = src;
    d.dst_addr = dst;
    d.src1_size = len;
    d
}

/// Adds flags to an IAA descriptor.
pub fn iaa_flags(mut d: IaaDesc, flags: DescFlags) -> IaaDesc {
    let op = d.opcode_raw();
    let f = d.flags_raw() | flags.bits();
    d.set_opcode_flags(op, f);
    d
}

/// CRC-32C, bit by bit, continued from the finished CRC `seed` (RFC 3720 polynomial).
pub fn crc32c_ref(seed: u32, data: &[u8]) -> u32 {
    let mut c = !seed;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The delta record of `a` -> `b` (8-byte words), as DSA lays it out.
pub fn delta_ref(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (x, y)) in a.chunks(8).zip(b.chunks(8)).enumerate() {
        if x != y {
            out.extend_from_slice(&(i as u16).to_le_bytes());
            out.extend_from_slice(y);
        }
    }
    out
}

// ---- IAA descriptors ----

pub const LIM: Limits = Limits {
    max_transfer: 1 << 31,
    max_batch: 0,
};
/// Where decompressed data goes.
pub const OUT: u64 = AUX + 0x10000;
pub const AECS: u64 = AUX;
pub const AECS2: u64 = AUX + COMPRESS_AECS_SIZE as u64;

pub fn page_flags() -> CompressFlags {
    CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob)
}

pub fn build(op: IaaOp) -> IaaDesc {
    op.build(&Submit::polled(rec(0)), &LIM).unwrap()
}

pub fn compress(
    len: u32,
    max_dst: u32,
    aecs_size: u32,
    flags: CompressFlags,
    write: AecsWrite,
    select: bool,
) -> IaaDesc {
    build(IaaOp::Compress {
        src: SRC,
        len,
        dst: DST,
        max_dst,
        aecs: AECS,
        aecs_size,
        flags,
        crc32c: false,
        aecs_write: write,
        aecs_select: select,
    })
}

pub fn decompress(src: u64, len: u32, max_dst: u32, flags: DecompressFlags) -> IaaDesc {
    build(IaaOp::Decompress {
        src,
        len,
        dst: OUT,
        max_dst,
        flags,
        crc32c: false,
    })
}

pub fn eob_flags() -> DecompressFlags {
    DecompressFlags::STOP_ON_EOB | DecompressFlags::CHECK_EOB
}
