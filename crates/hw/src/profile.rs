//! Device profiles: the PCI identity, capability registers and sizes of a real part, kept as
//! TOML files in `firmware-mocks/` and loaded by the emulator.
//!
//! Every problem is reported with the file and the field it concerns.

use std::path::Path;

use serde::Deserialize;

use crate::caps::{CapRegisters, Capabilities};
use crate::pci::{self, DeviceKind, VENDOR_INTEL};
use crate::portal::WQ_PORTAL_STRIDE;
use crate::regs::MSIX_PERM_ENTRY_SIZE;

/// The profiles shipped in `firmware-mocks/`, compiled in: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("dsa-spr", include_str!("../../../firmware-mocks/dsa-spr.toml")),
    ("iaa-spr", include_str!("../../../firmware-mocks/iaa-spr.toml")),
    ("dsa-gnr", include_str!("../../../firmware-mocks/dsa-gnr.toml")),
    ("iaa-gnr", include_str!("../../../firmware-mocks/iaa-gnr.toml")),
    ("dsa-dmr", include_str!("../../../firmware-mocks/dsa-dmr.toml")),
];

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{file}: field `{field}`: {reason}")]
pub struct ProfileError {
    /// The file (or built-in name).
    pub file: String,
    /// The field, dotted (`registers.gencap`), or `(syntax)`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// A validated device profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Short name, e.g. `iaa-spr`.
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// The capability registers.
    pub registers: CapRegisters,
    /// Decoded capabilities.
    pub caps: Capabilities,
    /// Number of MSI-X vectors (vector 0 is for device events, 1.. for WQ completions).
    pub msix_vectors: u16,
    /// BAR0 size in bytes.
    pub bar0_size: u64,
    /// BAR2 size in bytes.
    pub bar2_size: u64,
    /// NUMA node the emulated device reports.
    pub numa_node: u32,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Str(String),
}

impl Num {
    fn value(&self) -> Result<u64, String> {
        match self {
            Num::Int(v) if *v >= 0 => Ok(*v as u64),
            Num::Int(v) => Err(format!("negative value {v}")),
            Num::Str(s) => {
                let t = s.trim().replace('_', "");
                let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => t.parse(),
                };
                r.map_err(|e| format!("`{s}` is not a number: {e}"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegisters {
    version: Num,
    gencap: Num,
    wqcap: Num,
    grpcap: Num,
    engcap: Num,
    opcap: Vec<Num>,
    offsets: Vec<Num>,
    #[serde(default)]
    cmdcap: Option<Num>,
    #[serde(default)]
    iaacap: Option<Num>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    description: String,
    kind: DeviceKind,
    vendor: Num,
    device: Num,
    msix_vectors: Num,
    bar0_size: Num,
    bar2_size: Num,
    #[serde(default)]
    numa_node: Option<Num>,
    registers: RawRegisters,
}

impl Profile {
    /// Parses and validates a profile. `file` names the source in error messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, ProfileError> {
        let err = |field: &str, reason: String| ProfileError {
            file: file.to_string(),
            field: field.to_string(),
            reason,
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            // toml names unknown/missing keys in its message; keep the span out of it.
            err("(syntax)", msg)
        })?;
        let num = |field: &str, n: &Num, max: u64| -> Result<u64, ProfileError> {
            let v = n.value().map_err(|r| err(field, r))?;
            if v > max {
                return Err(err(field, format!("{v:#x} exceeds {max:#x}")));
            }
            Ok(v)
        };
        let r = &raw.registers;
        let words = |field: &str, v: &[Num], n: usize| -> Result<Vec<u64>, ProfileError> {
            if v.len() != n {
                return Err(err(field, format!("expected {n} values, found {}", v.len())));
            }
            v.iter().map(|x| num(field, x, u64::MAX)).collect()
        };
        let opcap = words("registers.opcap", &r.opcap, 4)?;
        let offsets = words("registers.offsets", &r.offsets, 2)?;
        let registers = CapRegisters {
            version: num("registers.version", &r.version, u32::MAX as u64)? as u32,
            gencap: num("registers.gencap", &r.gencap, u64::MAX)?,
            wqcap: num("registers.wqcap", &r.wqcap, u64::MAX)?,
            grpcap: num("registers.grpcap", &r.grpcap, u64::MAX)?,
            engcap: num("registers.engcap", &r.engcap, u64::MAX)?,
            opcap: [opcap[0], opcap[1], opcap[2], opcap[3]],
            offsets: [offsets[0], offsets[1]],
            cmdcap: match &r.cmdcap {
                Some(n) => num("registers.cmdcap", n, u32::MAX as u64)? as u32,
                None => 0,
            },
            iaacap: match &r.iaacap {
                Some(n) => num("registers.iaacap", n, u64::MAX)?,
                None => 0,
            },
        };
        let vendor = num("vendor", &raw.vendor, 0xffff)? as u16;
        let device = num("device", &raw.device, 0xffff)? as u16;
        if vendor != VENDOR_INTEL {
            return Err(err("vendor", format!("{vendor:#06x} is not Intel (0x8086)")));
        }
        let known = pci::lookup(vendor, device).ok_or_else(|| {
            err(
                "device",
                format!("{device:#06x} is not a known DSA/IAA device id"),
            )
        })?;
        if known.kind != raw.kind {
            return Err(err(
                "kind",
                format!("device {device:#06x} is a {}, not a {}", known.kind, raw.kind),
            ));
        }
        let caps = Capabilities::decode(raw.kind, &registers).map_err(|e| err("registers", e.to_string()))?;
        if r.iaacap.is_some() && caps.iaacap.is_none() && raw.kind == DeviceKind::Iaa {
            return Err(err(
                "registers.iaacap",
                "IAACAP exists only on IAA 2.0 and later".into(),
            ));
        }
        if caps.gencap.cmd_cap != r.cmdcap.is_some() {
            return Err(err(
                "registers.cmdcap",
                "must be given exactly when GENCAP bit 4 (CMDCAP valid) is set".into(),
            ));
        }
        for (op, name) in [(0u8, "no-op"), (2, "drain")] {
            if !caps.supports(op) {
                return Err(err(
                    "registers.opcap",
                    format!("every part supports {name} (opcode {op})"),
                ));
            }
        }
        let msix_vectors = num("msix_vectors", &raw.msix_vectors, 2048)? as u16;
        if msix_vectors == 0 {
            return Err(err("msix_vectors", "at least one vector is needed".into()));
        }
        let bar0_size = num("bar0_size", &raw.bar0_size, 1 << 40)?;
        let bar2_size = num("bar2_size", &raw.bar2_size, 1 << 40)?;
        let msix_end = caps.offsets.msix_perm_bytes() + msix_vectors as u64 * MSIX_PERM_ENTRY_SIZE;
        let bar0_need = [
            caps.wqcfg_end(),
            caps.grpcfg_end(),
            msix_end,
            caps.offsets.perfmon_bytes() + 0x100,
            0x200,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if !bar0_size.is_power_of_two() || bar0_size < bar0_need {
            return Err(err(
                "bar0_size",
                format!("{bar0_size:#x}: must be a power of two of at least {bar0_need:#x}"),
            ));
        }
        let bar2_need = caps.num_wqs() as u64 * WQ_PORTAL_STRIDE;
        if !bar2_size.is_power_of_two() || bar2_size < bar2_need {
            return Err(err(
                "bar2_size",
                format!("{bar2_size:#x}: must be a power of two of at least {bar2_need:#x}"),
            ));
        }
        let numa_node = match &raw.numa_node {
            Some(n) => num("numa_node", n, u32::MAX as u64)? as u32,
            None => 0,
        };
        if raw.name.is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            kind: raw.kind,
            vendor,
            device,
            registers,
            caps,
            msix_vectors,
            bar0_size,
            bar2_size,
            numa_node,
        })
    }

    /// Loads a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: file.clone(),
            field: "(file)".into(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&file, &text)
    }

    /// A compiled-in profile by name (`dsa-spr`, `iaa-spr`, `dsa-gnr`, `iaa-gnr`, `dsa-dmr`).
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let (n, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ProfileError {
                file: name.to_string(),
                field: "(name)".into(),
                reason: format!(
                    "no built-in profile of that name (known: {})",
                    BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
            })?;
        Self::from_toml(&format!("firmware-mocks/{n}.toml"), text)
    }

    /// The part's name from its PCI id and VERSION.
    pub fn part_name(&self) -> String {
        pci::part_name(self.vendor, self.device, Some(self.caps.version)).unwrap_or_else(|| self.name.clone())
    }
}
