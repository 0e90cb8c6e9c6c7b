//! SWERR: the software error register.

use crate::bits::{bit, flag, get, put};

/// SWERR: the software error register (4 qwords).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SwErr {
    /// q0 bit 0: an error is recorded.
    pub valid: bool,
    /// q0 bit 1: another error happened while one was recorded.
    pub overflow: bool,
    /// q0 bit 2: the descriptor fields (opcode, PASID, ...) are valid.
    pub desc_valid: bool,
    /// q0 bit 3: the WQ index is valid.
    pub wq_idx_valid: bool,
    /// q0 bit 4: the descriptor was in a batch.
    pub batch: bool,
    /// q0 bit 5: the fault was on a write.
    pub fault_rw: bool,
    /// q0 bit 6: privileged descriptor.
    pub privileged: bool,
    /// q0 bits 15:8: the error (a completion status code).
    pub error: u8,
    /// q0 bits 23:16: WQ index.
    pub wq_idx: u8,
    /// q0 bits 39:32: opcode.
    pub opcode: u8,
    /// q0 bits 59:40: PASID.
    pub pasid: u32,
    /// q1 bits 15:0: index in the batch.
    pub batch_idx: u16,
    /// q1 bits 63:32: invalid flags.
    pub invalid_flags: u32,
    /// q2: fault address.
    pub fault_addr: u64,
}

impl SwErr {
    /// Bits of q0 the register defines.
    pub const Q0_DEFINED: u64 = 0x0fff_ffff_00ff_ff7f;
    /// Decodes the four qwords.
    pub const fn decode(q: [u64; 4]) -> Self {
        SwErr {
            valid: bit(q[0], 0),
            overflow: bit(q[0], 1),
            desc_valid: bit(q[0], 2),
            wq_idx_valid: bit(q[0], 3),
            batch: bit(q[0], 4),
            fault_rw: bit(q[0], 5),
            privileged: bit(q[0], 6),
            error: get(q[0], 15, 8) as u8,
            wq_idx: get(q[0], 23, 16) as u8,
            opcode: get(q[0], 39, 32) as u8,
            pasid: get(q[0], 59, 40) as u32,
            batch_idx: get(q[1], 15, 0) as u16,
            invalid_flags: get(q[1], 63, 32) as u32,
            fault_addr: q[2],
        }
    }
    /// Encodes the four qwords.
    pub const fn encode(self) -> [u64; 4] {
        [
            flag(self.valid, 0)
                | flag(self.overflow, 1)
                | flag(self.desc_valid, 2)
                | flag(self.wq_idx_valid, 3)
                | flag(self.batch, 4)
                | flag(self.fault_rw, 5)
                | flag(self.privileged, 6)
                | put(self.error as u64, 15, 8)
                | put(self.wq_idx as u64, 23, 16)
                | put(self.opcode as u64, 39, 32)
                | put(self.pasid as u64, 59, 40),
            self.batch_idx as u64 | (self.invalid_flags as u64) << 32,
            self.fault_addr,
            0,
        ]
    }
    /// The value to write back to q0 to acknowledge: `q0 & (valid | overflow)`.
    pub const fn ack_value(q0: u64) -> u64 {
        q0 & 0b11
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swerr_ack() {
        let q = SwErr {
            valid: true,
            overflow: true,
            error: 0x1b,
            ..Default::default()
        }
        .encode();
        assert_eq!(SwErr::ack_value(q[0]), 0b11);
        assert_eq!(SwErr::decode(q).error, 0x1b);
    }
}
