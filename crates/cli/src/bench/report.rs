//! The bench's table on stdout and its JSON file.

use std::path::Path;

use idxd_runtime::StatsSnapshot;
use serde::Serialize;

use super::{BenchArgs, Corpus, RunResult};
use crate::output::{write_json as write_json_file, Table};

/// One codec's runtime counters, for JSON.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CodecJson {
    /// `deflate-iaa/compress`, `fallback`, ...
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Input bytes of successful requests.
    pub bytes_in: u64,
    /// Output bytes of successful requests.
    pub bytes_out: u64,
    /// Requests redone in software.
    pub fallbacks: u64,
    /// Errors by kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Latency histogram: entry i counts requests of [2^i, 2^(i+1)) ns.
    pub latency_ns_log2: Vec<u64>,
}

/// One line per device of what it has been through (`Runtime::health`): never a silent
/// degradation to software.
pub fn health_lines(rt: &idxd_runtime::Runtime) -> Vec<String> {
    rt.health()
        .into_iter()
        .map(|h| {
            format!(
                "{}: {} submitted, {} halts ({} recovered), {} software errors, {} abandoned, {} orphaned ({} reaped late, {} released by {} drains), {} in flight",
                h.name,
                h.submitted,
                h.halts,
                h.recoveries,
                h.software_errors,
                h.abandoned,
                h.orphaned,
                h.orphans_reaped,
                h.orphans_released,
                h.drains,
                h.in_flight
            )
        })
        .collect()
}

/// The runtime's counters as JSON, plus totals of fallbacks and errors.
pub fn runtime_json(s: &StatsSnapshot) -> (Vec<CodecJson>, u64, std::collections::BTreeMap<String, u64>) {
    let mut errors = std::collections::BTreeMap::new();
    let mut fallbacks = 0;
    let codecs = s
        .codecs
        .iter()
        .map(|(name, c)| {
            fallbacks += c.fallbacks;
            for (k, v) in &c.errors {
                *errors.entry(k.to_string()).or_insert(0) += v;
            }
            let mut hist = c.latency_ns_log2.clone();
            while hist.last() == Some(&0) {
                hist.pop();
            }
            CodecJson {
                name: name.clone(),
                requests: c.requests,
                bytes_in: c.bytes_in,
                bytes_out: c.bytes_out,
                fallbacks: c.fallbacks,
                errors: c.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                latency_ns_log2: hist,
            }
        })
        .collect();
    (codecs, fallbacks, errors)
}

/// 1234567 -> 1.23M, 12345 -> 12.3k.
pub fn si(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.2}M", x / 1e6),
        x if x >= 1e4 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// A latency in microseconds, 3 significant digits.
pub fn us(x: f64) -> String {
    match x {
        x if x >= 1000.0 => format!("{x:.0}"),
        x if x >= 100.0 => format!("{x:.0}"),
        x if x >= 10.0 => format!("{x:.1}"),
        x => format!("{x:.2}"),
    }
}

fn header(a: &BenchArgs, corpus: &Corpus, results: &[RunResult]) -> String {
    let r0 = &results[0];
    let mut parts = vec![format!(
        "{} pages ({:.1} MiB) of {}",
        corpus.pages(),
        corpus.data.len() as f64 / (1 << 20) as f64,
        corpus.source
    )];
    let compared = a.compare.is_some();
    let var = |name: &str| compared && results.iter().any(|r| r.label.starts_with(name));
    if !var("device") && !var("emu") && !var("sw") && !var("vfio") && !var("wq") {
        parts.insert(0, format!("{} ({})", r0.device, r0.algorithm));
    }
    if a.what != super::What::Ops && !var("folio") {
        parts.push(format!("folio {}", r0.folio));
    }
    if !var("batch") {
        parts.push(format!("batch {}", r0.batch));
    }
    if !var("threads") {
        parts.push(format!(
            "{} thread{}",
            r0.threads,
            if r0.threads == 1 { "" } else { "s" }
        ));
    }
    if r0.asynchronous {
        parts.push("async".into());
    }
    format!(
        "idxd bench {}: {}",
        format!("{:?}", a.what).to_lowercase(),
        parts.join(", ")
    )
}

/// Prints the table: one row per run, a column group per phase.
pub fn print(a: &BenchArgs, corpus: &Corpus, results: &[RunResult]) {
    if results.is_empty() {
        return;
    }
    println!("{}", header(a, corpus, results));
    let phases: Vec<String> = results[0].phases.iter().map(|p| p.name.clone()).collect();
    let unit = match a.what {
        super::What::Ops => "call",
        _ => "folio",
    };
    let mut cols = vec!["run".to_string()];
    let mut groups = vec![(String::new(), 1usize)];
    for p in &phases {
        cols.extend(
            ["GB/s", "pages/s", "p50 us", "p99 us", "CPU us/page"]
                .iter()
                .map(|s| s.to_string()),
        );
        groups.push((format!("{p} (latency per {unit})"), 5));
    }
    cols.extend(["ratio", "rejects", "fallbacks"].iter().map(|s| s.to_string()));
    groups.push((String::new(), 3));
    let mut t = Table::new(cols).groups(groups);
    for r in results {
        let mut row = vec![r.label.clone()];
        for name in &phases {
            match r.phases.iter().find(|p| &p.name == name && p.pages > 0) {
                Some(p) => row.extend([
                    format!("{:.3}", p.gb_per_s),
                    si(p.pages_per_s),
                    us(p.latency.p50_us),
                    us(p.latency.p99_us),
                    format!("{:.1}", p.cpu_us_per_page),
                ]),
                // Not run, or nothing to do (every folio rejected).
                None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
            }
        }
        row.push(r.ratio.map_or("-".into(), |x| format!("{x:.2}")));
        row.push(r.reject_total().to_string());
        row.push(r.fallbacks.to_string());
        t.row(row);
    }
    print!("{}", t.render("  "));
    for r in results {
        let mut notes = Vec::new();
        if !r.rejects.is_empty() {
            let d: Vec<String> = r.rejects.iter().map(|(k, v)| format!("{k} {v}")).collect();
            notes.push(format!("rejects: {}", d.join(", ")));
        }
        if let Some(m) = r.memory_ratio {
            notes.push(format!("memory ratio (allocator included) {m:.2}"));
        }
        if !r.errors.is_empty() {
            let d: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            notes.push(format!("errors: {}", d.join(", ")));
        }
        if !notes.is_empty() {
            println!("  {}: {}", r.label, notes.join("; "));
        }
        for h in &r.device_health {
            println!("  {}: device {h}", r.label);
        }
    }
    if cfg!(debug_assertions) {
        println!("  (an unoptimised build: cargo run --release gives figures several times higher)");
    }
    if results.iter().any(|r| r.device.starts_with("emu:")) {
        println!(
            "  (emulated device: its engines are software threads, so CPU time includes the device's work)"
        );
    }
}

#[derive(Serialize)]
struct BenchJson<'a> {
    what: super::What,
    corpus: &'a str,
    corpus_pages: usize,
    compare: Option<String>,
    runs: &'a [RunResult],
}

/// Writes everything measured.
pub fn write_json(path: &Path, a: &BenchArgs, corpus: &Corpus, results: &[RunResult]) -> anyhow::Result<()> {
    write_json_file(
        path,
        &BenchJson {
            what: a.what,
            corpus: &corpus.source,
            corpus_pages: corpus.pages(),
            compare: a.compare.as_ref().map(|c| format!("{c:?}")),
            runs: results,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(999.0), "999");
        assert_eq!(us(1.234), "1.23");
        assert_eq!(us(12.34), "12.3");
        assert_eq!(us(1234.4), "1234");
    }
}
