//! `idxd list`, `idxd bind`, `idxd unbind`: sysfs discovery and binding.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use idxd_driver::sysfs::{self, KernelDevice, PciFunction, VFIO_PCI};
use idxd_hw::profile::{Profile, BUILTIN};
use serde::Serialize;

use crate::output::{opt, print_json, Table};
use crate::RootArg;

/// `idxd list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub root: RootArg,
}

/// `idxd bind BDF` / `idxd unbind BDF`.
#[derive(Args, Debug)]
pub struct BindArgs {
    /// PCI address of the DSA/IAA function, dddd:bb:dd.f (e.g. 0000:6a:02.0).
    #[arg(value_name = "BDF")]
    pub bdf: String,
    #[command(flatten)]
    pub root: RootArg,
}

#[derive(Serialize)]
struct EmulatedProfile {
    spec: String,
    kind: idxd_hw::DeviceKind,
    part: String,
    description: String,
    numa_node: u32,
    wqs: u16,
    engines: u8,
}

#[derive(Serialize)]
struct Listing {
    pci: Vec<PciFunction>,
    kernel: Vec<KernelDevice>,
    emulated: Vec<EmulatedProfile>,
}

fn emulated() -> anyhow::Result<Vec<EmulatedProfile>> {
    BUILTIN
        .iter()
        .map(|(name, _)| {
            let p = Profile::builtin(name)?;
            Ok(EmulatedProfile {
                spec: format!("emu:{name}"),
                kind: p.kind,
                part: p.part_name(),
                description: p.description.clone(),
                numa_node: p.numa_node,
                wqs: p.caps.num_wqs(),
                engines: p.caps.num_engines,
            })
        })
        .collect()
}

/// `idxd list`.
pub fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let root = &a.root.root;
    let l = Listing {
        pci: sysfs::list_pci_functions(root).context("listing PCI functions")?,
        kernel: sysfs::list_kernel_devices(root).context("listing kernel devices")?,
        emulated: emulated()?,
    };
    if a.json {
        print_json(&l)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("PCI functions ({}):", sysfs::pci_devices_dir(root).display());
    if l.pci.is_empty() {
        println!("  none");
    } else {
        let mut t = Table::new(["address", "kind", "part", "NUMA", "driver", "IOMMU group"])
            .left_columns(3)
            .also_left(&[4]);
        for f in &l.pci {
            t.row([
                f.bdf.to_string(),
                f.kind.to_string(),
                f.part.clone(),
                opt(f.numa_node),
                f.driver.clone().unwrap_or_else(|| "(none)".into()),
                opt(f.iommu_group),
            ]);
        }
        print!("{}", t.render("  "));
    }
    println!(
        "\nKernel devices and WQs ({}):",
        sysfs::dsa_bus_dir(root).display()
    );
    if l.kernel.is_empty() {
        println!("  none (idxd not loaded, or no device)");
    }
    for d in &l.kernel {
        println!(
            "  {} ({}{}): {}, NUMA {}",
            d.name,
            d.kind,
            d.pci.map(|b| format!(" at {b}")).unwrap_or_default(),
            d.state.as_deref().unwrap_or("state unknown"),
            opt(d.numa_node)
        );
        if d.wqs.is_empty() {
            println!("    no WQ");
            continue;
        }
        let mut t =
            Table::new(["wq", "mode", "size", "type", "state", "name", "device file"]).left_columns(7);
        for w in &d.wqs {
            t.row([
                w.name.clone(),
                match w.mode {
                    Some(idxd_hw::WqMode::Dedicated) => "dedicated".into(),
                    Some(idxd_hw::WqMode::Shared) => "shared".into(),
                    None => "-".into(),
                },
                opt(w.size),
                w.wq_type
                    .map(|t| format!("{t:?}").to_lowercase())
                    .unwrap_or_else(|| "-".into()),
                opt(w.state.as_deref()),
                opt(w.label.as_deref()),
                w.char_dev.display().to_string(),
            ]);
        }
        print!("{}", t.render("    "));
    }
    println!("\nEmulated devices (built-in profiles):");
    let mut t = Table::new(["spec", "kind", "part", "WQs", "engines", "description"])
        .left_columns(3)
        .also_left(&[5]);
    for p in &l.emulated {
        t.row([
            p.spec.clone(),
            p.kind.to_string(),
            p.part.clone(),
            p.wqs.to_string(),
            p.engines.to_string(),
            p.description.clone(),
        ]);
    }
    print!("{}", t.render("  "));
    Ok(ExitCode::SUCCESS)
}

/// `idxd bind BDF`.
pub fn bind(a: &BindArgs) -> anyhow::Result<ExitCode> {
    let root = &a.root.root;
    sysfs::bind_vfio(root, &a.bdf)?;
    let f = sysfs::pci_function(root, &a.bdf)?;
    match f.iommu_group {
        Some(g) => {
            println!(
                "{}: bound to {VFIO_PCI} ({} {}); use it as --device vfio:{}",
                f.bdf,
                f.part,
                root.join("dev/vfio").join(g.to_string()).display(),
                f.bdf
            );
            let others: Vec<String> = sysfs::iommu_group_members(root, g)?
                .into_iter()
                .filter(|m| m.bdf != f.bdf.to_string())
                .filter(|m| m.driver.as_deref().is_some_and(|d| d != VFIO_PCI))
                .map(|m| format!("{} ({})", m.bdf, m.driver.unwrap_or_default()))
                .collect();
            if !others.is_empty() {
                println!(
                    "note: IOMMU group {g} also holds {}: bind them to {VFIO_PCI} too before opening the device",
                    others.join(", ")
                );
            }
        }
        None => println!(
            "{}: bound to {VFIO_PCI}, but it has no IOMMU group (is the IOMMU enabled? intel_iommu=on)",
            f.bdf
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `idxd unbind BDF`.
pub fn unbind(a: &BindArgs) -> anyhow::Result<ExitCode> {
    let root = &a.root.root;
    sysfs::unbind_vfio(root, &a.bdf)?;
    let f = sysfs::pci_function(root, &a.bdf)?;
    match f.driver.as_deref() {
        Some(VFIO_PCI) => anyhow::bail!(
            "{}: still bound to {VFIO_PCI} after unbind (is a program holding it open?)",
            f.bdf
        ),
        Some(d) => println!("{}: released from {VFIO_PCI}; now bound to {d}", f.bdf),
        None => println!(
            "{}: released from {VFIO_PCI}; no driver took it (load idxd: modprobe idxd)",
            f.bdf
        ),
    }
    Ok(ExitCode::SUCCESS)
}
