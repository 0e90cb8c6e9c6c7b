//! Every input is bounded: devices and FIFOs are refused (a FIFO without blocking), page
//! counts and folio sizes cannot overflow or ask for more memory than the limit, and output
//! paths are checked before a run starts. Each run has a deadline and an address-space limit,
//! so a regression fails the test instead of hanging CI or taking the machine's memory.

mod common;

use std::time::Duration;

use common::{idxd, idxd_bounded, TempDir};

const DEADLINE: Duration = Duration::from_secs(60);

#[track_caller]
fn bounded(args: &[&str]) -> common::Out {
    idxd_bounded(args, DEADLINE).unwrap_or_else(|| panic!("idxd {args:?} still running after {DEADLINE:?}"))
}

fn mkfifo(t: &TempDir, name: &str) -> String {
    let p = t.join(name);
    let st = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    p.to_str().unwrap().to_string()
}

#[test]
fn dev_zero_is_refused_as_corpus_and_as_config() {
    for args in [
        vec!["bench", "zswap", "--corpus", "/dev/zero"],
        vec!["bench", "zswap", "--corpus", "/dev/zero", "--pages", "4"],
        vec!["info", "--config", "/dev/zero"],
        vec!["config", "/dev/zero"],
    ] {
        let out = bounded(&args);
        let e = out.fails(1);
        assert!(
            e.contains("/dev/zero: a character device, not a regular file"),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let t = TempDir::new("fifo");
    let fifo = mkfifo(&t, "pages.pages");
    let cfg = mkfifo(&t, "dev.toml");
    for args in [
        vec!["bench", "zswap", "--corpus", fifo.as_str()],
        // A directory of corpora with a FIFO among them.
        vec!["bench", "zswap", "--corpus", t.path().to_str().unwrap()],
        vec!["info", "--config", cfg.as_str()],
    ] {
        let out = bounded(&args);
        let e = out.fails(1);
        assert!(e.contains("a FIFO, not a regular file"), "{args:?}: {e}");
    }
}

#[test]
fn a_folio_size_that_overflows_is_a_usage_error() {
    for f in ["18014398509481984k", "17592186044416m"] {
        let out = bounded(&["bench", "zswap", "--folio", f]);
        let e = out.fails(2);
        assert!(e.contains("is not a folio size"), "{f}: {e}");
    }
}

#[test]
fn a_page_count_that_overflows_or_exceeds_memory_is_refused() {
    let t = TempDir::new("pages");
    let f = t.join("two.pages");
    std::fs::write(&f, vec![7u8; 2 * 4096]).unwrap();
    let f = f.to_str().unwrap();
    for (args, what) in [
        // pages * 4096 overflows 64 bits.
        (
            vec!["bench", "zswap", "--corpus", f, "--pages", "4611686018427387904"],
            "more than 16 EiB",
        ),
        // 10^12 pages of the built-in corpus: 3.6 PiB.
        (vec!["bench", "zswap", "--pages", "1000000000000"], "3.6 PiB"),
    ] {
        let out = bounded(&args);
        let e = out.fails(1);
        assert!(
            e.contains(what) && e.contains("more than the limit of"),
            "{args:?}: {e}"
        );
        assert!(e.contains("half of this machine's memory, at most 16 GiB"), "{e}");
    }
    // Within the limit, --pages takes the first pages of a longer file.
    let out = bounded(&[
        "bench", "zswap", "--corpus", f, "--pages", "1", "--device", "sw:lz4",
    ]);
    assert!(out.ok().contains("zswap"), "{}", out.stdout);
}

#[test]
fn output_paths_are_checked_before_the_run() {
    let t = TempDir::new("out");
    let missing = t.join("no/such/dir/out.json");
    let missing = missing.to_str().unwrap();
    let dir = t.path().to_str().unwrap();
    for (args, what) in [
        (
            vec!["bench", "zswap", "--pages", "64", "--json", missing],
            "--json ",
        ),
        (vec!["bench", "zswap", "--pages", "64", "--plot", dir], "--plot "),
        (vec!["bench", "zswap", "--pages", "64", "--json", dir], "--json "),
    ] {
        let out = bounded(&args);
        let e = out.fails(1);
        assert!(e.contains(what), "{args:?}: {e}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: the run must not start: {}",
            out.stdout
        );
    }
    // A path that can be written is left for the run to write.
    let j = t.join("r.json");
    let out = idxd(&[
        "bench",
        "zswap",
        "--pages",
        "64",
        "--device",
        "sw:lz4",
        "--json",
        j.to_str().unwrap(),
    ]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    assert!(v.is_object());
}
