//! The container side: what the IOMMU reports (page size, usable IOVA ranges) and the DMA
//! mappings made through it.

use std::collections::BTreeMap;

use vfio_bindings::bindings::vfio as vb;

use super::ioctl::{Fd, VFIO_IOMMU_GET_INFO};
use crate::error::{IommuInfoError, VfioError};
use crate::iova::IovaAllocator;
use crate::DriverError;

/// What VFIO_IOMMU_GET_INFO reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuInfo {
    /// Smallest IOMMU page size.
    pub page: u64,
    /// Usable IOVA ranges, inclusive ends, when the kernel reports them.
    pub ranges: Option<Vec<(u64, u64)>>,
}

/// Decodes a VFIO_IOMMU_GET_INFO answer (`struct vfio_iommu_type1_info` and its capability
/// chain). Never reads outside `buf`; a malformed chain is an error naming what is wrong.
pub fn parse_iommu_info(buf: &[u8]) -> Result<IommuInfo, IommuInfoError> {
    let u32_at = |o: usize| {
        buf.get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        buf.get(o..o + 8)
            .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    };
    const INFO: usize = std::mem::size_of::<vb::vfio_iommu_type1_info>();
    // Capabilities followed before the chain is taken to loop.
    const MAX_CAPS: usize = 64;
    if buf.len() < INFO {
        return Err(IommuInfoError::Short { len: buf.len() });
    }
    let flags = u32_at(4).unwrap_or(0);
    let pgsizes = u64_at(8).unwrap_or(0);
    let page = if flags & vb::VFIO_IOMMU_INFO_PGSIZES != 0 && pgsizes != 0 {
        1u64 << pgsizes.trailing_zeros()
    } else {
        4096
    };
    let mut ranges = None;
    if flags & vb::VFIO_IOMMU_INFO_CAPS != 0 {
        let mut off = u32_at(16).unwrap_or(0) as usize;
        let mut hops = 0;
        while off != 0 {
            hops += 1;
            if hops > MAX_CAPS {
                return Err(IommuInfoError::ChainDoesNotEnd { hops: MAX_CAPS });
            }
            if off < INFO || off % 4 != 0 {
                return Err(IommuInfoError::BadCapabilityOffset { off });
            }
            let (Some(id_ver), Some(next)) = (u32_at(off), u32_at(off + 4)) else {
                return Err(IommuInfoError::CapabilityBeyond { off, len: buf.len() });
            };
            let id = id_ver & 0xffff;
            if id == vb::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE {
                let n = u32_at(off + 8).ok_or(IommuInfoError::RangesTruncated { off })? as usize;
                let mut v = Vec::with_capacity(n.min(64));
                for i in 0..n {
                    let at = off + 16 + i * 16;
                    match (u64_at(at), u64_at(at + 8)) {
                        (Some(s), Some(e)) => v.push((s, e)),
                        _ => {
                            return Err(IommuInfoError::RangeBeyond {
                                index: i,
                                count: n,
                                len: buf.len(),
                            })
                        }
                    }
                }
                ranges = Some(v);
            }
            off = next as usize;
        }
    }
    Ok(IommuInfo { page, ranges })
}

#[derive(Debug)]
pub(super) struct Mapping {
    pub(super) iova: u64,
    pub(super) size: u64,
    pub(super) len: usize,
}

#[derive(Debug)]
pub(super) struct DmaState {
    pub(super) iova: IovaAllocator,
    /// Device address handed out -> the IOMMU mapping behind it.
    pub(super) maps: BTreeMap<u64, Mapping>,
}

pub(super) fn iommu_info(container: &Fd) -> Result<IommuInfo, DriverError> {
    const INFO: usize = std::mem::size_of::<vb::vfio_iommu_type1_info>();
    // u64 words keep the buffer 8-byte aligned, as the structures need.
    let mut words = vec![0u64; INFO / 8];
    let mut argsz = INFO as u32;
    for _ in 0..2 {
        words.resize((argsz as usize).div_ceil(8), 0);
        words.iter_mut().for_each(|w| *w = 0);
        // argsz is the first u32 of the structure.
        words[0] = u64::from_ne_bytes({
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&argsz.to_ne_bytes());
            b
        });
        // SAFETY: `words` holds at least `argsz` bytes, 8-byte aligned, and argsz (first u32)
        // tells the kernel how much it may write; it is live for the call.
        unsafe { container.ioctl_ptr("VFIO_IOMMU_GET_INFO", VFIO_IOMMU_GET_INFO(), words.as_mut_ptr())? };
        let need = (words[0].to_ne_bytes()[..4])
            .try_into()
            .map(u32::from_ne_bytes)
            .unwrap_or(argsz);
        if need <= argsz {
            break;
        }
        argsz = need.min(1 << 20);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let len = (argsz as usize).min(bytes.len());
    parse_iommu_info(&bytes[..len]).map_err(|source| {
        VfioError::IommuInfo {
            path: container.path.clone(),
            source,
        }
        .into()
    })
}
