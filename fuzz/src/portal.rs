//! Descriptors written to an emulated device's portal: arbitrary bytes, with the address fields
//! steered at a small map of memory (writable, read-only, and unmapped guard pages between).
//! Invariants: no panic and no hang (inline execution); read-only memory is never changed; a
//! record, when one is written, carries a status the device's status table defines; nothing is
//! written to the guard pages (the IOMMU has no mapping there to write through, so a write
//! attempt must end as a fault status, not as a crash).

use idxd_emu::device::{EmuConfig, ExecMode};
use idxd_emu::testkit::{MiniDriver, WqSpec};
use idxd_hw::{DsaStatus, IaaStatus};

/// Writable memory: 8 KiB, then a 4 KiB unmapped guard page.
const RW: u64 = 0x10_0000;
/// Read-only memory: 8 KiB.
const RO: u64 = 0x20_0000;
/// Records: 4 KiB writable.
const REC: u64 = 0x30_0000;
const RW_LEN: usize = 8192;
const RO_LEN: usize = 8192;

/// Where an address field may point: the start, the middle and the end of each range, the
/// guard page after the writable range, and plainly unmapped memory.
const TARGETS: [u64; 9] = [
    RW,
    RW + 4096 - 32,
    RW + RW_LEN as u64 - 64,
    RW + RW_LEN as u64,
    RO,
    RO + RO_LEN as u64 - 16,
    REC,
    REC + 4096 - 32,
    0x7fff_0000,
];

fn ro_pattern() -> Vec<u8> {
    (0..RO_LEN).map(|i| (i * 7 + 3) as u8).collect()
}

/// One fuzz case. Byte 0: profile and address steering; bytes 1..65: the descriptor.
pub fn portal_one(data: &[u8]) {
    if data.len() < 65 {
        return;
    }
    let sel = data[0];
    let profile = ["dsa-spr", "iaa-spr", "dsa-gnr", "iaa-gnr", "dsa-dmr"][(sel % 5) as usize];
    let d = MiniDriver::new(
        profile,
        EmuConfig {
            mode: ExecMode::Inline,
            ..Default::default()
        },
    );
    d.bring_up(&[WqSpec::dedicated(0, 8)]);
    d.map(RW, RW_LEN, true);
    d.map(RO, RO_LEN, false);
    d.map(REC, 4096, true);
    d.write_mem(RO, &ro_pattern());
    let mut desc = [0u8; 64];
    desc.copy_from_slice(&data[1..65]);
    // Steer the completion, source and destination addresses (bytes 8, 16, 24 in both parts'
    // layouts) and, for IAA, the second source (byte 40) at the map, unless byte 0 asks for
    // the raw bytes.
    if sel & 0x80 == 0 {
        for (k, off) in [8usize, 16, 24, 40].into_iter().enumerate() {
            let pick = data.get(65 + k).copied().unwrap_or(k as u8) as usize % TARGETS.len();
            desc[off..off + 8].copy_from_slice(&TARGETS[pick].to_le_bytes());
        }
    }
    let _ = d.submit(0, &desc);
    assert_eq!(d.read_mem(RO, RO_LEN), ro_pattern(), "read-only memory changed");
    let rec = u64::from_le_bytes(desc[8..16].try_into().expect("8 bytes"));
    if (REC..REC + 4096 - 64).contains(&rec) || (RW..RW + RW_LEN as u64 - 64).contains(&rec) {
        let status = d.read_mem(rec, 1)[0] & 0x7f;
        if status != 0 {
            let known = if profile.starts_with("dsa") {
                DsaStatus::from_code(status).is_some()
            } else {
                IaaStatus::from_code(status).is_some()
            };
            assert!(
                known,
                "{profile}: record status {status:#04x} is not in the status table"
            );
        }
    }
}
