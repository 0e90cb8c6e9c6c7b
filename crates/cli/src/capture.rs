//! `idxd corpus capture`: the private writable pages of a live process (heap, anonymous
//! mappings, stacks, the data segments of its binaries), read through /proc, written as
//! concatenated 4 KiB pages: the `*.pages` format `bench --corpus` reads.
//!
//! Only pages that are present or swapped out (per /proc/PID/pagemap) are taken when pagemap is
//! readable: untouched anonymous memory would read as zero pages the kernel never swaps.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

const PAGE: u64 = 4096;
/// How much of a mapping is read at once.
const CHUNK: u64 = 64 * PAGE;

/// `idxd corpus capture`.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// The process.
    #[arg(long, value_name = "PID")]
    pub pid: u32,
    /// Where the pages go (created or truncated).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Stop after this many pages.
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,
}

/// One private writable mapping from /proc/PID/maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// `[heap]`, `[stack]`, a file name, or empty for anonymous memory.
    pub name: String,
}

/// The private writable, readable mappings of a maps file (kernel pseudo-mappings such as
/// `[vvar]` and `[vsyscall]` excluded).
pub fn private_writable(maps: &str) -> Vec<Mapping> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?.as_bytes();
            let name = f.nth(3).unwrap_or("").to_string();
            if perms.len() < 4 || perms[0] != b'r' || perms[1] != b'w' || perms[3] != b'p' {
                return None;
            }
            if ["[vvar]", "[vdso]", "[vsyscall]", "[vvar_vclock]"].contains(&name.as_str()) {
                return None;
            }
            let (s, e) = range.split_once('-')?;
            let start = u64::from_str_radix(s, 16).ok()?;
            let end = u64::from_str_radix(e, 16).ok()?;
            (end > start).then_some(Mapping { start, end, name })
        })
        .collect()
}

fn proc_err(pid: u32, what: &str, e: io::Error) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!("no process {pid}"),
        io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot read {what} of process {pid}: permission denied (run as its user with ptrace permission, or as root)"
        ),
        _ => anyhow::anyhow!("/proc/{pid}/{what}: {e}"),
    }
}

/// Whether each page of `m` is present or swapped (all true when pagemap is unreadable).
fn resident(pagemap: Option<&File>, m: &Mapping) -> Vec<bool> {
    let n = ((m.end - m.start) / PAGE) as usize;
    let Some(pm) = pagemap else {
        return vec![true; n];
    };
    let mut raw = vec![0u8; n * 8];
    if pm.read_exact_at(&mut raw, m.start / PAGE * 8).is_err() {
        return vec![true; n];
    }
    raw.chunks_exact(8)
        .map(|e| {
            let v = u64::from_le_bytes(e.try_into().expect("8 bytes"));
            v >> 62 != 0
        })
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    pages: u64,
    unreadable: u64,
    absent: u64,
    mappings: u64,
}

fn capture_to(pid: u32, out: &Path, max: u64) -> anyhow::Result<Tally> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let maps = std::fs::read_to_string(proc.join("maps")).map_err(|e| proc_err(pid, "maps", e))?;
    let mem = File::open(proc.join("mem")).map_err(|e| proc_err(pid, "mem", e))?;
    let pagemap = File::open(proc.join("pagemap")).ok();
    let mut w = BufWriter::new(File::create(out).with_context(|| format!("{}", out.display()))?);
    let mut t = Tally::default();
    let mut buf = vec![0u8; CHUNK as usize];
    let mut first_err: Option<io::Error> = None;
    'maps: for m in private_writable(&maps) {
        let present = resident(pagemap.as_ref(), &m);
        let mut took = false;
        let mut addr = m.start;
        while addr < m.end {
            let len = CHUNK.min(m.end - addr);
            let chunk = &mut buf[..len as usize];
            let whole = mem.read_exact_at(chunk, addr);
            for i in 0..len / PAGE {
                if t.pages >= max {
                    break 'maps;
                }
                let pa = addr + i * PAGE;
                if !present[((pa - m.start) / PAGE) as usize] {
                    t.absent += 1;
                    continue;
                }
                let page = &mut chunk[(i * PAGE) as usize..((i + 1) * PAGE) as usize];
                if whole.is_err() {
                    // Some page of the chunk failed: find which, one by one.
                    if let Err(e) = mem.read_exact_at(page, pa) {
                        t.unreadable += 1;
                        first_err.get_or_insert(e);
                        continue;
                    }
                }
                w.write_all(page).with_context(|| format!("{}", out.display()))?;
                t.pages += 1;
                took = true;
            }
            addr += len;
        }
        t.mappings += took as u64;
    }
    w.flush().with_context(|| format!("{}", out.display()))?;
    if t.pages == 0 {
        if let Some(e) = first_err {
            return Err(proc_err(pid, "mem", e));
        }
    }
    Ok(t)
}

/// `idxd corpus capture`.
pub fn capture(a: &CaptureArgs) -> anyhow::Result<ExitCode> {
    let max = a.max_pages.unwrap_or(u64::MAX);
    if max == 0 {
        bail!("--max-pages must be at least 1");
    }
    let t = match capture_to(a.pid, &a.out, max) {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&a.out);
            return Err(e);
        }
    };
    if t.pages == 0 {
        let _ = std::fs::remove_file(&a.out);
        bail!("process {} has no readable private writable page", a.pid);
    }
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", a.pid)).unwrap_or_default();
    println!(
        "captured {} pages ({:.1} MiB) from {} mappings of process {} ({}) to {}; {} unreadable, {} not resident",
        t.pages,
        (t.pages * PAGE) as f64 / (1 << 20) as f64,
        t.mappings,
        a.pid,
        comm.trim(),
        a.out.display(),
        t.unreadable,
        t.absent
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parsing_keeps_private_writable_only() {
        let maps = "\
55fac4946000-55fac4948000 r--p 00000000 fe:00 247282 /usr/bin/head
55fac4952000-55fac4953000 rw-p 0000b000 fe:00 247282 /usr/bin/head
55fac5000000-55fac5021000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000004000 rw-p 00000000 00:00 0
7f0000004000-7f0000005000 rw-s 00000000 00:05 12 /dev/shm/x
7f0000005000-7f0000006000 -w-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7ffd00100000-7ffd00102000 r--p 00000000 00:00 0 [vvar]
garbage line
";
        let m = private_writable(maps);
        let names: Vec<&str> = m.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["/usr/bin/head", "[heap]", "", "[stack]"]);
        assert_eq!(m[2].end - m[2].start, 0x4000);
    }
}
