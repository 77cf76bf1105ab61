//! The Rust sink guide, followed to the letter: its Cargo.toml, lib.rs and
//! config are taken from `docs/writing-a-sink/rust.md`, built from an empty
//! folder, inspected and run. Keeps the guide from drifting from the SDK.

mod support;

use std::process::{Command, Stdio};

use std::io::Write;
use support::{read_lines, workspace_root};

/// The fenced blocks of a Markdown file, as (language, body).
fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => blocks.push(current.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

#[test]
fn the_rust_sink_guide_builds_from_an_empty_folder_and_runs() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/writing-a-sink/rust.md")).unwrap();
    let blocks = code_blocks(&guide);
    let find = |lang: &str, marker: &str| {
        blocks
            .iter()
            .find(|(l, body)| l == lang && body.contains(marker))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("the guide has no {lang} block with `{marker}`"))
    };
    let manifest = find("toml", "[package]").replace(
        "/path/to/sinkbox/guest-sdk",
        root.join("guest-sdk").to_str().unwrap(),
    );
    let source = find("rust", "export_sink!");
    let config = find("toml", "[sinks.");

    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("slow-requests");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!("{manifest}\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), source).unwrap();
    std::fs::write(crate_dir.join("sinkbox.toml"), config).unwrap();

    // Offline: every crate it needs is already in the local registry cache
    // (the workspace uses the same ones); a shared target dir keeps reruns quick.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root.join("target").join("doc-examples");
    let status = Command::new(cargo)
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--quiet",
            "--offline",
            "--release",
            "--target",
            "wasm32-wasip2",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "the guide's sink does not build");
    let wasm = target_dir.join("wasm32-wasip2/release/slow_requests.wasm");
    std::fs::create_dir_all(crate_dir.join("target/wasm32-wasip2/release")).unwrap();
    std::fs::copy(
        &wasm,
        crate_dir.join("target/wasm32-wasip2/release/slow_requests.wasm"),
    )
    .unwrap();

    let sinkbox = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sinkbox"));
        cmd.current_dir(&crate_dir)
            .env("SINKBOX_CACHE_DIR", root.join("target/sinkbox-test-cache"))
            .env("NO_COLOR", "1");
        cmd
    };
    let inspect = sinkbox()
        .args(["inspect", "target/wasm32-wasip2/release/slow_requests.wasm"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&inspect.stdout)
            .ends_with("sink contract: ok (sinkbox:sink/sink@0.1.0)\n"),
        "{}",
        String::from_utf8_lossy(&inspect.stdout)
    );

    let check = sinkbox()
        .args([
            "check",
            "target/wasm32-wasip2/release/slow_requests.wasm",
            "--config",
            "threshold_ms=300",
            "--grant",
            "out",
        ])
        .output()
        .unwrap();
    let check_out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check_out}");
    assert!(check_out.ends_with("ok: 10 steps passed\n"), "{check_out}");
    std::fs::remove_file(crate_dir.join("out/slow.ndjson")).ok();

    let mut run = sinkbox()
        .args(["run", "--config", "sinkbox.toml"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = run.stdin.take().unwrap();
    writeln!(stdin, r#"{{"route":"/a","latency_ms":720}}"#).unwrap();
    writeln!(stdin, r#"{{"route":"/b","latency_ms":20}}"#).unwrap();
    drop(stdin);
    let output = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("kept 1 slow requests"), "{stderr}");
    assert_eq!(
        read_lines(&crate_dir.join("out/slow.ndjson")),
        vec![r#"{"route":"/a","latency_ms":720}"#]
    );
}
