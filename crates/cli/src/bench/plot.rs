//! A hand-written SVG bar chart: throughput (GB/s) of each phase, grouped by run.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::{BenchArgs, RunResult};

const COLORS: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as SVG text.
pub fn svg(title: &str, results: &[RunResult]) -> String {
    let phases: Vec<String> = results
        .first()
        .map(|r| r.phases.iter().map(|p| p.name.clone()).collect())
        .unwrap_or_default();
    let max = results
        .iter()
        .flat_map(|r| r.phases.iter().map(|p| p.gb_per_s))
        .fold(0.0f64, f64::max)
        .max(1e-6);
    // A round axis maximum: 1, 2 or 5 times a power of ten.
    let mag = 10f64.powf(max.log10().floor());
    let top = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&v| v >= max)
        .unwrap_or(10.0 * mag);
    let bar_w = 28.0;
    let group_w = bar_w * phases.len().max(1) as f64 + 24.0;
    let (left, right, head, foot, plot_h) = (64.0, 150.0, 48.0, 64.0, 260.0);
    let width = left + right + group_w * results.len().max(1) as f64;
    let height = head + plot_h + foot;
    let y = |v: f64| head + plot_h - v / top * plot_h;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="24" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for i in 0..=5 {
        let v = top * i as f64 / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.3}</text>"##,
            width - right,
            left - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">GB/s</text>"#,
        head + plot_h / 2.0,
        head + plot_h / 2.0
    );
    for (g, r) in results.iter().enumerate() {
        let x0 = left + g as f64 * group_w + 12.0;
        for (k, name) in phases.iter().enumerate() {
            let Some(p) = r.phases.iter().find(|p| &p.name == name) else {
                continue;
            };
            let x = x0 + k as f64 * bar_w;
            let yy = y(p.gb_per_s);
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {:.3} GB/s</title></rect>"#,
                bar_w - 4.0,
                head + plot_h - yy,
                COLORS[k % COLORS.len()],
                esc(&r.label),
                esc(name),
                p.gb_per_s
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x0 + (group_w - 24.0) / 2.0,
            head + plot_h + 18.0,
            esc(&r.label)
        );
    }
    for (k, name) in phases.iter().enumerate() {
        let ly = head + 10.0 + 20.0 * k as f64;
        let lx = width - right + 16.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ly - 10.0,
            COLORS[k % COLORS.len()],
            lx + 18.0,
            ly,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes the chart of `results` to `path`.
pub fn write(path: &Path, a: &BenchArgs, results: &[RunResult]) -> anyhow::Result<()> {
    let title = match results.first() {
        Some(r) => format!(
            "idxd bench {}: {} ({})",
            format!("{:?}", a.what).to_lowercase(),
            r.device,
            r.algorithm
        ),
        None => "idxd bench".into(),
    };
    std::fs::write(path, svg(&title, results)).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Phase;

    #[test]
    fn chart_has_a_bar_per_phase_and_run() {
        let run = |label: &str, g: f64| RunResult {
            label: label.into(),
            phases: vec![
                Phase {
                    name: "store".into(),
                    gb_per_s: g,
                    ..Default::default()
                },
                Phase {
                    name: "load".into(),
                    gb_per_s: 2.0 * g,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let s = svg("t <&>", &[run("batch=1", 0.3), run("batch=8", 0.7)]);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert_eq!(s.matches("<title>").count(), 4);
        assert!(s.contains("t &lt;&amp;&gt;"));
        assert!(s.contains(">batch=8</text>"));
    }
}
