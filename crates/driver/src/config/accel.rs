//! accel-config's saved JSON (`accel-config save-config`), read through serde structs.
//!
//! Each level (device, group, WQ, engine) is its own struct with typed fields; the lists under
//! it stay JSON values until their own level reads them, so an error can name where it is:
//! `dsa0/group0.1/wq0.3.priority`. Fields accel-config writes that the driver does not use
//! (`state`, `type`, `clients`, ...) are ignored.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::{DeviceConfig, GroupConfig, Mode, WqConfig};
use crate::DriverError;

#[derive(Deserialize)]
struct AcDevice {
    #[serde(default)]
    dev: Option<String>,
    #[serde(default)]
    groups: Vec<Value>,
}

#[derive(Deserialize)]
struct AcGroup {
    dev: String,
    #[serde(default)]
    read_buffers_reserved: Option<u8>,
    #[serde(default)]
    tokens_reserved: Option<u8>,
    #[serde(default)]
    read_buffers_allowed: Option<u8>,
    #[serde(default)]
    tokens_allowed: Option<u8>,
    #[serde(default)]
    use_read_buffer_limit: Option<u8>,
    #[serde(default)]
    use_token_limit: Option<u8>,
    #[serde(default)]
    grouped_workqueues: Vec<Value>,
    #[serde(default)]
    grouped_engines: Vec<Value>,
}

#[derive(Deserialize)]
struct AcEngine {
    dev: String,
}

#[derive(Deserialize)]
struct AcWq {
    dev: String,
    mode: Mode,
    size: u16,
    #[serde(default)]
    priority: Option<u8>,
    #[serde(default)]
    threshold: Option<u16>,
    #[serde(default)]
    max_transfer_size: Option<u64>,
    #[serde(default)]
    max_batch_size: Option<u64>,
    #[serde(default)]
    block_on_fault: Option<u8>,
    #[serde(default)]
    name: Option<String>,
}

fn err(path: impl Into<String>, reason: impl Into<String>) -> DriverError {
    DriverError::AccelConfig {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Reads `v` as a `T`, naming the offending field under `path` when it cannot.
///
/// serde's messages say what is wrong (`invalid type: string "16", expected u16`) but not
/// where; the field is found by reading the object again without each key in turn: the key
/// whose absence removes the error (or turns it into "missing field" for that key) is the one.
/// A missing field is reported at the object, and serde's message names the field.
fn read<T: DeserializeOwned>(v: &Value, path: &str) -> Result<T, DriverError> {
    let e = match T::deserialize(v) {
        Ok(t) => return Ok(t),
        Err(e) => e.to_string(),
    };
    if e.starts_with("missing field") {
        return Err(err(path, e));
    }
    if let Some(obj) = v.as_object() {
        for key in obj.keys() {
            let mut without = obj.clone();
            without.remove(key);
            let culprit = match T::deserialize(&Value::Object(without)) {
                Ok(_) => true,
                Err(e2) => e2.to_string() == format!("missing field `{key}`"),
            };
            if culprit {
                return Err(err(format!("{path}.{key}"), e));
            }
        }
    }
    Err(err(path, e))
}

/// The index after the last '.' of a device name (`wq0.3` -> 3), as a `T` (`group0.256` is out
/// of range for a group index and says so).
fn index<T: TryFrom<u64>>(name: &str, prefix: &str, path: &str) -> Result<T, DriverError> {
    let what = || format!("{name:?} is not {prefix}<device>.<index>");
    let Some((head, tail)) = name.rsplit_once('.') else {
        return Err(err(path, what()));
    };
    if !head.starts_with(prefix) {
        return Err(err(path, what()));
    }
    let n: u64 = tail.parse().map_err(|_| err(path, what()))?;
    T::try_from(n).map_err(|_| err(path, format!("index {n} of {name:?} is out of range")))
}

/// A size field as a log2 shift: `None` for 0 (the device's limit), powers of two as they are,
/// anything else rounded up to the next power of two (as the kernel's sysfs store does).
fn shift(v: Option<u64>, path: &str) -> Result<Option<u8>, DriverError> {
    match v {
        None | Some(0) => Ok(None),
        Some(v) => v
            .checked_next_power_of_two()
            .map(|p| Some(p.trailing_zeros() as u8))
            .ok_or_else(|| err(path, format!("{v} has no power of two above it in 64 bits"))),
    }
}

pub(super) fn parse(text: &str, device: Option<&str>) -> Result<DeviceConfig, DriverError> {
    let v: Value = serde_json::from_str(text).map_err(|e| err("(file)", e.to_string()))?;
    let devices: Vec<Value> = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        other => {
            return Err(err(
                "(file)",
                format!("expected an array of devices, found {}", kind(&other)),
            ))
        }
    };
    let mut parsed = Vec::with_capacity(devices.len());
    for (i, d) in devices.iter().enumerate() {
        parsed.push(read::<AcDevice>(d, &format!("[{i}]"))?);
    }
    let (pos, pick) = match device {
        Some(name) => parsed
            .iter()
            .enumerate()
            .find(|(_, d)| d.dev.as_deref() == Some(name))
            .ok_or_else(|| err("dev", format!("no device {name} in the file")))?,
        None if parsed.len() == 1 => (0, &parsed[0]),
        None => {
            return Err(err(
                "dev",
                format!("{} devices in the file: name one", parsed.len()),
            ))
        }
    };
    let dpath = pick.dev.clone().unwrap_or_else(|| format!("[{pos}]"));
    let mut cfg = DeviceConfig::default();
    for (gi, gv) in pick.groups.iter().enumerate() {
        let g: AcGroup = read(gv, &at(&dpath, "groups", gi, gv))?;
        let gpath = format!("{dpath}/{}", g.dev);
        let id: u8 = index(&g.dev, "group", &format!("{gpath}.dev"))?;
        let mut engines = Vec::with_capacity(g.grouped_engines.len());
        for (ei, ev) in g.grouped_engines.iter().enumerate() {
            let e: AcEngine = read(ev, &at(&gpath, "grouped_engines", ei, ev))?;
            engines.push(index::<u8>(&e.dev, "engine", &format!("{gpath}/{}.dev", e.dev))?);
        }
        cfg.groups.push(GroupConfig {
            id,
            engines,
            read_buffers_reserved: g.read_buffers_reserved.or(g.tokens_reserved).unwrap_or(0),
            read_buffers_allowed: g.read_buffers_allowed.or(g.tokens_allowed),
            use_read_buffer_limit: g.use_read_buffer_limit.or(g.use_token_limit).unwrap_or(0) != 0,
        });
        for (wi, wv) in g.grouped_workqueues.iter().enumerate() {
            let w: AcWq = read(wv, &at(&gpath, "grouped_workqueues", wi, wv))?;
            let wpath = format!("{gpath}/{}", w.dev);
            cfg.wqs.push(WqConfig {
                id: index(&w.dev, "wq", &format!("{wpath}.dev"))?,
                group: id,
                mode: w.mode,
                size: w.size,
                priority: w.priority.unwrap_or_else(super::default_priority),
                threshold: w.threshold.unwrap_or(0),
                max_transfer_shift: shift(w.max_transfer_size, &format!("{wpath}.max_transfer_size"))?,
                max_batch_shift: shift(w.max_batch_size, &format!("{wpath}.max_batch_size"))?,
                block_on_fault: w.block_on_fault.unwrap_or(0) != 0,
                name: w.name,
            });
        }
    }
    Ok(cfg)
}

/// Where a list element is: its `dev` name when it has one (`dsa0/group0.1`), else its index
/// (`dsa0/groups[1]`).
fn at(parent: &str, list: &str, i: usize, v: &Value) -> String {
    match v.get("dev").and_then(Value::as_str) {
        Some(name) => format!("{parent}/{name}"),
        None => format!("{parent}/{list}[{i}]"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
