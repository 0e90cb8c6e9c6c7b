//! The configuration a device is brought up with: groups (engines, read buffers) and WQs
//! (mode, size, priority, threshold, limits, block-on-fault). From code, from our TOML, or
//! from accel-config's saved JSON (`accel-config save-config`).

use serde::{Deserialize, Serialize};

use idxd_hw::tables::WqMode;
use idxd_hw::Capabilities;

use crate::DriverError;

mod accel;

/// One group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group index.
    pub id: u8,
    /// Engines of the group.
    pub engines: Vec<u8>,
    /// Read buffers reserved for the group.
    #[serde(default)]
    pub read_buffers_reserved: u8,
    /// Read buffers the group may use (default: the device total).
    #[serde(default)]
    pub read_buffers_allowed: Option<u8>,
    /// Use the read-buffer limit.
    #[serde(default)]
    pub use_read_buffer_limit: bool,
}

/// Dedicated or shared, as written in configuration files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// MOVDIR64B, credits kept by the driver.
    Dedicated,
    /// ENQCMD (needs PASID: kernel-owned WQs only).
    Shared,
}

impl From<Mode> for WqMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Dedicated => WqMode::Dedicated,
            Mode::Shared => WqMode::Shared,
        }
    }
}

/// One WQ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WqConfig {
    /// WQ index.
    pub id: u16,
    /// Its group.
    pub group: u8,
    /// Mode.
    pub mode: Mode,
    /// Entries.
    pub size: u16,
    /// Priority, 1..=15.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Limited-portal threshold (shared WQs).
    #[serde(default)]
    pub threshold: u16,
    /// log2 of the largest transfer (default: the device's).
    #[serde(default)]
    pub max_transfer_shift: Option<u8>,
    /// log2 of the largest batch (default: the device's; IAA: 0).
    #[serde(default)]
    pub max_batch_shift: Option<u8>,
    /// Block on page faults.
    #[serde(default)]
    pub block_on_fault: bool,
    /// A name (kept for listings).
    #[serde(default)]
    pub name: Option<String>,
}

fn default_priority() -> u8 {
    10
}

/// Groups and WQs of one device.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Groups.
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupConfig>,
    /// WQs.
    #[serde(default, rename = "wq")]
    pub wqs: Vec<WqConfig>,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> DriverError {
    DriverError::Config {
        field: field.into(),
        reason: reason.into(),
    }
}

impl DeviceConfig {
    /// Every engine in group 0 and `wqs` dedicated WQs of equal size sharing the device's
    /// entries: the configuration a vfio-pci driver usually wants.
    pub fn dedicated(caps: &Capabilities, wqs: u16) -> Self {
        let n = wqs.clamp(1, caps.num_wqs());
        let size = caps.total_wq_size() / n;
        DeviceConfig {
            groups: vec![GroupConfig {
                id: 0,
                engines: (0..caps.num_engines).collect(),
                read_buffers_reserved: 0,
                read_buffers_allowed: None,
                use_read_buffer_limit: false,
            }],
            wqs: (0..n)
                .map(|id| WqConfig {
                    id,
                    group: 0,
                    mode: Mode::Dedicated,
                    size,
                    priority: 10,
                    threshold: 0,
                    max_transfer_shift: None,
                    max_batch_shift: None,
                    block_on_fault: false,
                    name: None,
                })
                .collect(),
        }
    }

    /// Parses our TOML form (`[[group]]` and `[[wq]]` tables).
    pub fn from_toml(text: &str) -> Result<Self, DriverError> {
        toml::from_str(text).map_err(|e| bad("(toml)", e.message().to_string()))
    }

    /// Parses accel-config's saved JSON (an array of devices, each with `groups`, each with
    /// `grouped_workqueues` and `grouped_engines`). `device` picks one (`dsa0`, `iax1`); `None`
    /// takes the only device in the file.
    ///
    /// Every value is read with its type and range: a number too large for its field, a
    /// negative one or one of the wrong type is an error naming the field
    /// (`dsa0/group0.0/wq0.0.size`), never truncated or replaced by a default. Absent optional
    /// fields take their defaults. A max_transfer_size or max_batch_size that is not a power of
    /// two is rounded up to one, as the kernel does when accel-config writes it to sysfs (the
    /// idxd driver's sysfs store for both attributes rounds with roundup_pow_of_two before
    /// checking the device maximum: drivers/dma/idxd/sysfs.c). 0 means the device's own limit.
    pub fn from_accel_config_json(text: &str, device: Option<&str>) -> Result<Self, DriverError> {
        accel::parse(text, device)
    }

    /// Checks the configuration against the device before touching it, naming the field. The
    /// device checks again on enable; this catches what can be caught with a better message.
    pub fn validate(&self, caps: &Capabilities) -> Result<(), DriverError> {
        if self.wqs.is_empty() {
            return Err(bad("wq", "no WQ configured"));
        }
        let mut engine_owner = vec![None; caps.num_engines as usize];
        for (i, g) in self.groups.iter().enumerate() {
            if g.id >= caps.num_groups() {
                return Err(bad(
                    format!("group[{i}].id"),
                    format!("{} >= {} groups", g.id, caps.num_groups()),
                ));
            }
            if self.groups[..i].iter().any(|h| h.id == g.id) {
                return Err(bad(
                    format!("group[{i}].id"),
                    format!("group {} listed twice", g.id),
                ));
            }
            for &e in &g.engines {
                let slot = engine_owner.get_mut(e as usize).ok_or_else(|| {
                    bad(
                        format!("group {}.engines", g.id),
                        format!("engine {e} >= {}", caps.num_engines),
                    )
                })?;
                if let Some(other) = slot.replace(g.id) {
                    return Err(bad(
                        format!("group {}.engines", g.id),
                        format!("engine {e} is also in group {other}"),
                    ));
                }
            }
            if let Some(a) = g.read_buffers_allowed {
                if a > caps.total_read_buffers() && caps.total_read_buffers() > 0 {
                    return Err(bad(
                        format!("group {}.read_buffers_allowed", g.id),
                        format!("{a} > {}", caps.total_read_buffers()),
                    ));
                }
            }
        }
        let mut total = 0u32;
        for (i, w) in self.wqs.iter().enumerate() {
            let f = |k: &str| format!("wq {}.{k}", w.id);
            if w.id >= caps.num_wqs() {
                return Err(bad(
                    format!("wq[{i}].id"),
                    format!("{} >= {} WQs", w.id, caps.num_wqs()),
                ));
            }
            if self.wqs[..i].iter().any(|x| x.id == w.id) {
                return Err(bad(format!("wq[{i}].id"), format!("WQ {} listed twice", w.id)));
            }
            let Some(g) = self.groups.iter().find(|g| g.id == w.group) else {
                return Err(bad(f("group"), format!("group {} is not configured", w.group)));
            };
            if g.engines.is_empty() {
                return Err(bad(
                    format!("group {}.engines", g.id),
                    "a group with WQs needs at least one engine",
                ));
            }
            if w.size == 0 {
                return Err(bad(f("size"), "must be at least 1"));
            }
            total += w.size as u32;
            if !(1..=15).contains(&w.priority) {
                return Err(bad(f("priority"), format!("{} is outside 1..=15", w.priority)));
            }
            if w.max_transfer_shift
                .is_some_and(|s| s > caps.gencap.max_xfer_shift)
            {
                return Err(bad(
                    f("max_transfer_shift"),
                    format!("above the device's {}", caps.gencap.max_xfer_shift),
                ));
            }
            if w.max_batch_shift.is_some_and(|s| s > caps.gencap.max_batch_shift) {
                return Err(bad(
                    f("max_batch_shift"),
                    format!("above the device's {}", caps.gencap.max_batch_shift),
                ));
            }
            if w.block_on_fault && !caps.gencap.block_on_fault {
                return Err(bad(f("block_on_fault"), "the device does not support it"));
            }
            let mode_ok = match w.mode {
                Mode::Dedicated => caps.wqcap.dedicated_mode,
                Mode::Shared => caps.wqcap.shared_mode,
            };
            if !mode_ok {
                return Err(bad(f("mode"), "the device does not support this mode"));
            }
        }
        if total > caps.total_wq_size() as u32 {
            return Err(bad(
                "wq.size",
                format!("sizes add up to {total} > {} entries", caps.total_wq_size()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Capabilities {
        idxd_hw::Profile::builtin("dsa-spr").unwrap().caps
    }

    #[test]
    fn accel_config_json() {
        let json = r#"[{"dev":"dsa0","read_buffer_limit":0,"groups":[{"dev":"group0.0","read_buffers_reserved":0,
            "use_read_buffer_limit":0,"read_buffers_allowed":8,"grouped_workqueues":[{"dev":"wq0.0","mode":"dedicated",
            "size":16,"group_id":0,"priority":10,"block_on_fault":1,"max_batch_size":32,"max_transfer_size":2097152,
            "type":"user","name":"app1","threshold":0,"state":"enabled"}],"grouped_engines":[{"dev":"engine0.0","group_id":0},
            {"dev":"engine0.1","group_id":0}]},{"dev":"group0.1","grouped_engines":[{"dev":"engine0.2"}]}]}]"#;
        let c = DeviceConfig::from_accel_config_json(json, None).unwrap();
        assert_eq!(c.groups.len(), 2);
        assert_eq!(c.groups[0].engines, vec![0, 1]);
        assert_eq!(c.groups[0].read_buffers_allowed, Some(8));
        assert_eq!(c.wqs[0].size, 16);
        assert_eq!(c.wqs[0].max_batch_shift, Some(5));
        assert_eq!(c.wqs[0].max_transfer_shift, Some(21));
        assert!(c.wqs[0].block_on_fault);
        assert_eq!(c.wqs[0].name.as_deref(), Some("app1"));
        c.validate(&caps()).unwrap();
        assert!(DeviceConfig::from_accel_config_json(json, Some("iax1")).is_err());
        let bad = json.replace("\"dedicated\"", "\"weird\"");
        let e = DeviceConfig::from_accel_config_json(&bad, None).unwrap_err();
        assert!(e.to_string().contains("wq0.0.mode"), "{e}");
    }

    /// One device, one group, one WQ with `wq` spliced into its fields.
    fn one_wq(group: &str, wq: &str) -> String {
        format!(
            r#"[{{"dev":"dsa0","groups":[{{"dev":"{group}","grouped_engines":[{{"dev":"engine0.0"}}],
            "grouped_workqueues":[{{"dev":"wq0.0","mode":"dedicated",{wq}}}]}}]}}]"#
        )
    }

    fn accel_err(json: &str) -> (String, String) {
        match DeviceConfig::from_accel_config_json(json, None) {
            Err(DriverError::AccelConfig { path, reason }) => (path, reason),
            other => panic!("expected an accel-config error, got {other:?}"),
        }
    }

    #[test]
    fn accel_config_values_too_large_are_refused_not_truncated() {
        let (path, reason) = accel_err(&one_wq("group0.0", r#""size":65552"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.size");
        assert!(reason.contains("65552"), "{reason}");
        let (path, reason) = accel_err(&one_wq("group0.0", r#""size":16,"priority":266"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.priority");
        assert!(reason.contains("266"), "{reason}");
        let (path, _) = accel_err(&one_wq("group0.0", r#""size":16,"threshold":70000"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.threshold");
    }

    #[test]
    fn accel_config_negative_values_are_refused_not_defaulted() {
        let (path, reason) = accel_err(&one_wq("group0.0", r#""size":16,"priority":-1"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.priority");
        assert!(reason.contains("-1"), "{reason}");
        let (path, _) = accel_err(&one_wq("group0.0", r#""size":16,"max_batch_size":-32"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.max_batch_size");
        let (path, _) = accel_err(&one_wq("group0.0", r#""size":-16"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.size");
    }

    #[test]
    fn accel_config_device_indices_out_of_range_are_refused() {
        let (path, reason) = accel_err(&one_wq("group0.256", r#""size":16"#));
        assert_eq!(path, "dsa0/group0.256.dev");
        assert!(
            reason.contains("256") && reason.contains("out of range"),
            "{reason}"
        );
        let json = one_wq("group0.0", r#""size":16"#).replace("engine0.0", "engine0.300");
        let (path, _) = accel_err(&json);
        assert_eq!(path, "dsa0/group0.0/engine0.300.dev");
        let json = one_wq("group0.0", r#""size":16"#).replace("wq0.0", "wq0.65536");
        let (path, _) = accel_err(&json);
        assert_eq!(path, "dsa0/group0.0/wq0.65536.dev");
    }

    #[test]
    fn accel_config_wrong_types_are_reported_as_wrong_types() {
        let (path, reason) = accel_err(&one_wq("group0.0", r#""size":"16""#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.size");
        assert!(
            reason.contains("invalid type") && !reason.contains("missing"),
            "{reason}"
        );
        let (path, reason) = accel_err(&one_wq("group0.0", r#""size":16,"block_on_fault":"yes""#));
        assert_eq!(path, "dsa0/group0.0/wq0.0.block_on_fault");
        assert!(reason.contains("invalid type"), "{reason}");
        // Truly missing is still reported as missing.
        let (path, reason) = accel_err(&one_wq("group0.0", r#""priority":10"#));
        assert_eq!(path, "dsa0/group0.0/wq0.0");
        assert!(reason.contains("missing field `size`"), "{reason}");
    }

    #[test]
    fn accel_config_sizes_round_up_to_a_power_of_two_as_the_kernel_does() {
        let json = one_wq(
            "group0.0",
            r#""size":16,"max_transfer_size":3000000,"max_batch_size":20"#,
        );
        let c = DeviceConfig::from_accel_config_json(&json, None).unwrap();
        assert_eq!(c.wqs[0].max_transfer_shift, Some(22));
        assert_eq!(c.wqs[0].max_batch_shift, Some(5));
        let json = one_wq(
            "group0.0",
            r#""size":16,"max_transfer_size":0,"max_batch_size":1"#,
        );
        let c = DeviceConfig::from_accel_config_json(&json, None).unwrap();
        assert_eq!(c.wqs[0].max_transfer_shift, None);
        assert_eq!(c.wqs[0].max_batch_shift, Some(0));
    }

    #[test]
    fn toml_and_validation_name_the_field() {
        let t = "[[group]]\nid = 0\nengines = [0, 1]\n[[wq]]\nid = 0\ngroup = 0\nmode = \"dedicated\"\nsize = 64\n";
        let c = DeviceConfig::from_toml(t).unwrap();
        c.validate(&caps()).unwrap();
        let cases: Vec<(DeviceConfig, &str)> = vec![
            (
                DeviceConfig {
                    wqs: vec![WqConfig {
                        size: 200,
                        ..c.wqs[0].clone()
                    }],
                    ..c.clone()
                },
                "wq.size",
            ),
            (
                DeviceConfig {
                    wqs: vec![WqConfig {
                        priority: 0,
                        ..c.wqs[0].clone()
                    }],
                    ..c.clone()
                },
                "wq 0.priority",
            ),
            (
                DeviceConfig {
                    wqs: vec![WqConfig {
                        group: 3,
                        ..c.wqs[0].clone()
                    }],
                    ..c.clone()
                },
                "wq 0.group",
            ),
            (
                DeviceConfig {
                    wqs: vec![WqConfig {
                        max_batch_shift: Some(11),
                        ..c.wqs[0].clone()
                    }],
                    ..c.clone()
                },
                "wq 0.max_batch_shift",
            ),
            (
                DeviceConfig {
                    wqs: vec![WqConfig {
                        id: 9,
                        ..c.wqs[0].clone()
                    }],
                    ..c.clone()
                },
                "wq[0].id",
            ),
            (
                DeviceConfig {
                    groups: vec![
                        c.groups[0].clone(),
                        GroupConfig {
                            id: 1,
                            engines: vec![1],
                            ..c.groups[0].clone()
                        },
                    ],
                    ..c.clone()
                },
                "group 1.engines",
            ),
        ];
        for (cfg, field) in cases {
            match cfg.validate(&caps()) {
                Err(DriverError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(DeviceConfig::from_toml("[[wq]]\nid = 0\nbogus = 1\n").is_err());
        let d = DeviceConfig::dedicated(&caps(), 2);
        d.validate(&caps()).unwrap();
        assert_eq!(d.wqs[1].size, 64);
    }
}
