//! The configuration parsers (our TOML and accel-config's saved JSON) on arbitrary text: an
//! error or a configuration, never a panic; a configuration that parses is one the driver can
//! print back and parse again to the same value.

use idxd_driver::DeviceConfig;

/// One fuzz case. Byte 0 picks the parser; the rest is the text (lossy UTF-8).
pub fn config_one(data: &[u8]) {
    let [sel, text @ ..] = data else { return };
    let text = String::from_utf8_lossy(text);
    match sel % 3 {
        0 => {
            if let Ok(c) = DeviceConfig::from_toml(&text) {
                check(&c);
            }
        }
        1 => {
            if let Ok(c) = DeviceConfig::from_accel_config_json(&text, None) {
                check(&c);
            }
        }
        _ => {
            let name = format!("dsa{}", sel / 3);
            if let Ok(c) = DeviceConfig::from_accel_config_json(&text, Some(&name)) {
                check(&c);
            }
        }
    }
}

fn check(c: &DeviceConfig) {
    // A parsed configuration round-trips through our TOML form unchanged.
    let text = toml::to_string(c).expect("a parsed configuration serializes");
    let back = DeviceConfig::from_toml(&text).expect("our own TOML parses");
    assert_eq!(&back, c, "TOML round trip changed the configuration:\n{text}");
    // Validation against a real part's capabilities answers without panicking.
    for name in ["dsa-spr", "iaa-spr"] {
        let caps = idxd_hw::Profile::builtin(name).expect("built-in profile").caps;
        let _ = c.validate(&caps);
    }
}
