//! Device specs: what `--device` names.
//!
//! - `emu:<profile>`: an in-process emulated device from a built-in profile (`emu:iaa-spr`);
//! - `vfio:<BDF>`: a device bound to vfio-pci (`vfio:0000:6a:02.0`);
//! - `wq:<path>`: a WQ owned by the kernel's idxd driver (`wq:/dev/iax/wq1.0`);
//! - `sw:<codec>`: a software codec through the runtime (`sw:zstd`, `sw:lz4`, `sw:deflate`, with an
//!   optional level: `sw:zstd-3`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use idxd_emu::device::EmuConfig;
use idxd_hw::profile::Profile;
use idxd_runtime::{Algorithm, DeviceSpec, IaaMode, RuntimeBuilder};

/// The default device of every subcommand.
pub const DEFAULT: &str = "emu:iaa-spr";

/// A parsed `--device` value.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    /// An emulated device from a built-in profile.
    Emu {
        /// Profile name.
        profile: String,
    },
    /// A function bound to vfio-pci.
    Vfio {
        /// `dddd:bb:dd.f`.
        bdf: String,
    },
    /// A kernel-owned WQ character device.
    Wq {
        /// `/dev/iax/wq1.0`.
        path: PathBuf,
    },
    /// A software codec.
    Sw {
        /// The algorithm (never an IAA one).
        alg: Algorithm,
    },
}

impl FromStr for Spec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(format!(
                "`{s}` is not a device spec (emu:<profile>, vfio:<BDF>, wq:<path>, sw:zstd|lz4|deflate)"
            ));
        };
        match kind {
            // Devices: the driver parses their specs (one reading of `emu:`, `vfio:`, `wq:`).
            "emu" | "vfio" | "wq" => match s.parse::<DeviceSpec>().map_err(|e| e.to_string())? {
                DeviceSpec::Emulated { profile, .. } => Ok(Spec::Emu { profile }),
                DeviceSpec::EmulatedOnNode { profile, node, .. } => Err(format!(
                    "`emu:{profile}@node{node}`: the command line takes no NUMA node for emulated devices"
                )),
                DeviceSpec::Vfio { bdf } => Ok(Spec::Vfio { bdf }),
                DeviceSpec::KernelWq { path } => Ok(Spec::Wq { path }),
            },
            "sw" => {
                let bad = || format!("`{rest}` is not a software codec (zstd[-N], lz4, deflate[-N])");
                match rest.parse::<Algorithm>() {
                    Ok(Algorithm::Iaa(_)) | Err(_) => Err(bad()),
                    Ok(alg) => Ok(Spec::Sw { alg }),
                }
            }
            other => Err(format!(
                "unknown device kind `{other}:` (emu:<profile>, vfio:<BDF>, wq:<path>, sw:zstd|lz4|deflate)"
            )),
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Emu { profile } => write!(f, "emu:{profile}"),
            Spec::Vfio { bdf } => write!(f, "vfio:{bdf}"),
            Spec::Wq { path } => write!(f, "wq:{}", path.display()),
            Spec::Sw { alg } => write!(f, "sw:{alg}"),
        }
    }
}

impl Spec {
    /// A runtime builder that compresses on this spec: a software codec (`algorithm` may
    /// override its level or codec), or the device's deflate (an emulated device with `emu`).
    /// DSA devices and mismatched algorithms are refused.
    pub fn compression_builder(
        &self,
        algorithm: Option<Algorithm>,
        emu: EmuConfig,
    ) -> anyhow::Result<RuntimeBuilder> {
        let b = RuntimeBuilder::new();
        Ok(match self {
            Spec::Sw { alg } => match algorithm {
                Some(Algorithm::Iaa(_)) => {
                    anyhow::bail!("{self}: a software spec cannot run an IAA algorithm")
                }
                Some(a) => b.algorithm(a),
                None => b.algorithm(*alg),
            },
            spec => {
                if spec.profile().is_some_and(|p| p.kind == idxd_hw::DeviceKind::Dsa) {
                    anyhow::bail!(
                        "{spec} is a DSA, which does not compress: use an IAA (emu:iaa-spr) or a software codec (sw:zstd), or `bench ops` for DSA operations"
                    );
                }
                let alg = match algorithm {
                    None => Algorithm::Iaa(IaaMode::Fixed),
                    Some(a @ Algorithm::Iaa(_)) => a,
                    Some(a) => {
                        anyhow::bail!("{spec} is a device: --algorithm {a} is a software codec (use sw:{a})")
                    }
                };
                let dev = spec
                    .runtime_device(emu)
                    .ok_or_else(|| anyhow::anyhow!("{spec}: no device"))?;
                b.algorithm(alg).device(dev)
            }
        })
    }

    /// The runtime's device spec (`None` for software codecs).
    pub fn runtime_device(&self, config: EmuConfig) -> Option<DeviceSpec> {
        match self {
            Spec::Emu { profile } => Some(DeviceSpec::Emulated {
                profile: profile.clone(),
                config,
            }),
            Spec::Vfio { bdf } => Some(DeviceSpec::Vfio { bdf: bdf.clone() }),
            Spec::Wq { path } => Some(DeviceSpec::KernelWq { path: path.clone() }),
            Spec::Sw { .. } => None,
        }
    }

    /// The profile of an emulated device.
    pub fn profile(&self) -> Option<Profile> {
        match self {
            Spec::Emu { profile } => Profile::builtin(profile).ok(),
            _ => None,
        }
    }

    /// Whether this is real hardware (vfio or kernel WQ).
    pub fn is_hardware(&self) -> bool {
        matches!(self, Spec::Vfio { .. } | Spec::Wq { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_refuses_the_rest() {
        assert_eq!(
            "emu:iaa-spr".parse::<Spec>().unwrap(),
            Spec::Emu {
                profile: "iaa-spr".into()
            }
        );
        assert_eq!(
            "vfio:0000:6A:02.0".parse::<Spec>().unwrap().to_string(),
            "vfio:0000:6a:02.0"
        );
        assert!(matches!(
            "wq:/dev/iax/wq1.0".parse::<Spec>().unwrap(),
            Spec::Wq { .. }
        ));
        assert_eq!("sw:zstd".parse::<Spec>().unwrap().to_string(), "sw:zstd-1");
        assert_eq!("sw:lz4".parse::<Spec>().unwrap().to_string(), "sw:lz4");
        assert_eq!(
            "sw:deflate-6".parse::<Spec>().unwrap().to_string(),
            "sw:deflate-6"
        );
        for bad in [
            "iaa-spr",
            "emu:iaa-xyz",
            "vfio:6a:02.0",
            "wq:/dev/null",
            "sw:deflate-iaa",
            "sw:brotli",
            "sw:deflate-0",
            "sw:zstd-1000",
            "gpu:0",
        ] {
            let e = bad.parse::<Spec>().unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
        assert!("emu:nope".parse::<Spec>().unwrap_err().contains("iaa-spr"));
    }
}
