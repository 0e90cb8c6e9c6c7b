//! Bad arguments: one clear line on stderr and exit status 2; help and version succeed.

mod common;

use common::idxd;

#[test]
fn usage_errors_are_one_line_with_status_2() {
    for args in [
        vec!["frobnicate"],
        vec!["list", "--bogus"],
        vec!["info", "--device"],
        vec!["info", "--device", "emu:iaa-xyz"],
        vec!["selftest", "--device", "sw:brotli"],
        vec!["corpus"],
        vec!["bind"],
        vec!["config", "--device", "emu:iaa-spr"],
    ] {
        let out = idxd(&args);
        if args == ["corpus"] {
            // A subcommand group without its subcommand prints help (to stderr) and fails.
            assert_eq!(out.code, 2, "{out:?}");
            continue;
        }
        let l = out.fails(2);
        assert!(l.len() > 15, "{args:?}: {l}");
    }
}

#[test]
fn help_and_version() {
    let s = idxd(&["--help"]).ok().to_string();
    for sub in [
        "list", "info", "bind", "unbind", "config", "selftest", "bench", "corpus",
    ] {
        assert!(s.contains(sub), "{sub}: {s}");
    }
    assert!(idxd(&["--version"]).ok().contains("idxd"));
    let s = idxd(&["bench", "--help"]).ok().to_string();
    assert!(
        s.contains("--compare") && s.contains("--folio") && s.contains("--plot"),
        "{s}"
    );
}
