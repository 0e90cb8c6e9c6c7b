//! `idxd`: the command-line front of the idxd workspace.
//!
//! ```text
//! idxd list                                  DSA/IAA PCI functions, kernel WQs, emulated profiles
//! idxd info --device SPEC                    decoded capabilities and current configuration
//! idxd bind BDF | idxd unbind BDF            to vfio-pci and back to the kernel
//! idxd config --device SPEC FILE             apply an accel-config JSON or our TOML
//! idxd selftest --device SPEC                every operation, checked against software
//! idxd bench zswap|zram|ops [options]        throughput, latency, ratio, CPU per page
//! idxd stress [--frontend zswap|zram|runtime] [--faults all=P,halt=1/N]
//!                                            every page checked, under injected faults
//! idxd corpus capture --pid PID --out FILE   a live process's private pages
//! ```
//!
//! Every failure is one line on stderr (`idxd: <message>`) and exit status 1; usage errors
//! exit with 2.

mod bench;
mod capture;
mod info;
mod input;
mod output;
mod rusage;
mod selftest;
mod spec;
mod stress;
mod sysfs_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::spec::Spec;

/// User-space driver, emulator and batching offload runtime for Intel DSA and IAA.
#[derive(Parser, Debug)]
#[command(name = "idxd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// DSA/IAA PCI functions, kernel-owned devices and WQs, and the built-in emulated profiles.
    List(sysfs_cmds::ListArgs),
    /// Decoded capabilities and the current configuration of a device.
    Info(info::InfoArgs),
    /// Hands a DSA/IAA PCI function to vfio-pci.
    Bind(sysfs_cmds::BindArgs),
    /// Gives a DSA/IAA PCI function back to the kernel (idxd).
    Unbind(sysfs_cmds::BindArgs),
    /// Applies a configuration (accel-config saved JSON, or our TOML) to a device.
    Config(info::ConfigArgs),
    /// Runs every operation the device supports and checks the results against software.
    Selftest(selftest::SelftestArgs),
    /// Benchmarks a frontend (zswap, zram) or the raw operations on a device.
    Bench(bench::BenchArgs),
    /// Runs N pages through zswap, zram or the runtime from several threads (optionally with
    /// faults injected into an emulated device) and checks that none comes back wrong, is lost
    /// or hangs.
    Stress(stress::StressArgs),
    /// Page corpora for benchmarks.
    #[command(subcommand)]
    Corpus(CorpusCmd),
}

#[derive(Subcommand, Debug)]
enum CorpusCmd {
    /// Writes the private writable pages of a live process (heap, anonymous, stacks, data) as
    /// concatenated 4 KiB pages.
    Capture(capture::CaptureArgs),
}

/// `--device SPEC` with the default every subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct DeviceArg {
    /// emu:<profile> (dsa-spr, iaa-spr, dsa-gnr, iaa-gnr, dsa-dmr), vfio:<BDF>, wq:<path>, or
    /// sw:zstd|lz4|deflate.
    #[arg(long, short = 'd', value_name = "SPEC", default_value = spec::DEFAULT)]
    pub device: Spec,
}

/// The hidden filesystem root for sysfs and /dev (tests point it at fake trees).
#[derive(Args, Debug, Clone)]
pub struct RootArg {
    #[arg(long, hide = true, default_value = "/")]
    pub root: PathBuf,
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::List(a) => sysfs_cmds::list(&a),
        Cmd::Info(a) => info::info(&a),
        Cmd::Bind(a) => sysfs_cmds::bind(&a),
        Cmd::Unbind(a) => sysfs_cmds::unbind(&a),
        Cmd::Config(a) => info::config(&a),
        Cmd::Selftest(a) => selftest::selftest(&a),
        Cmd::Bench(a) => bench::bench(&a),
        Cmd::Stress(a) => stress::stress(&a),
        Cmd::Corpus(CorpusCmd::Capture(a)) => capture::capture(&a),
    }
}

/// A clap error as one line: its first paragraph, lines joined.
fn clap_one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let msg = first.join(" ");
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg).to_string();
    format!("{msg} (see idxd --help)")
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            eprintln!("idxd: {}", clap_one_line(&e));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idxd: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn clap_errors_fold_to_one_line() {
        for args in [
            vec!["idxd", "bench", "nope"],
            vec!["idxd", "corpus", "capture"],
            vec!["idxd", "info", "--device", "gpu:0"],
            vec!["idxd", "frobnicate"],
        ] {
            let e = Cli::try_parse_from(&args).unwrap_err();
            let l = clap_one_line(&e);
            assert!(!l.contains('\n') && l.len() > 20, "{args:?}: {l}");
        }
    }
}
