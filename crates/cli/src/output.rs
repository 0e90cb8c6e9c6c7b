//! Human tables and machine output.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// A plain-text table: the first column left-aligned, the others right-aligned.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    left: usize,
    also_left: Vec<usize>,
    groups: Vec<(String, usize)>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            left: 1,
            also_left: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// A line above the header naming groups of columns: (label, columns spanned), in order.
    pub fn groups(mut self, groups: Vec<(String, usize)>) -> Self {
        self.groups = groups;
        self
    }

    /// How many leading columns are left-aligned (default 1).
    pub fn left_columns(mut self, n: usize) -> Self {
        self.left = n;
        self
    }

    /// Left-aligns these columns too.
    pub fn also_left(mut self, cols: &[usize]) -> Self {
        self.also_left.extend_from_slice(cols);
        self
    }

    /// Adds a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines, each prefixed with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut width = vec![0usize; cols];
        for r in self.rows.iter().chain([&self.header]) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        if !self.groups.is_empty() {
            let mut line = String::from(indent);
            let mut col = 0;
            for (label, span) in &self.groups {
                let end = (col + span).min(cols);
                if col >= end {
                    break;
                }
                let w: usize = width[col..end].iter().sum::<usize>() + 2 * (end - col - 1);
                if col > 0 {
                    line.push_str("  ");
                }
                let n = label.chars().count();
                if label.is_empty() || n + 2 > w {
                    line.push_str(&format!("{:<w$}", if n <= w { label.as_str() } else { "" }));
                } else {
                    let left = (w - n - 2) / 2;
                    let right = w - n - 2 - left;
                    line.push_str(&"-".repeat(left));
                    line.push(' ');
                    line.push_str(label);
                    line.push(' ');
                    line.push_str(&"-".repeat(right));
                }
                col = end;
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for r in [&self.header].into_iter().chain(self.rows.iter()) {
            let mut line = String::from(indent);
            for (i, w) in width.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = w - c.chars().count();
                if i < self.left || self.also_left.contains(&i) {
                    line.push_str(c);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(c);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes `value` as pretty JSON to stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("writing JSON")?;
    writeln!(out).context("writing JSON")?;
    Ok(())
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    std::fs::write(path, text + "\n").with_context(|| format!("{}", path.display()))
}

/// `Some(x)` as text, `None` as `-`.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut t = Table::new(["name", "value"]);
        t.row(["a", "1"]);
        t.row(["longer", "12345"]);
        let s = t.render("  ");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "  name    value");
        assert_eq!(lines[1], "  a           1");
        assert_eq!(lines[2], "  longer  12345");
    }
}
