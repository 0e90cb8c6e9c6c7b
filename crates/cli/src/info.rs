//! `idxd info` and `idxd config`: capabilities decoded from the registers, and the
//! configuration (GRPCFG/WQCFG) the device holds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use idxd_driver::{sysfs, BringUpOptions, DeviceConfig, RegisterAccess};
use idxd_hw::regs::{off, Command, GenSts};
use idxd_hw::tables::{GrpCfg, WqCfg, WqMode, WqState};
use idxd_hw::{Capabilities, DeviceKind, DsaOpcode, IaaOpcode};
use serde::Serialize;

use crate::output::{opt, print_json, Table};
use crate::spec::Spec;
use crate::{DeviceArg, RootArg};

/// `idxd info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// Bring the device up with this configuration first (accel-config JSON or our TOML);
    /// emulated devices are otherwise brought up with 2 dedicated WQs.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The device to take from an accel-config file holding several (dsa0, iax1).
    #[arg(long, value_name = "NAME")]
    pub dev: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub root: RootArg,
}

/// `idxd config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// accel-config saved JSON (`accel-config save-config`) or our TOML ([[group]], [[wq]]).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The device to take from an accel-config file holding several (dsa0, iax1).
    #[arg(long, value_name = "NAME")]
    pub dev: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub root: RootArg,
}

/// Reads a configuration file: accel-config JSON (`.json`, or any file that parses as JSON),
/// else our TOML.
pub fn load_config(path: &Path, dev: Option<&str>) -> anyhow::Result<DeviceConfig> {
    let text = crate::input::read_to_string_bounded(path, crate::input::MAX_CONFIG_BYTES)?;
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("toml") => false,
        _ => serde_json::from_str::<serde_json::Value>(&text).is_ok(),
    };
    let cfg = if json {
        DeviceConfig::from_accel_config_json(&text, dev)
    } else {
        DeviceConfig::from_toml(&text)
    };
    cfg.with_context(|| format!("{}", path.display()))
}

#[derive(Serialize)]
struct CapsReport {
    kind: DeviceKind,
    part: String,
    version: String,
    wqs: u16,
    wq_entries: u16,
    wq_modes: Vec<&'static str>,
    groups: u8,
    engines: u8,
    read_buffers: u8,
    max_transfer_size: u64,
    max_batch_size: u32,
    opcodes: Vec<String>,
    /// Emulated devices: the advertised opcodes the emulator completes with status 0x10
    /// instead of executing.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_executed: Option<Vec<String>>,
    commands: Vec<String>,
    features: Vec<&'static str>,
    iaacap: Option<Vec<&'static str>>,
}

#[derive(Serialize)]
struct GroupReport {
    id: u8,
    wqs: Vec<u16>,
    engines: Vec<u8>,
    read_buffers_reserved: u8,
    read_buffers_allowed: u8,
    use_read_buffer_limit: bool,
}

#[derive(Serialize)]
struct WqReport {
    id: u16,
    state: String,
    mode: &'static str,
    size: u16,
    priority: u8,
    threshold: u16,
    block_on_fault: bool,
    max_transfer_size: u64,
    max_batch_size: u32,
    group: Option<u8>,
}

#[derive(Serialize)]
struct ConfigReport {
    device_state: String,
    groups: Vec<GroupReport>,
    wqs: Vec<WqReport>,
}

#[derive(Serialize)]
struct InfoReport {
    device: String,
    capabilities: CapsReport,
    configuration: ConfigReport,
}

fn opcode_name(kind: DeviceKind, op: u8) -> String {
    let name = match kind {
        DeviceKind::Dsa => DsaOpcode::from_code(op).map(|o| o.description()),
        DeviceKind::Iaa => IaaOpcode::from_code(op).map(|o| o.description()),
    };
    name.map_or_else(|| format!("opcode {op:#04x}"), str::to_string)
}

fn caps_report(c: &Capabilities, part: String) -> CapsReport {
    let g = &c.gencap;
    let features = [
        (g.block_on_fault, "block-on-fault"),
        (g.overlap_copy, "overlapping copy"),
        (g.cache_control_mem, "cache control (memory)"),
        (g.cache_control_cache, "cache control (cache)"),
        (g.dest_readback, "destination readback"),
        (g.drain_readback, "drain readback"),
        (g.batch_continuation, "batch continuation"),
        (g.config_writable, "configuration writable"),
        (c.wqcap.priority, "WQ priority"),
        (c.wqcap.occupancy, "WQ occupancy"),
        (c.wqcap.op_config, "per-WQ operation config"),
        (c.wqcap.ats, "ATS"),
        (c.wqcap.prs, "PRS"),
        (c.grpcap.read_buffer_ctrl, "read-buffer control"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    CapsReport {
        kind: c.kind,
        part,
        version: c.version.to_string(),
        wqs: c.num_wqs(),
        wq_entries: c.total_wq_size(),
        wq_modes: [
            (c.wqcap.dedicated_mode, "dedicated"),
            (c.wqcap.shared_mode, "shared"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect(),
        groups: c.num_groups(),
        engines: c.num_engines,
        read_buffers: c.total_read_buffers(),
        max_transfer_size: c.max_transfer_size(),
        max_batch_size: c.max_batch_size(),
        opcodes: c.opcap.opcodes().map(|op| opcode_name(c.kind, op)).collect(),
        not_executed: None,
        commands: c
            .cmdcap
            .map(|cc| {
                Command::ALL
                    .iter()
                    .filter(|&&cmd| cc.supports(cmd))
                    .map(|cmd| cmd.description().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        features,
        iaacap: c.iaacap.map(|i| {
            [
                (i.gen2_min, "gen2 minimum"),
                (i.force_array_output, "force array output"),
                (i.partial_aecs_load, "partial AECS load"),
                (i.dictionary, "dictionary compression"),
                (i.header_gen, "header generation"),
            ]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect()
        }),
    }
}

/// The configuration the registers hold now.
fn config_report(r: &dyn RegisterAccess, c: &Capabilities) -> ConfigReport {
    let st = GenSts::decode(r.read32(off::GENSTS));
    let groups: Vec<GrpCfg> = (0..c.num_groups())
        .map(|g| {
            let base = c.grpcfg_offset(g);
            let q: [u64; 8] = std::array::from_fn(|i| r.read64(base + 8 * i as u64));
            GrpCfg::decode(&q)
        })
        .collect();
    let dwords = ((c.wqcfg_entry_size() / 4) as usize).min(idxd_hw::tables::WQCFG_DWORDS);
    let wqs = (0..c.num_wqs())
        .map(|w| {
            let base = c.wqcfg_offset(w);
            let d: Vec<u32> = (0..dwords).map(|i| r.read32(base + 4 * i as u64)).collect();
            let cfg = WqCfg::decode(&d);
            WqReport {
                id: w,
                state: match cfg.state {
                    WqState::Disabled => "disabled".into(),
                    WqState::Enabled => "enabled".into(),
                    WqState::Reserved(x) => format!("reserved ({x})"),
                },
                mode: match cfg.mode {
                    WqMode::Dedicated => "dedicated",
                    WqMode::Shared => "shared",
                },
                size: cfg.size,
                priority: cfg.priority,
                threshold: cfg.threshold,
                block_on_fault: cfg.block_on_fault,
                max_transfer_size: 1u64 << cfg.max_xfer_shift.min(63),
                max_batch_size: if cfg.max_batch_shift == 0 {
                    0
                } else {
                    1u32 << cfg.max_batch_shift.min(31)
                },
                group: groups.iter().position(|g| g.has_wq(w)).map(|g| g as u8),
            }
        })
        .collect();
    ConfigReport {
        device_state: format!("{:?}", st.state).to_lowercase(),
        groups: groups
            .iter()
            .enumerate()
            .map(|(i, g)| GroupReport {
                id: i as u8,
                wqs: (0..c.num_wqs()).filter(|&w| g.has_wq(w)).collect(),
                engines: (0..c.num_engines).filter(|&e| g.has_engine(e)).collect(),
                read_buffers_reserved: g.rdbufs_reserved,
                read_buffers_allowed: g.rdbufs_allowed,
                use_read_buffer_limit: g.use_rdbuf_limit,
            })
            .collect(),
        wqs,
    }
}

fn size(b: u64) -> String {
    match b {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

fn print_caps(c: &CapsReport) {
    println!("Capabilities:");
    println!("  kind             {}", c.kind);
    println!("  part             {}", c.part);
    println!("  version          {}", c.version);
    println!(
        "  WQs              {} ({} entries in all; modes: {})",
        c.wqs,
        c.wq_entries,
        c.wq_modes.join(", ")
    );
    println!("  groups           {}", c.groups);
    println!("  engines          {}", c.engines);
    println!("  read buffers     {}", c.read_buffers);
    println!("  max transfer     {}", size(c.max_transfer_size));
    println!(
        "  max batch        {}",
        if c.max_batch_size == 0 {
            "none (no batch descriptor)".to_string()
        } else {
            c.max_batch_size.to_string()
        }
    );
    println!("  operations       {}", c.opcodes.join(", "));
    if let Some(n) = c.not_executed.as_ref().filter(|n| !n.is_empty()) {
        println!(
            "  not emulated     {} (advertised; the emulator completes them with status 0x10)",
            n.join(", ")
        );
    }
    if !c.commands.is_empty() {
        println!("  commands         {}", c.commands.join(", "));
    }
    println!("  features         {}", c.features.join(", "));
    if let Some(i) = &c.iaacap {
        println!(
            "  IAACAP           {}",
            if i.is_empty() {
                "(none)".to_string()
            } else {
                i.join(", ")
            }
        );
    }
}

fn print_config(c: &ConfigReport) {
    println!("Configuration (read from GRPCFG/WQCFG):");
    println!("  device state     {}", c.device_state);
    let mut t = Table::new(["group", "WQs", "engines", "rdbuf reserved", "rdbuf allowed"]).also_left(&[1, 2]);
    for g in &c.groups {
        let list = |v: Vec<String>| if v.is_empty() { "-".into() } else { v.join(",") };
        t.row([
            g.id.to_string(),
            list(g.wqs.iter().map(u16::to_string).collect()),
            list(g.engines.iter().map(u8::to_string).collect()),
            g.read_buffers_reserved.to_string(),
            g.read_buffers_allowed.to_string(),
        ]);
    }
    print!("{}", t.render("  "));
    let mut t = Table::new([
        "WQ",
        "state",
        "mode",
        "group",
        "size",
        "priority",
        "max transfer",
        "max batch",
        "block on fault",
    ])
    .also_left(&[1, 2]);
    for w in c.wqs.iter().filter(|w| w.size > 0 || w.state != "disabled") {
        t.row([
            w.id.to_string(),
            w.state.clone(),
            w.mode.to_string(),
            opt(w.group),
            w.size.to_string(),
            w.priority.to_string(),
            size(w.max_transfer_size),
            w.max_batch_size.to_string(),
            if w.block_on_fault { "yes" } else { "no" }.to_string(),
        ]);
    }
    if t.is_empty() {
        println!("  no WQ configured");
    } else {
        print!("{}", t.render("  "));
    }
}

/// A device whose registers this process owns (opened by the driver), brought up or not.
struct Owned {
    backed: idxd_driver::Backed,
    device: Option<idxd_driver::OpenDevice>,
}

impl Owned {
    fn open(spec: &Spec, root: &Path, config: Option<&DeviceConfig>) -> anyhow::Result<Self> {
        let ds = spec
            .runtime_device(Default::default())
            .with_context(|| format!("{spec} has no registers"))?;
        let backed = idxd_driver::Backed::open(&ds, root).with_context(|| format!("opening {spec}"))?;
        // An emulated device starts disabled: show it as the runtime would use it.
        let bring_up = config.is_some() || matches!(spec, Spec::Emu { .. });
        let device = if bring_up {
            Some(
                backed
                    .bring_up(config, 2, BringUpOptions::default())
                    .with_context(|| format!("bringing up {spec}"))?,
            )
        } else {
            None
        };
        Ok(Owned { backed, device })
    }

    fn report(&self, spec: &Spec) -> anyhow::Result<InfoReport> {
        let r = self.backed.backing().registers().context("no register access")?;
        let c = self.backed.caps();
        let mut capabilities = caps_report(c, self.backed.part().to_string());
        if matches!(spec, Spec::Emu { .. }) {
            capabilities.not_executed = Some(
                c.opcap
                    .opcodes()
                    .filter(|&op| !idxd_emu::ops::executes(c.kind, op))
                    .map(|op| opcode_name(c.kind, op))
                    .collect(),
            );
        }
        Ok(InfoReport {
            device: spec.to_string(),
            capabilities,
            configuration: config_report(r, self.backed.caps()),
        })
    }

    fn close(self) -> anyhow::Result<()> {
        if let Some(d) = self.device {
            d.teardown().context("teardown")?;
        }
        Ok(())
    }
}

fn kernel_wq_info(path: &Path, root: &Path, json: bool) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("not a WQ device path")?;
    let wq = sysfs::kernel_wq(root, name)?;
    let dev = sysfs::list_kernel_devices(root)?
        .into_iter()
        .find(|d| d.id == wq.device_id && d.kind == wq.kind);
    if json {
        #[derive(Serialize)]
        struct WqInfo<'a> {
            device: Option<&'a sysfs::KernelDevice>,
            wq: &'a sysfs::KernelWq,
        }
        let mut d = dev.clone();
        if let Some(d) = d.as_mut() {
            d.wqs.retain(|w| w.name == wq.name);
        }
        return print_json(&WqInfo {
            device: d.as_ref(),
            wq: &wq,
        });
    }
    println!("Kernel-owned WQ {} ({}):", wq.name, wq.kind);
    if let Some(d) = &dev {
        println!(
            "  device           {} ({}), {}, NUMA {}",
            d.name,
            d.pci
                .map(|b| b.to_string())
                .unwrap_or_else(|| "PCI address unknown".into()),
            d.state.as_deref().unwrap_or("state unknown"),
            opt(d.numa_node)
        );
    }
    println!(
        "  mode             {}",
        match wq.mode {
            Some(WqMode::Dedicated) => "dedicated",
            Some(WqMode::Shared) => "shared",
            None => "-",
        }
    );
    println!("  size             {}", opt(wq.size));
    println!(
        "  type             {}",
        wq.wq_type
            .map_or("-".to_string(), |t| format!("{t:?}").to_lowercase())
    );
    println!("  state            {}", opt(wq.state.as_deref()));
    println!("  name             {}", opt(wq.label.as_deref()));
    println!("  priority         {}", opt(wq.priority));
    println!("  threshold        {}", opt(wq.threshold));
    println!("  max transfer     {}", opt(wq.max_transfer_size.map(size)));
    println!("  max batch        {}", opt(wq.max_batch_size));
    println!(
        "  device file      {}{}",
        wq.char_dev.display(),
        if wq.char_dev.exists() { "" } else { " (absent)" }
    );
    Ok(())
}

/// `idxd info`.
pub fn info(a: &InfoArgs) -> anyhow::Result<ExitCode> {
    let spec = &a.device.device;
    let root = &a.root.root;
    match spec {
        Spec::Sw { alg } => bail!("{spec} is the software codec {alg}: there is no device to inspect"),
        Spec::Wq { path } => {
            if a.config.is_some() {
                bail!(
                    "--config does not apply to kernel-owned WQs (the kernel configures them: accel-config)"
                );
            }
            kernel_wq_info(path, root, a.json)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let cfg = match &a.config {
        Some(p) => Some(load_config(p, a.dev.as_deref())?),
        None => None,
    };
    let owned = Owned::open(spec, root, cfg.as_ref())?;
    let report = owned.report(spec)?;
    owned.close()?;
    if a.json {
        print_json(&report)?;
    } else {
        println!("Device {}", report.device);
        print_caps(&report.capabilities);
        print_config(&report.configuration);
    }
    Ok(ExitCode::SUCCESS)
}

/// `idxd config`.
pub fn config(a: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let spec = &a.device.device;
    let cfg = load_config(&a.file, a.dev.as_deref())?;
    match spec {
        Spec::Sw { .. } => bail!("{spec} is a software codec: there is nothing to configure"),
        Spec::Wq { .. } => bail!(
            "{spec} belongs to the kernel's idxd driver: apply the file with `accel-config load-config -c {} -e`",
            a.file.display()
        ),
        _ => {}
    }
    let owned = Owned::open(spec, &a.root.root, Some(&cfg))?;
    let report = owned.report(spec)?;
    owned.close()?;
    if a.json {
        print_json(&report.configuration)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: configuration from {} applied: {} group(s), {} WQ(s) enabled",
        spec,
        a.file.display(),
        cfg.groups.len(),
        report
            .configuration
            .wqs
            .iter()
            .filter(|w| w.state == "enabled")
            .count()
    );
    print_config(&report.configuration);
    match spec {
        Spec::Emu { profile } => println!(
            "note: an emulated device lives in this process only; `idxd info --device emu:{profile} --config {}` shows it again",
            a.file.display()
        ),
        _ => println!(
            "note: vfio-pci resets the device when this process closes it; programs using {spec} bring it up with this file themselves"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
