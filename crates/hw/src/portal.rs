//! BAR2: the WQ portals descriptors are written to.
//!
//! Each WQ owns a window of four 4 KiB portal pages, in WQ order from offset 0: unlimited
//! (MSI-X), limited (MSI-X), unlimited (IMS), limited (IMS). A submission is one 64-byte,
//! 64-byte-aligned write (MOVDIR64B or ENQCMD) anywhere in a portal page.
//!
//! Two sizes are easy to confuse, so each has its own name: [`WQ_PORTAL_STRIDE`] is the distance
//! between two WQs' windows, [`DESC_SLOT`] the size and alignment of one descriptor write.

/// One portal page.
pub const PORTAL_SIZE: u64 = 0x1000;

/// Distance in BAR2 between the portal windows of WQ n and WQ n + 1 (four portal pages).
pub const WQ_PORTAL_STRIDE: u64 = 4 * PORTAL_SIZE;

/// Size and alignment of one descriptor write to a portal (64 bytes).
pub const DESC_SLOT: u64 = 64;

/// BAR2 offset of WQ `wq`'s unlimited (MSI-X) portal.
pub const fn wq_portal_offset(wq: u16) -> u64 {
    wq as u64 * WQ_PORTAL_STRIDE
}

/// The WQ a BAR2 offset belongs to (before checking that the device has it).
pub const fn wq_of_portal_offset(bar2_off: u64) -> u64 {
    bar2_off / WQ_PORTAL_STRIDE
}

/// Whether a BAR2 offset falls in a limited portal (the second and fourth page of a window).
pub const fn is_limited_portal(bar2_off: u64) -> bool {
    (bar2_off % WQ_PORTAL_STRIDE) / PORTAL_SIZE % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_layout() {
        assert_eq!(WQ_PORTAL_STRIDE, 0x4000);
        assert_eq!(wq_portal_offset(3), 0xc000);
        assert_eq!(wq_of_portal_offset(0xc000 + 0x3fc0), 3);
        assert!(!is_limited_portal(0xc000));
        assert!(is_limited_portal(0xd000));
        assert!(!is_limited_portal(0xe040));
        assert!(is_limited_portal(0xffc0));
    }
}
