//! `sinkbox dev SINK.wasm`: the author's loop, checking again after every
//! rebuild of the component (or change of the sample), and carrying on
//! when a build is broken.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn dev_checks_again_after_each_rebuild_and_survives_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("sink.wasm");
    let good = std::fs::read(crate::support::guest("count-sink")).unwrap();
    std::fs::write(&component, &good).unwrap();
    let sample = dir.path().join("sample.ndjson");
    std::fs::write(&sample, "{\"i\":1}\n{\"i\":2}\n").unwrap();
    let mut child = crate::support::sinkbox()
        .arg("dev")
        .arg(&component)
        .arg("--input")
        .arg(&sample)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{needle}` in:\n{}", seen.join("\n")));
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return;
            }
        }
    };
    wait_for("ok: 1 batch(es) accepted");
    wait_for("--- round 1");
    // A broken build: reported, and the loop goes on.
    std::fs::write(&component, b"\0asm not really").unwrap();
    wait_for("round 2: a watched file changed");
    wait_for("failed:");
    // Fixed again.
    std::fs::write(&component, &good).unwrap();
    wait_for("round 3: a watched file changed");
    wait_for("ok: 1 batch(es) accepted");
    // A new sample is checked too.
    std::fs::write(&sample, "{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n").unwrap();
    wait_for("round 4: a watched file changed");
    wait_for("records 0..3");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn fast_start_compiles_with_winch_into_a_cache_of_its_own() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let component = crate::support::guest("count-sink");
    let check = |fast: bool| {
        let mut cmd = crate::support::sinkbox();
        cmd.arg("check")
            .arg(&component)
            .env("SINKBOX_CACHE_DIR", cache.path());
        if fast {
            cmd.arg("--fast-start");
        }
        let output = cmd.output().unwrap();
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(check(true).contains("ok: "));
    let entries = sinkbox::wasm::cache_entries(cache.path()).unwrap();
    let winch: Vec<_> = entries.iter().filter(|e| e.is_fast_start()).collect();
    assert_eq!(winch.len(), 1, "{entries:?}");
    assert!(winch[0].path.starts_with(cache.path().join("winch")));
    // Cranelift's build of the same component is its own entry: the fast,
    // slower code never reaches `sinkbox run`.
    assert!(
        entries.iter().all(|e| e.is_function() || e.is_fast_start()),
        "{entries:?}"
    );
    assert!(check(false).contains("ok: "));
    let entries = sinkbox::wasm::cache_entries(cache.path()).unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| !e.is_function() && !e.is_fast_start())
            .count(),
        1
    );
    // `cache list` shows both builds; `cache clear` removes both.
    let list = crate::support::sinkbox()
        .args(["cache", "list", "--dir"])
        .arg(cache.path())
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("winch/") && list.contains("2 entries"),
        "{list}"
    );
    let clear = crate::support::sinkbox()
        .args(["cache", "clear", "--dir"])
        .arg(cache.path())
        .status()
        .unwrap();
    assert!(clear.success());
    assert!(
        sinkbox::wasm::cache_entries(cache.path())
            .unwrap()
            .is_empty()
    );
}
