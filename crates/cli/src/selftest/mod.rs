//! `idxd selftest`: every operation the device supports, each result checked against a
//! software reference. One line per operation; a non-zero exit when any fails.

mod dsa;
mod iaa;
mod refs;
mod sw;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use idxd_driver::{DmaPool, Record, Wq};
use idxd_emu::device::EmuConfig;
use idxd_hw::{Capabilities, DeviceKind, DsaCompletion, DsaOp, IaaCompletion, IaaOp, Submit};
use serde::Serialize;

use crate::output::print_json;
use crate::spec::Spec;
use crate::{DeviceArg, RootArg};

/// How long one operation may take.
pub const T: Duration = Duration::from_secs(10);

/// `idxd selftest`.
#[derive(Args, Debug)]
pub struct SelftestArgs {
    #[command(flatten)]
    pub device: DeviceArg,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub root: RootArg,
}

/// The outcome of one operation.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Operation.
    pub name: String,
    /// Whether the result matched software.
    pub pass: bool,
    /// What was checked, or what went wrong.
    pub detail: String,
}

/// Collects checks; a closure returning `Err` is a failure with that text.
#[derive(Default)]
pub struct Checks(pub Vec<Check>);

impl Checks {
    /// Runs one check.
    pub fn run(&mut self, name: &str, f: impl FnOnce() -> Result<String, String>) {
        let (pass, detail) = match f() {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.0.push(Check {
            name: name.to_string(),
            pass,
            detail,
        });
    }

    /// Records an operation the device does not offer.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.0.push(Check {
            name: name.to_string(),
            pass: true,
            detail: format!("skipped: {why}"),
        });
    }
}

/// A device's WQ, DMA memory and capabilities (when the registers are readable).
pub struct Target {
    /// The WQ every operation goes to.
    pub wq: Arc<Wq>,
    /// DMA memory mapped for the device.
    pub pool: Arc<DmaPool>,
    /// Capabilities (None for a kernel-owned WQ).
    pub caps: Option<Capabilities>,
}

impl Target {
    /// Whether the device offers `opcode` (assumed for kernel-owned WQs).
    pub fn supports(&self, opcode: u8) -> bool {
        self.caps.is_none_or(|c| c.supports(opcode))
    }

    /// Runs one DSA operation to completion.
    pub fn dsa(&self, op: &DsaOp) -> Result<DsaCompletion, String> {
        let t = self
            .wq
            .submit_dsa(op, &Submit::default(), Vec::new())
            .map_err(|e| e.to_string())?;
        match self.wq.wait(t, T).map_err(|e| e.to_string())?.result {
            Ok(Record::Dsa(r)) => Ok(r),
            Ok(Record::Iaa(_)) => Err("an IAA record from a DSA WQ".into()),
            Err(a) => Err(format!("abandoned: {a:?}")),
        }
    }

    /// Runs one IAA operation to completion.
    pub fn iaa(&self, op: &IaaOp) -> Result<IaaCompletion, String> {
        let t = self
            .wq
            .submit_iaa(op, &Submit::default(), Vec::new())
            .map_err(|e| e.to_string())?;
        match self.wq.wait(t, T).map_err(|e| e.to_string())?.result {
            Ok(Record::Iaa(r)) => Ok(r),
            Ok(Record::Dsa(_)) => Err("a DSA record from an IAA WQ".into()),
            Err(a) => Err(format!("abandoned: {a:?}")),
        }
    }
}

/// `idxd selftest`.
pub fn selftest(a: &SelftestArgs) -> anyhow::Result<ExitCode> {
    let spec = &a.device.device;
    let checks = match spec {
        Spec::Sw { alg } => sw::run(*alg),
        _ => {
            let ds = spec.runtime_device(EmuConfig::default()).context("no device")?;
            let opts = idxd_driver::OpenOptions {
                wqs: 1,
                ..Default::default()
            };
            let open = idxd_driver::open(&ds, &opts).with_context(|| format!("opening {spec}"))?;
            let wq = open.wqs().first().cloned().context("the device has no WQ")?;
            let pool = DmaPool::new(wq.backing().clone(), 1 << 20, false).context("DMA memory")?;
            let target = Target {
                wq,
                pool,
                caps: open.device().map(|d| *d.caps()),
            };
            let checks = match open.kind() {
                DeviceKind::Dsa => dsa::run(&target),
                DeviceKind::Iaa => iaa::run(&target),
            };
            drop(target);
            open.teardown().context("teardown")?;
            checks
        }
    };
    let failed = checks.iter().filter(|c| !c.pass).count();
    if failed > 0 {
        eprintln!(
            "idxd: selftest of {spec}: {failed} of {} operations failed",
            checks.len()
        );
    }
    if a.json {
        #[derive(Serialize)]
        struct Report<'a> {
            device: String,
            passed: usize,
            failed: usize,
            checks: &'a [Check],
        }
        print_json(&Report {
            device: spec.to_string(),
            passed: checks.len() - failed,
            failed,
            checks: &checks,
        })?;
    } else {
        println!("selftest of {spec}:");
        let w = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &checks {
            println!(
                "  {:<w$}  {}  {}",
                c.name,
                if c.pass { "PASS" } else { "FAIL" },
                c.detail
            );
        }
        println!("{} passed, {} failed", checks.len() - failed, failed);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
