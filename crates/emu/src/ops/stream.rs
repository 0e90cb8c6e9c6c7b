//! Chunked processing of a DSA source with partial completion: the device streams through its
//! buffers and, on a page fault, reports how many bytes it fully processed.

use super::mem::{at, scratch, Dev};
use crate::iommu::Fault;

/// Bytes per chunk: bounds the scratch memory a descriptor uses, whatever its size.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A page fault after `done` bytes (or delta-record bytes, for apply delta) were processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Partial {
    pub done: u64,
    pub fault: Fault,
}

/// Whether to go on after a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Why a stream ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// A page fault (partial completion).
    Fault(Partial),
    /// No memory for the scratch buffer.
    NoMemory,
}

impl From<Partial> for StreamEnd {
    fn from(p: Partial) -> Self {
        StreamEnd::Fault(p)
    }
}

/// Reads `[src, src + len)` in chunks of `chunk` bytes (a multiple of `unit`) and hands each
/// chunk to `f(offset, bytes)`. On a read fault only the whole units before the faulting byte
/// are handed over, and the stream ends with `Partial { done: offset of the first unprocessed
/// unit, fault }` (unless `f` stops or faults first).
pub(crate) fn stream(
    dev: &Dev,
    src: u64,
    len: u64,
    chunk: usize,
    unit: usize,
    mut f: impl FnMut(u64, &[u8]) -> Result<Flow, Partial>,
) -> Result<Flow, StreamEnd> {
    let mut buf = scratch((len as usize).min(chunk)).ok_or(StreamEnd::NoMemory)?;
    let mut off = 0u64;
    while off < len {
        let n = ((len - off) as usize).min(chunk);
        let b = &mut buf[..n];
        let base = at(src, off);
        match dev.read(base, b) {
            Ok(()) => {
                if f(off, b)? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                off += n as u64;
            }
            Err(fault) => {
                let good = (fault.addr.saturating_sub(base) as usize).min(n);
                let whole = good / unit * unit;
                if f(off, &b[..whole])? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
                return Err(Partial {
                    done: off + whole as u64,
                    fault,
                }
                .into());
            }
        }
    }
    Ok(Flow::Continue)
}

/// Writes `data` at `dst + off`, as the sink of a stream: a fault reports the bytes of the
/// whole transfer completed before it.
pub(crate) fn sink(dev: &Dev, dst: u64, off: u64, data: &[u8]) -> Result<usize, Partial> {
    let base = at(dst, off);
    match dev.write(base, data) {
        Ok(()) => Ok(data.len()),
        Err(fault) => Err(Partial {
            done: off + fault.addr.saturating_sub(base).min(data.len() as u64),
            fault,
        }),
    }
}

/// memmove semantics for `dst > src` with overlap: copies from the end down, chunk by chunk.
/// A fault ends the copy with `done` counting the bytes completed *at the end* of the buffers.
pub(crate) fn copy_descending(dev: &Dev, src: u64, dst: u64, len: u64) -> Result<(), StreamEnd> {
    if dst as u128 + len as u128 > u64::MAX as u128 {
        // The highest destination byte lies past the IOVA space: the very first access faults.
        return Err(Partial {
            done: 0,
            fault: Fault {
                addr: u64::MAX,
                write: true,
            },
        }
        .into());
    }
    let mut buf = scratch((len as usize).min(CHUNK)).ok_or(StreamEnd::NoMemory)?;
    let mut done = 0u64;
    while done < len {
        let n = ((len - done) as usize).min(CHUNK);
        let off = len - done - n as u64;
        let (s, d) = (src + off, dst + off); // no overflow: src < dst and dst + len fits
                                             // The highest faulting byte of this chunk on either side; a copy from the top meets it
                                             // first. On a tie the read (which comes first for a byte) is the fault.
        let rf = dev.last_fault(s, n, false).map(|f| (f.addr - s, f));
        let wf = dev.last_fault(d, n, true).map(|f| (f.addr - d, f));
        let bad = match (rf, wf) {
            (Some(r), Some(w)) => Some(if w.0 > r.0 { w } else { r }),
            (r, w) => r.or(w),
        };
        let start = bad.map_or(0, |(o, _)| o as usize + 1);
        let piece = &mut buf[start..n];
        // The range was checked; a fault here means a concurrent unmap: report it as is.
        let fail = |fault: Fault| StreamEnd::Fault(Partial { done, fault });
        dev.read(s + start as u64, piece).map_err(fail)?;
        dev.write(d + start as u64, piece).map_err(fail)?;
        done += (n - start) as u64;
        if let Some((_, fault)) = bad {
            return Err(Partial { done, fault }.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iommu::Iommu;

    #[test]
    fn a_read_fault_hands_over_whole_units_only() {
        let m = Iommu::new();
        m.map_owned(0x1000, 37, true).unwrap();
        let dev = Dev::new(&m, None);
        let mut seen = Vec::new();
        let r = stream(&dev, 0x1000, 100, 16, 8, |off, b| {
            seen.push((off, b.len()));
            Ok(Flow::Continue)
        });
        assert_eq!(seen, [(0, 16), (16, 16), (32, 0)]);
        assert_eq!(
            r,
            Err(StreamEnd::Fault(Partial {
                done: 32,
                fault: Fault {
                    addr: 0x1025,
                    write: false
                }
            }))
        );
        // Stopping early is not a fault.
        let r = stream(&dev, 0x1000, 100, 16, 1, |_, _| Ok(Flow::Stop));
        assert_eq!(r, Ok(Flow::Stop));
    }

    #[test]
    fn sink_counts_from_the_start_of_the_transfer() {
        let m = Iommu::new();
        m.map_owned(0x1000, 10, true).unwrap();
        let dev = Dev::new(&m, None);
        assert_eq!(sink(&dev, 0x1000, 4, &[1; 4]), Ok(4));
        let p = sink(&dev, 0x1000, 8, &[1; 4]).unwrap_err();
        assert_eq!((p.done, p.fault.addr), (10, 0x100a));
    }

    #[test]
    fn descending_copy_meets_the_highest_fault_first() {
        let m = Iommu::new();
        m.map_owned(0x1000, 0x100, true).unwrap();
        m.cpu_write(0x1000, &(0..=255u8).collect::<Vec<_>>()).unwrap();
        // Read poison at source offset 10 and write poison at destination offset 10.
        let dev = Dev::new(
            &m,
            Some(Fault {
                addr: 0x100a,
                write: false,
            }),
        );
        let r = copy_descending(&dev, 0x1000, 0x1008, 32);
        assert_eq!(
            r,
            Err(StreamEnd::Fault(Partial {
                done: 21,
                fault: Fault {
                    addr: 0x100a,
                    write: false
                }
            }))
        );
        let dev = Dev::new(
            &m,
            Some(Fault {
                addr: 0x1008 + 10,
                write: true,
            }),
        );
        let r = copy_descending(&dev, 0x1000, 0x1008, 32);
        assert_eq!(
            r,
            Err(StreamEnd::Fault(Partial {
                done: 21,
                fault: Fault {
                    addr: 0x1012,
                    write: true
                }
            }))
        );
        // A destination running past the IOVA space faults before anything is done.
        let r = copy_descending(&dev, u64::MAX - 40, u64::MAX - 20, 32);
        assert_eq!(
            r,
            Err(StreamEnd::Fault(Partial {
                done: 0,
                fault: Fault {
                    addr: u64::MAX,
                    write: true
                }
            }))
        );
    }
}
