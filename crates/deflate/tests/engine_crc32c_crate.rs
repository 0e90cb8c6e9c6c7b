//! The engine's CRC32C against the `crc32c` crate, an independent implementation: the same
//! values, and the same chaining (both continue from a finished CRC), so that callers that
//! only need a plain CRC32C (the runtime's software DSA path) can use either.

use idxd_deflate::{crc32c, CrcKind};
use proptest::prelude::*;

#[test]
fn check_value() {
    assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn same_as_crc32c_crate(data in proptest::collection::vec(any::<u8>(), 0..9000), seed in any::<u32>()) {
        prop_assert_eq!(crc32c(0, &data), crc32c::crc32c(&data));
        prop_assert_eq!(CrcKind::Crc32c.checksum(&data), crc32c::crc32c(&data));
        prop_assert_eq!(crc32c(seed, &data), crc32c::crc32c_append(seed, &data));
    }

    #[test]
    fn chaining_matches(data in proptest::collection::vec(any::<u8>(), 0..9000), cut in any::<prop::sample::Index>()) {
        let k = cut.index(data.len() + 1);
        let (a, b) = data.split_at(k);
        prop_assert_eq!(crc32c(crc32c(0, a), b), crc32c::crc32c_append(crc32c::crc32c(a), b));
        prop_assert_eq!(crc32c(crc32c(0, a), b), crc32c::crc32c(&data));
    }
}
