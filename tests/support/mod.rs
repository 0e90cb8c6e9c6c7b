//! Shared by the root tests that compile a C program against system headers: the CI rule (a
//! missing compiler or header skips loudly outside CI, fails in CI) and compile-and-run.

use std::path::Path;
use std::process::Command;

/// Whether this run is CI's, where a skipped check is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A check that cannot run here: a failure in CI, a loud skip elsewhere naming what was not
/// checked.
pub fn cannot_run(what: &str, unchecked: &str) {
    if in_ci() {
        panic!("{what}: CI must run this check (CI is set), so this is a failure");
    }
    eprintln!("SKIPPED (not in CI): {what}\n*** {unchecked} NOT checked ***");
}

/// The C compiler (`$CC`, else `cc`), or `None` after [`cannot_run`].
pub fn compiler(unchecked: &str) -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let works = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        cannot_run(&format!("no C compiler `{cc}` (install gcc)"), unchecked);
        return None;
    }
    Some(cc)
}

/// Compiles `src` with `cc` (and `flags`) in a private directory, runs it, and returns what it
/// printed. A failed compile or a non-zero exit fails the test.
pub fn compile_and_run(cc: &str, src: &Path, flags: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!(
        "idxd-c-{}-{}",
        std::process::id(),
        src.file_stem().and_then(|s| s.to_str()).unwrap_or("prog")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("prog");
    let out = Command::new(cc)
        .args(["-std=gnu11", "-O0"])
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "C compile of {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        run.status.success(),
        "{} exited with {}",
        src.display(),
        run.status
    );
    String::from_utf8(run.stdout).unwrap()
}
