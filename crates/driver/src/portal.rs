//! The submission instructions and the portal they write to.
//!
//! A dedicated WQ takes descriptors through MOVDIR64B (a posted 64-byte write: no answer, the
//! driver keeps credits), a shared WQ through ENQCMD (a non-posted 64-byte write the device
//! accepts or refuses: ZF=1 means refused, retry). Stable Rust has no intrinsic for either, so
//! both are inline `asm!` behind a runtime CPUID check (CPUID.7.0:ECX bit 28 MOVDIR64B, bit 29
//! ENQCMD), each preceded by `sfence` so that descriptor contents and completion-record resets
//! written with ordinary stores are globally visible before the device can read them.
//!
//! Neither instruction may ever be pointed at ordinary memory by a test: on a CPU without them
//! they raise #UD (SIGILL), and ENQCMD to anything but a device portal faults (#GP). The tests in
//! this module only detect and refuse.

use std::ptr::NonNull;
use std::sync::OnceLock;

use idxd_hw::portal::{DESC_SLOT, PORTAL_SIZE};

use crate::{DescBytes, DriverError, Enqueued, PortalKind};

/// CPUID.7.0:ECX bit of MOVDIR64B.
pub const MOVDIR64B_BIT: u32 = 28;
/// CPUID.7.0:ECX bit of ENQCMD.
pub const ENQCMD_BIT: u32 = 29;
/// How often a refused ENQCMD is retried before [`Enqueued::Retry`] is reported (the kernel's
/// count).
pub const ENQCMD_RETRIES: u32 = 32;
/// A portal page: every 64-byte-aligned offset in it reaches the same WQ
/// ([`idxd_hw::portal::PORTAL_SIZE`]).
pub const PORTAL_PAGE: usize = PORTAL_SIZE as usize;
/// One descriptor write: its size and alignment ([`idxd_hw::portal::DESC_SLOT`]).
const SLOT: usize = DESC_SLOT as usize;

/// Which submission instructions the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct CpuFeatures {
    /// MOVDIR64B (dedicated WQs).
    pub movdir64b: bool,
    /// ENQCMD (shared WQs).
    pub enqcmd: bool,
}

impl CpuFeatures {
    /// Neither instruction.
    pub const NONE: CpuFeatures = CpuFeatures {
        movdir64b: false,
        enqcmd: false,
    };
    /// Both instructions (for tests that must get past the check without submitting).
    pub const ALL: CpuFeatures = CpuFeatures {
        movdir64b: true,
        enqcmd: true,
    };

    /// This CPU's instructions, detected once and cached. Always [`CpuFeatures::NONE`] off
    /// x86_64.
    pub fn detect() -> CpuFeatures {
        static CACHE: OnceLock<CpuFeatures> = OnceLock::new();
        *CACHE.get_or_init(detect_uncached)
    }

    /// Whether the instruction for `kind` is there.
    pub fn has(self, kind: PortalKind) -> bool {
        match kind {
            PortalKind::Movdir64b => self.movdir64b,
            PortalKind::Enqcmd => self.enqcmd,
        }
    }

    /// [`DriverError::CpuLacks`] for `kind` on `wq` when the instruction is missing.
    pub fn require(self, kind: PortalKind, wq: &str) -> Result<(), DriverError> {
        if self.has(kind) {
            Ok(())
        } else {
            let (instruction, bit) = instruction(kind);
            Err(DriverError::CpuLacks {
                instruction,
                bit,
                wq: wq.to_string(),
            })
        }
    }
}

/// The instruction's name and CPUID bit.
pub fn instruction(kind: PortalKind) -> (&'static str, u32) {
    match kind {
        PortalKind::Movdir64b => ("MOVDIR64B", MOVDIR64B_BIT),
        PortalKind::Enqcmd => ("ENQCMD", ENQCMD_BIT),
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_uncached() -> CpuFeatures {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // Newer toolchains made these intrinsics safe; the blocks keep older ones (the MSRV) happy.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 0 only reports the highest leaf.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    if max_leaf < 7 {
        return CpuFeatures::NONE;
    }
    #[allow(unused_unsafe)]
    // SAFETY: leaf 7 exists (max_leaf >= 7); CPUID has no side effects.
    let ecx = unsafe { __cpuid_count(7, 0) }.ecx;
    CpuFeatures {
        movdir64b: ecx & (1 << MOVDIR64B_BIT) != 0,
        enqcmd: ecx & (1 << ENQCMD_BIT) != 0,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_uncached() -> CpuFeatures {
    CpuFeatures::NONE
}

/// `sfence`, then MOVDIR64B of `desc` to `portal`.
///
/// # Safety
/// The CPU must have MOVDIR64B ([`CpuFeatures::movdir64b`]); `portal` must be a 64-byte-aligned
/// address inside a mapped, writable WQ portal of a device (never ordinary memory).
#[cfg(target_arch = "x86_64")]
pub unsafe fn movdir64b(portal: *mut u8, desc: &DescBytes) {
    // SAFETY: sfence has no preconditions beyond SSE, which every x86_64 CPU has.
    unsafe { core::arch::x86_64::_mm_sfence() };
    // SAFETY: the caller guarantees the instruction exists and `portal` is a device portal;
    // `desc` is a live 64-byte-aligned 64-byte object (DescBytes is repr(align(64))), as the
    // source operand requires. The asm reads `desc` and writes only the portal.
    unsafe {
        core::arch::asm!(
            "movdir64b {dst}, [{src}]",
            dst = in(reg) portal,
            src = in(reg) desc as *const DescBytes,
            options(nostack, preserves_flags),
        );
    }
}

/// `sfence`, then ENQCMD of `desc` to `portal`; true when the device accepted it (ZF=0).
///
/// # Safety
/// The CPU must have ENQCMD ([`CpuFeatures::enqcmd`]); `portal` must be a 64-byte-aligned
/// address inside a mapped shared-WQ portal of a device (ENQCMD to other memory faults), and
/// the process must have a PASID (the kernel sets IA32_PASID when a WQ char device is opened).
#[cfg(target_arch = "x86_64")]
pub unsafe fn enqcmd(portal: *mut u8, desc: &DescBytes) -> bool {
    // SAFETY: sfence has no preconditions beyond SSE, which every x86_64 CPU has.
    unsafe { core::arch::x86_64::_mm_sfence() };
    let refused: u8;
    // SAFETY: the caller guarantees the instruction exists and `portal` is a shared-WQ portal;
    // `desc` is a live 64-byte-aligned 64-byte object. ENQCMD reports through ZF, read by setz
    // right after it; no stack use.
    unsafe {
        core::arch::asm!(
            "enqcmd {dst}, [{src}]",
            "setz {refused}",
            dst = in(reg) portal,
            src = in(reg) desc as *const DescBytes,
            refused = out(reg_byte) refused,
            options(nostack),
        );
    }
    refused == 0
}

/// Off x86_64 there is no MOVDIR64B: does nothing. [`Portal`] never gets here (the CPU check
/// fails first).
///
/// # Safety
/// None needed; `unsafe` only to match the x86_64 signature.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn movdir64b(_portal: *mut u8, _desc: &DescBytes) {}

/// Off x86_64 there is no ENQCMD: reports "not accepted". [`Portal`] never gets here.
///
/// # Safety
/// None needed; `unsafe` only to match the x86_64 signature.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn enqcmd(_portal: *mut u8, _desc: &DescBytes) -> bool {
    false
}

/// Who owns the memory a [`Portal`] writes to.
#[derive(Debug)]
pub enum PortalMemory {
    /// A memmap2 mapping (a VFIO BAR2).
    Mmap(memmap2::MmapRaw),
    /// An mmap(2) of a WQ character device, write-only; unmapped on drop.
    #[cfg(unix)]
    WriteOnly(WriteOnlyMap),
    /// Memory the backing owns and keeps mapped as long as the portal lives.
    Borrowed {
        /// Start.
        ptr: NonNull<u8>,
        /// Length in bytes.
        len: usize,
    },
}

impl PortalMemory {
    fn span(&self) -> (*mut u8, usize) {
        match self {
            PortalMemory::Mmap(m) => (m.as_mut_ptr(), m.len()),
            #[cfg(unix)]
            PortalMemory::WriteOnly(m) => (m.ptr.as_ptr(), m.len),
            PortalMemory::Borrowed { ptr, len } => (ptr.as_ptr(), *len),
        }
    }
}

/// A shared, write-only mapping of a device file made with mmap(2) (memmap2 cannot map without
/// read permission).
#[cfg(unix)]
#[derive(Debug)]
pub struct WriteOnlyMap {
    ptr: NonNull<u8>,
    len: usize,
}

#[cfg(unix)]
impl WriteOnlyMap {
    /// Maps `len` bytes of `file` at `offset` with `PROT_WRITE`, `MAP_SHARED`. `what` names the
    /// file in errors.
    pub fn new(
        file: &std::fs::File,
        len: usize,
        offset: u64,
        what: &std::path::Path,
    ) -> Result<Self, DriverError> {
        use std::os::fd::AsRawFd;
        let off = libc::off_t::try_from(offset).map_err(|_| DriverError::Config {
            field: "portal offset".into(),
            reason: format!("{offset:#x} too large"),
        })?;
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL, no MAP_FIXED), so no existing
        // memory is touched; the fd is open for the duration of the call.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(DriverError::io(what, std::io::Error::last_os_error()));
        }
        match NonNull::new(p.cast::<u8>()) {
            Some(ptr) => Ok(WriteOnlyMap { ptr, len }),
            None => Err(DriverError::io(what, std::io::Error::other("mmap returned NULL"))),
        }
    }
}

#[cfg(unix)]
impl Drop for WriteOnlyMap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned and nothing else unmaps them; the
        // portal that wrote through it is being dropped with it.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

// SAFETY: the mapping is device memory written only with MOVDIR64B/ENQCMD, which are atomic
// 64-byte writes; nothing is read through it, so sharing it between threads is sound.
#[cfg(unix)]
unsafe impl Send for WriteOnlyMap {}
// SAFETY: see Send: no shared state besides the device's own.
#[cfg(unix)]
unsafe impl Sync for WriteOnlyMap {}

/// A mapped WQ portal (one 4 KiB page for a kernel WQ, all of BAR2 for a vfio device) and the
/// instruction that writes to it.
#[derive(Debug)]
pub struct Portal {
    mem: PortalMemory,
    base: NonNull<u8>,
    len: usize,
    kind: PortalKind,
    wq: String,
}

// SAFETY: the portal is device memory written only with single 64-byte atomic instructions;
// it holds no other mutable state. Concurrent submissions from several threads are exactly
// what shared WQs are for (and dedicated-WQ credits are kept by the caller).
unsafe impl Send for Portal {}
// SAFETY: as for Send.
unsafe impl Sync for Portal {}

impl Portal {
    /// A portal over `mem` written with `kind`, for `wq` (named in errors). Refuses with
    /// [`DriverError::CpuLacks`] when `cpu` lacks the instruction, so a portal that exists can
    /// always submit. `mem` must be a device portal mapping, at least 64 bytes, 64-byte
    /// aligned (page-aligned mappings always are).
    pub fn new(
        mem: PortalMemory,
        kind: PortalKind,
        wq: impl Into<String>,
        cpu: CpuFeatures,
    ) -> Result<Self, DriverError> {
        let wq = wq.into();
        cpu.require(kind, &wq)?;
        let (ptr, len) = mem.span();
        let Some(base) = NonNull::new(ptr) else {
            return Err(DriverError::BadPortalMapping { wq, addr: 0, len });
        };
        if len < SLOT || base.as_ptr() as usize % SLOT != 0 {
            return Err(DriverError::BadPortalMapping {
                wq,
                addr: base.as_ptr() as usize,
                len,
            });
        }
        Ok(Portal {
            mem,
            base,
            len,
            kind,
            wq,
        })
    }

    /// The instruction this portal uses.
    pub fn kind(&self) -> PortalKind {
        self.kind
    }

    /// The WQ it belongs to, as named in errors.
    pub fn wq(&self) -> &str {
        &self.wq
    }

    /// Mapped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a portal has at least 64 bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory it writes to.
    pub fn memory(&self) -> &PortalMemory {
        &self.mem
    }

    /// Checks `off` is a 64-byte-aligned offset with 64 bytes of portal behind it.
    pub fn check_offset(&self, off: u64) -> Result<usize, DriverError> {
        let ok = off % DESC_SLOT == 0 && off.checked_add(DESC_SLOT).is_some_and(|e| e <= self.len as u64);
        if ok {
            Ok(off as usize)
        } else {
            Err(DriverError::Config {
                field: "portal offset".into(),
                reason: format!(
                    "{off:#x} is not a 64-byte-aligned offset inside the {:#x}-byte portal of {}",
                    self.len, self.wq
                ),
            })
        }
    }

    /// One write of `desc` at byte offset `off` (64-byte aligned, inside the mapping). The WQ
    /// rotates offsets and retries ENQCMD itself (`wq::PortalWriter`): ENQCMD is tried once.
    pub fn write_at(&self, off: u64, desc: &DescBytes, kind: PortalKind) -> Result<Enqueued, DriverError> {
        let off = self.check_offset(off)?;
        self.check_kind(kind)?;
        Ok(self.write(off, desc))
    }

    fn check_kind(&self, kind: PortalKind) -> Result<(), DriverError> {
        if kind == self.kind {
            return Ok(());
        }
        let (want, _) = instruction(self.kind);
        let (got, _) = instruction(kind);
        Err(DriverError::WrongPortalInstruction {
            wq: self.wq.clone(),
            expected: want,
            got,
            mode: match self.kind {
                PortalKind::Movdir64b => "dedicated",
                PortalKind::Enqcmd => "shared",
            },
        })
    }

    fn write(&self, off: usize, desc: &DescBytes) -> Enqueued {
        // `off` was checked against the mapping (64-byte aligned, 64 bytes in bounds).
        let dst = self.base.as_ptr().wrapping_add(off);
        match self.kind {
            PortalKind::Movdir64b => {
                // SAFETY: construction checked the CPU has MOVDIR64B (CpuFeatures::require), and
                // `dst` is a 64-byte-aligned address inside the portal mapping `mem`, which this
                // portal owns (or the backing keeps mapped) for as long as it lives.
                unsafe { movdir64b(dst, desc) };
                Enqueued::Accepted
            }
            PortalKind::Enqcmd => {
                // SAFETY: construction checked the CPU has ENQCMD; `dst` is 64-byte aligned inside
                // the shared-WQ portal mapping this portal keeps alive.
                if unsafe { enqcmd(dst, desc) } {
                    Enqueued::Accepted
                } else {
                    Enqueued::Retry
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(len: usize) -> PortalMemory {
        PortalMemory::Mmap(memmap2::MmapOptions::new().len(len).map_anon().unwrap().into())
    }

    #[test]
    fn detection_runs_and_is_cached() {
        let a = CpuFeatures::detect();
        println!("this CPU: MOVDIR64B {} ENQCMD {}", a.movdir64b, a.enqcmd);
        assert_eq!(a, CpuFeatures::detect());
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(a, CpuFeatures::NONE);
    }

    #[test]
    fn refusal_names_instruction_bit_and_wq() {
        let e = Portal::new(
            anon(4096),
            PortalKind::Movdir64b,
            "wq:/dev/dsa/wq0.0",
            CpuFeatures::NONE,
        )
        .unwrap_err();
        match &e {
            DriverError::CpuLacks { instruction, bit, wq } => {
                assert_eq!(
                    (*instruction, *bit, wq.as_str()),
                    ("MOVDIR64B", 28, "wq:/dev/dsa/wq0.0")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string().contains("MOVDIR64B") && e.to_string().contains("wq0.0"),
            "{e}"
        );
        let only_movdir = CpuFeatures {
            movdir64b: true,
            enqcmd: false,
        };
        let e = Portal::new(anon(4096), PortalKind::Enqcmd, "wq1.0", only_movdir).unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::CpuLacks {
                    instruction: "ENQCMD",
                    bit: 29,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = Portal::new(
            anon(4096),
            PortalKind::Movdir64b,
            "wq1.0",
            CpuFeatures {
                movdir64b: false,
                enqcmd: true,
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::CpuLacks {
                    instruction: "MOVDIR64B",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    // The portals below are built over ordinary memory with an injected capability set, only to
    // test offset and kind checks: every call here fails before any instruction is issued.
    #[test]
    fn offsets_are_checked_before_any_write() {
        let p = Portal::new(anon(4096), PortalKind::Movdir64b, "wq0.0", CpuFeatures::ALL).unwrap();
        assert_eq!(p.len(), 4096);
        assert_eq!(p.check_offset(0).unwrap(), 0);
        assert_eq!(p.check_offset(4096 - 64).unwrap(), 4032);
        for bad in [1, 32, 63, 4096, 4096 + 64, u64::MAX - 63, u64::MAX] {
            assert!(
                matches!(p.check_offset(bad), Err(DriverError::Config { .. })),
                "{bad:#x}"
            );
        }
        let d = DescBytes([0; 64]);
        assert!(p.write_at(4096, &d, PortalKind::Movdir64b).is_err());
        assert!(p.write_at(8, &d, PortalKind::Movdir64b).is_err());
    }

    #[test]
    fn wrong_instruction_for_the_wq_is_refused_before_writing() {
        let d = DescBytes([0; 64]);
        let p = Portal::new(anon(4096), PortalKind::Movdir64b, "wq0.0", CpuFeatures::ALL).unwrap();
        let e = p.write_at(0, &d, PortalKind::Enqcmd).unwrap_err();
        assert!(e.to_string().contains("dedicated"), "{e}");
        assert!(
            matches!(
                e,
                DriverError::WrongPortalInstruction {
                    expected: "MOVDIR64B",
                    got: "ENQCMD",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(p.write_at(64, &d, PortalKind::Enqcmd).is_err());
        let p = Portal::new(anon(4096), PortalKind::Enqcmd, "wq0.1", CpuFeatures::ALL).unwrap();
        assert!(p
            .write_at(0, &d, PortalKind::Movdir64b)
            .unwrap_err()
            .to_string()
            .contains("shared"));
    }

    #[test]
    fn tiny_or_misaligned_mappings_are_refused() {
        let m = memmap2::MmapOptions::new().len(4096).map_anon().unwrap();
        let base = NonNull::new(m.as_ptr() as *mut u8).unwrap();
        let mem = PortalMemory::Borrowed {
            ptr: NonNull::new(base.as_ptr().wrapping_add(8)).unwrap(),
            len: 128,
        };
        assert!(matches!(
            Portal::new(mem, PortalKind::Movdir64b, "x", CpuFeatures::ALL),
            Err(DriverError::BadPortalMapping { len: 128, .. })
        ));
        let mem = PortalMemory::Borrowed { ptr: base, len: 32 };
        assert!(matches!(
            Portal::new(mem, PortalKind::Movdir64b, "x", CpuFeatures::ALL),
            Err(DriverError::BadPortalMapping { len: 32, .. })
        ));
        drop(m);
    }
}
