//! The sink guides, followed to the letter: each guide's files and config are
//! taken from `docs/writing-a-sink/{rust,python,javascript,c}.md`, built from
//! an empty folder with the guide's toolchain, checked and run. Keeps the
//! guides from drifting from the SDK, the toolchains and the host.

use std::process::{Command, Stdio};

use crate::support::{read_lines, workspace_root};
use std::io::Write;

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

/// The `sinkbox` binary, run in `dir` with the tests' compile cache.
fn sinkbox_in(dir: &std::path::Path) -> Command {
    let mut cmd = crate::support::sinkbox();
    cmd.current_dir(dir);
    cmd
}

#[test]
fn the_rust_sink_guide_builds_from_an_empty_folder_and_runs() {
    let _heavy = crate::support::exclusive();
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

    let sinkbox = || sinkbox_in(&crate_dir);
    let inspect = sinkbox()
        .args(["inspect", "target/wasm32-wasip2/release/slow_requests.wasm"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&inspect.stdout)
            .ends_with("sink contract: ok (sinkbox:sink/sink@0.2.0)\n"),
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

/// Checks and runs a guide's built sink in `dir`, with the guide's own config
/// and `input`.
fn check_and_run(dir: &std::path::Path, component: &str, guide: &[(String, String)], input: &str) {
    let sinkbox = || sinkbox_in(dir);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let check = sinkbox()
        .args([
            "check",
            component,
            "--grant",
            "out",
            "--call-timeout",
            "30s",
        ])
        .output()
        .unwrap();
    let check_out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check_out}");
    assert!(check_out.ends_with("ok: 10 steps passed\n"), "{check_out}");
    for file in std::fs::read_dir(dir.join("out")).unwrap() {
        std::fs::remove_file(file.unwrap().path()).unwrap();
    }
    let config = guide
        .iter()
        .find(|(lang, body)| lang == "toml" && body.contains("[sinks."))
        .expect("the guide has a config")
        .1
        .replace("call_timeout = \"5s\"", "call_timeout = \"30s\"");
    std::fs::write(dir.join("sinkbox.toml"), config).unwrap();
    let mut run = sinkbox()
        .args(["run", "--config", "sinkbox.toml"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    run.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = run.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The guide's block of `lang` that contains `marker`.
fn block(blocks: &[(String, String)], lang: &str, marker: &str) -> String {
    blocks
        .iter()
        .find(|(l, body)| l == lang && body.contains(marker))
        .map(|(_, body)| body.clone())
        .unwrap_or_else(|| panic!("the guide has no {lang} block with `{marker}`"))
}

#[test]
fn the_python_sink_guide_builds_checks_and_runs() {
    let _heavy = crate::support::exclusive();
    let root = workspace_root();
    // Installs componentize-py into target/tools, as `cargo xtask build-sinks` does.
    crate::support::guest("redact-sink-py");
    let guide = std::fs::read_to_string(root.join("docs/writing-a-sink/python.md")).unwrap();
    let blocks = code_blocks(&guide);
    let build = block(&blocks, "sh", ".venv/bin/componentize-py -d");
    assert!(build.contains(
        ".venv/bin/componentize-py -d /path/to/sinkbox/wit -w sink-world componentize app -o errors_only.wasm"
    ));
    assert!(block(&blocks, "sh", "pip install").contains("componentize-py==0.25.1"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        block(&blocks, "python", "class Sink"),
    )
    .unwrap();
    let status = Command::new(root.join("target/tools/python/bin/componentize-py"))
        .current_dir(dir.path())
        .arg("-d")
        .arg(root.join("wit"))
        .args([
            "-w",
            "sink-world",
            "componentize",
            "app",
            "-o",
            "errors_only.wasm",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    check_and_run(
        dir.path(),
        "errors_only.wasm",
        &blocks,
        "{\"level\":\"info\",\"msg\":\"ok\"}\n{\"level\":\"ERROR\",\"msg\":\"disk full\"}\n",
    );
    assert_eq!(
        read_lines(&dir.path().join("out/errors.ndjson")),
        [r#"{"level":"ERROR","msg":"disk full"}"#]
    );
}

#[test]
fn the_javascript_sink_guide_builds_checks_and_runs() {
    let _heavy = crate::support::exclusive();
    let root = workspace_root();
    // Installs componentize-js into target/tools, as `cargo xtask build-sinks` does.
    crate::support::guest("redact-sink-js");
    let guide = std::fs::read_to_string(root.join("docs/writing-a-sink/javascript.md")).unwrap();
    let blocks = code_blocks(&guide);
    assert!(
        block(&blocks, "sh", "npm install @bytecodealliance")
            .contains("@bytecodealliance/componentize-js@0.23.0")
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sink.js"),
        block(&blocks, "javascript", "export const sink"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("build.mjs"),
        block(&blocks, "javascript", "componentize(")
            .replace("/path/to/sinkbox/wit", root.join("wit").to_str().unwrap()),
    )
    .unwrap();
    // What `npm install` would have put there.
    std::os::unix::fs::symlink(
        root.join("target/tools/node/node_modules"),
        dir.path().join("node_modules"),
    )
    .unwrap();
    let status = Command::new("node")
        .current_dir(dir.path())
        .arg("build.mjs")
        .status()
        .unwrap();
    assert!(status.success());
    check_and_run(
        dir.path(),
        "level_counts.wasm",
        &blocks,
        "{\"level\":\"info\"}\n{\"level\":\"WARN\"}\n{\"level\":\"info\"}\n",
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/counts.json")).unwrap(),
        "{\"info\":2,\"warn\":1}\n"
    );
}

#[test]
fn every_example_config_in_docs_validates() {
    let examples = crate::support::workspace_root().join("docs/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let output = crate::support::sinkbox()
            .args(["validate", "--config"])
            .arg(&path)
            .env("PGPASSWORD", "example")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}{}",
            path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(seen >= 3, "examples in {}", examples.display());
}

#[test]
fn the_native_sink_guide_shows_the_example_that_builds() {
    let root = crate::support::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/writing-a-sink/native-rust.md")).unwrap();
    let example = std::fs::read_to_string(root.join("runtime/examples/native_sink.rs")).unwrap();
    let blocks = code_blocks(&guide);
    let (_, shown) = blocks
        .iter()
        .find(|(lang, _)| lang == "rust")
        .expect("a rust block in the guide");
    assert_eq!(
        shown.trim_end(),
        example.trim_end(),
        "docs/writing-a-sink/native-rust.md must show runtime/examples/native_sink.rs as it is"
    );
}

#[test]
fn the_readme_commands_run_as_written() {
    let root = crate::support::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let using = &readme[readme.find("## Using it").expect("a Using it section")..];
    let (_, block) = code_blocks(using)
        .into_iter()
        .next()
        .expect("a block of commands in Using it");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sinkbox.toml"),
        "[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n[sinks.warnings]\ntype = \"file\"\npath = \"warnings.ndjson\"\nwhen = 'level >= \"warn\"'\n",
    )
    .unwrap();
    let lines = "{\"level\":\"info\",\"i\":1}\n{\"level\":\"warn\",\"i\":2}\n";
    std::fs::write(dir.path().join("app.log"), lines).unwrap();
    std::fs::write(dir.path().join("sample.ndjson"), lines).unwrap();
    let mut ran = 0;
    for line in block.lines() {
        let command = line.split('#').next().unwrap().trim();
        if command.is_empty() {
            continue;
        }
        // `myapp | sinkbox …`: the app's output is two JSON lines on stdin.
        let (stdin, command) = match command.split_once("| ") {
            Some((_, rest)) => (lines, rest),
            None => ("", command),
        };
        let words: Vec<String> = command
            .split_whitespace()
            .map(|w| {
                if w.starts_with("127.0.0.1:") {
                    "127.0.0.1:0".to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect();
        assert_eq!(words[0], "sinkbox", "{line}");
        let mut child = sinkbox_in(dir.path())
            .args(&words[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "`{command}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if command.contains("--sink stdout://") {
            assert!(
                String::from_utf8_lossy(&output.stdout).contains("\"i\":2"),
                "{line}"
            );
        }
        ran += 1;
    }
    assert!(ran >= 4, "the README's commands: {block}");
    let out = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    assert!(out.contains("\"i\":2"));
    let warnings = std::fs::read_to_string(dir.path().join("warnings.ndjson")).unwrap();
    assert!(warnings.contains("\"i\":2") && !warnings.contains("\"i\":1"));
}

#[test]
fn the_c_sink_guide_builds_checks_and_runs() {
    let _heavy = crate::support::exclusive();
    let root = workspace_root();
    // Installs the C toolchain into target/tools/c, as `cargo xtask build-sinks` does.
    crate::support::guest("csv-sink-c");
    let tools = root.join("target/tools/c");
    let guide = std::fs::read_to_string(root.join("docs/writing-a-sink/c.md")).unwrap();
    let blocks = code_blocks(&guide);
    let dir = tempfile::tempdir().unwrap();
    // "Copy the SDK and the contract into your folder."
    for file in ["sinkbox_sink.h", "sinkbox_sink.c"] {
        std::fs::copy(root.join("guest-sdk-c").join(file), dir.path().join(file)).unwrap();
    }
    let copied = Command::new("cp")
        .arg("-r")
        .arg(root.join("wit"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::copy(
        tools.join("wasi_snapshot_preview1.reactor.wasm"),
        dir.path().join("wasi_snapshot_preview1.reactor.wasm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("sink.c"), block(&blocks, "c", "sink_start")).unwrap();
    // The guide's three build steps, with the tools `cargo xtask` installed.
    let steps = block(&blocks, "sh", "wit-bindgen c --world")
        .replace(
            "wit-bindgen c",
            &format!("{} c", tools.join("bin/wit-bindgen").display()),
        )
        .replace(
            "python3 -m ziglang cc",
            &format!("{} -m ziglang cc", tools.join("zig/bin/python").display()),
        )
        .replace(
            "wasm-tools component",
            &format!("{} component", tools.join("bin/wasm-tools").display()),
        );
    let output = Command::new("sh")
        .current_dir(dir.path())
        .args(["-e", "-c", &steps])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    check_and_run(
        dir.path(),
        "my-sink.wasm",
        &blocks,
        "{\"level\":\"info\",\"msg\":\"ok\"}\n{\"level\":\"error\",\"msg\":\"disk full\"}\n",
    );
    assert_eq!(
        read_lines(&dir.path().join("out/out.ndjson")),
        [
            r#"{"level":"info","msg":"ok"}"#,
            r#"{"level":"error","msg":"disk full"}"#
        ]
    );
}
