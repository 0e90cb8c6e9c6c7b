//! The configuration a device is brought up with: groups (engines, read buffers) and WQs
//! (mode, size, priority, threshold, limits, block-on-fault). From code, from our TOML, or
//! from accel-config's saved JSON (`accel-config save-config`).

use serde::{Deserialize, Serialize};

use idxd_hw::tables::WqMode;
use idxd_hw::Capabilities;

use crate::DriverError;

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
    pub fn from_accel_config_json(text: &str, device: Option<&str>) -> Result<Self, DriverError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad("(json)", e.to_string()))?;
        let devices = match &v {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Object(_) => vec![v.clone()],
            _ => return Err(bad("(json)", "expected an array of devices")),
        };
        let pick = match device {
            Some(name) => devices
                .iter()
                .find(|d| d.get("dev").and_then(|x| x.as_str()) == Some(name))
                .ok_or_else(|| bad("dev", format!("no device {name} in the file")))?,
            None if devices.len() == 1 => &devices[0],
            None => {
                return Err(bad(
                    "dev",
                    format!("{} devices in the file: name one", devices.len()),
                ))
            }
        };
        let mut cfg = DeviceConfig::default();
        let groups = pick
            .get("groups")
            .and_then(|g| g.as_array())
            .cloned()
            .unwrap_or_default();
        for g in &groups {
            let gname = g.get("dev").and_then(|x| x.as_str()).unwrap_or("group?");
            let id = suffix_id(gname).ok_or_else(|| bad(format!("{gname}.dev"), "expected groupD.G"))? as u8;
            let num = |k: &str| g.get(k).and_then(|x| x.as_u64());
            let engines = g
                .get("grouped_engines")
                .and_then(|e| e.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.get("dev").and_then(|x| x.as_str()))
                        .map(|n| {
                            suffix_id(n)
                                .map(|x| x as u8)
                                .ok_or_else(|| bad(format!("{gname}.grouped_engines"), n))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default();
            cfg.groups.push(GroupConfig {
                id,
                engines,
                read_buffers_reserved: num("read_buffers_reserved")
                    .or(num("tokens_reserved"))
                    .unwrap_or(0) as u8,
                read_buffers_allowed: num("read_buffers_allowed")
                    .or(num("tokens_allowed"))
                    .map(|x| x as u8),
                use_read_buffer_limit: num("use_read_buffer_limit")
                    .or(num("use_token_limit"))
                    .unwrap_or(0)
                    != 0,
            });
            for w in g
                .get("grouped_workqueues")
                .and_then(|w| w.as_array())
                .cloned()
                .unwrap_or_default()
            {
                let wname = w.get("dev").and_then(|x| x.as_str()).unwrap_or("wq?").to_string();
                let wid = suffix_id(&wname).ok_or_else(|| bad(format!("{wname}.dev"), "expected wqD.Q"))?;
                let wn = |k: &str| w.get(k).and_then(|x| x.as_u64());
                let mode = match w.get("mode").and_then(|x| x.as_str()) {
                    Some("dedicated") => Mode::Dedicated,
                    Some("shared") => Mode::Shared,
                    other => return Err(bad(format!("{wname}.mode"), format!("{other:?}"))),
                };
                let shift = |k: &str| -> Result<Option<u8>, DriverError> {
                    match wn(k) {
                        None | Some(0) => Ok(None),
                        Some(v) if v.is_power_of_two() => Ok(Some(v.trailing_zeros() as u8)),
                        Some(v) => Err(bad(format!("{wname}.{k}"), format!("{v} is not a power of two"))),
                    }
                };
                cfg.wqs.push(WqConfig {
                    id: wid as u16,
                    group: id,
                    mode,
                    size: wn("size").ok_or_else(|| bad(format!("{wname}.size"), "missing"))? as u16,
                    priority: wn("priority").unwrap_or(10) as u8,
                    threshold: wn("threshold").unwrap_or(0) as u16,
                    max_transfer_shift: shift("max_transfer_size")?,
                    max_batch_shift: shift("max_batch_size")?,
                    block_on_fault: wn("block_on_fault").unwrap_or(0) != 0,
                    name: w.get("name").and_then(|x| x.as_str()).map(str::to_string),
                });
            }
        }
        Ok(cfg)
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

/// The number after the last '.' (`wq0.3` -> 3, `engine1.2` -> 2, `group0.0` -> 0).
fn suffix_id(name: &str) -> Option<u32> {
    name.rsplit('.').next()?.parse().ok()
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
