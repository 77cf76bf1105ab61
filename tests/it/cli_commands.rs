//! The `sinkbox` binary: `run`, `validate`, `inspect`, and signals.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{guest, read_lines, sinkbox, wait_until};

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `sinkbox validate --config <config>`.
fn validate(config: &Path) -> Output {
    sinkbox()
        .arg("validate")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("sinkbox.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn run_skips_malformed_lines_by_number_and_delivers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[sinks.applog]\ntype = \"file\"\npath = \"out/app.ndjson\"\n\n\
             [sinks.stats]\ntype = \"wasm\"\ncomponent = \"{}\"\n",
            guest("stats-sink").display()
        ),
    );
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        "{\"level\":\"info\",\"n\":1}\nnot json\n\n{\"level\":\"warn\",\"n\":2}\n{\"broken\":\n{\"level\":\"info\",\"n\":3}",
    )
    .unwrap();
    let output = sinkbox()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 2: skipped malformed event: not a single JSON value"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5: skipped malformed event"),
        "{stderr}"
    );
    assert!(
        stderr.contains("read 3 event(s) from 6 line(s); 2 malformed line(s) skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stats: total=3 info=2 warn=1 malformed=0"),
        "{stderr}"
    );
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("applog "))
        .expect("a summary line per sink");
    let columns: Vec<&str> = summary.split_whitespace().collect();
    assert_eq!(&columns[1..3], ["3", "69"], "records and bytes: {summary}");
    assert_eq!(
        read_lines(&dir.path().join("out/app.ndjson")),
        vec![
            r#"{"level":"info","n":1}"#,
            r#"{"level":"warn","n":2}"#,
            r#"{"level":"info","n":3}"#
        ]
    );
}

#[test]
fn run_reads_stdin_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[runtime.batch]\ntimeout = \"10ms\"\n[sinks.applog]\ntype = \"file\"\npath = \"out/app.ndjson\"\n",
    );
    let mut child = sinkbox()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for n in 0..5 {
        writeln!(stdin, "{{\"n\":{n}}}").unwrap();
    }
    stdin.flush().unwrap();
    let out = dir.path().join("out/app.ndjson");
    wait_until("the events reach the file", || read_lines(&out).len() == 5);
    // stdin stays open: the run only ends through the signal.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Drained whole on SIGTERM: everything accepted was delivered.
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("received signal 15; draining queues and stopping sinks"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("applog ") && l.split_whitespace().nth(1) == Some("5")),
        "{stderr}"
    );
    drop(stdin);
}

#[test]
fn validate_accepts_a_good_config_and_checks_its_components() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[sinks.console]\ntype = \"stdout\"\n[sinks.f]\ntype = \"wasm\"\ncomponent = \"{}\"\n",
            guest("filter-sink").display()
        ),
    );
    let output = validate(&config);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.ends_with("ok, 2 sink(s)\n  console (stdout)\n  f (wasm)\n"),
        "{stdout}"
    );
}

#[test]
fn validate_names_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[sinks.console]\ntype = \"stdot\"\n");
    let output = validate(&config);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("sinks.console.type: unknown sink type `stdot`"),
        "{stderr}"
    );
    assert!(stderr.contains("(did you mean `stdout`?)"), "{stderr}");
}

#[test]
fn validate_reports_missing_and_wrong_components() {
    let dir = tempfile::tempdir().unwrap();
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, wat::parse_str("(module)").unwrap()).unwrap();
    let config = write_config(
        dir.path(),
        "[sinks.gone]\ntype = \"wasm\"\ncomponent = \"missing.wasm\"\n[sinks.core]\ntype = \"wasm\"\ncomponent = \"core.wasm\"\n",
    );
    let output = validate(&config);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("sinks.gone.component: cannot read"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.wasm"), "{stderr}");
    assert!(stderr.contains("sinks.core.component:"), "{stderr}");
    assert!(
        stderr.contains("is a core WebAssembly module, not a component"),
        "{stderr}"
    );
}

#[test]
fn inspect_shows_a_sink_and_its_fit() {
    let output = sinkbox()
        .arg("inspect")
        .arg(guest("filter-sink"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("imports:\n"), "{stdout}");
    assert!(
        stdout.contains("  sinkbox:sink/host@0.2.0 (instance)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  wasi:filesystem/preopens@0.2."),
        "{stdout}"
    );
    assert!(
        stdout.contains("exports:\n  sinkbox:sink/sink@0.2.0 (instance)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("sink contract: ok (sinkbox:sink/sink@0.2.0)\n"),
        "{stdout}"
    );
}

#[test]
fn inspect_explains_what_is_wrong_with_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.path().join("absent.wasm"), "cannot read"),
        (
            dir.path().join("text.wasm"),
            "is not a WebAssembly file (it does not start with `\\0asm`)",
        ),
        (
            dir.path().join("core.wasm"),
            "is a core WebAssembly module, not a component; build the sink with `cargo build --target wasm32-wasip2`",
        ),
        (
            dir.path().join("truncated.wasm"),
            "is not a valid component",
        ),
    ];
    std::fs::write(&cases[1].0, "hello, I am not wasm").unwrap();
    std::fs::write(
        &cases[2].0,
        wat::parse_str("(module (func (export \"write\")))").unwrap(),
    )
    .unwrap();
    let sink = std::fs::read(guest("count-sink")).unwrap();
    std::fs::write(&cases[3].0, &sink[..sink.len() / 2]).unwrap();
    for (path, expected) in &cases {
        let output = sinkbox().arg("inspect").arg(path).output().unwrap();
        let (_, stderr) = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            path.display()
        );
        assert!(
            stderr.contains(expected),
            "{}: expected `{expected}` in {stderr}",
            path.display()
        );
    }
}

#[test]
fn inspect_says_when_a_component_is_not_a_sink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.wasm");
    let component = wat::parse_str(
        r#"(component
             (core module $m (func (export "f") (result i32) i32.const 1))
             (core instance $i (instantiate $m))
             (func (export "answer") (result u32) (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    std::fs::write(&path, component).unwrap();
    let output = sinkbox().arg("inspect").arg(&path).output().unwrap();
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("exports:\n  answer (func)"), "{stdout}");
    assert!(
        stdout.contains("sink contract: does not fit: it does not export the `sinkbox:sink/sink@0.2.0` interface"),
        "{stdout}"
    );
}

#[test]
fn stdout_pretty_colours_only_when_forced_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        "{\"level\":\"error\",\"message\":\"boom\",\"code\":7}\n[\"not\",\"an\",\"object\"]\n",
    )
    .unwrap();
    let run = |color: &str| {
        let config = write_config(
            dir.path(),
            &format!("[sinks.pretty]\ntype = \"stdout_pretty\"\ncolor = \"{color}\"\n"),
        );
        let output = sinkbox()
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--input")
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // stdout is a pipe here: `auto` means no colour.
    assert_eq!(
        run("auto"),
        "ERROR boom code=7\n[\"not\",\"an\",\"object\"]\n"
    );
    assert_eq!(run("never"), run("auto"));
    let forced = run("always");
    assert!(
        forced.contains("\x1b[31m\x1b[1mERROR\x1b[0m boom"),
        "{forced:?}"
    );
    assert!(
        forced.ends_with("[\"not\",\"an\",\"object\"]\n"),
        "non-objects are printed as they are: {forced:?}"
    );
}

#[test]
fn run_drives_the_native_file_sinks_from_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[runtime.batch]\nmax_records = 3\n\n\
         [sinks.rolling]\ntype = \"rotating_file\"\npath = \"out/rolling/app.log\"\nmax_bytes = 60\nmax_files = 10\n\n\
         [sinks.mapped]\ntype = \"mmap\"\npath = \"out/mapped.ndjson\"\ninitial_size = \"4KiB\"\n",
    );
    let input = dir.path().join("in.ndjson");
    let records: Vec<String> = (0..10)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"xxxxxxxxxx\"}}"))
        .collect();
    std::fs::write(&input, records.join("\n")).unwrap();
    let output = sinkbox()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(read_lines(&dir.path().join("out/mapped.ndjson")), records);
    // Each ~28-byte record fits twice into 60 bytes: rotated files hold whole records.
    let rolling = dir.path().join("out/rolling");
    let mut names: Vec<String> = std::fs::read_dir(&rolling)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    let total: usize = names
        .iter()
        .map(|n| read_lines(&rolling.join(n)).len())
        .sum();
    assert_eq!(total, 10);
}

#[test]
fn check_passes_an_example_sink_and_fails_a_broken_one_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = sinkbox()
        .arg("check")
        .arg(guest("filter-sink"))
        .args(["--config", "min_level=warn", "--grant"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("  pass start "), "{stdout}");
    assert!(stdout.ends_with("ok: 10 steps passed\n"), "{stdout}");

    let output = sinkbox()
        .arg("check")
        .arg(guest("trap-sink"))
        .args(["--config", "trap_in=write", "--call-timeout", "500ms"])
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("  FAIL write (empty batch)"), "{stdout}");
    assert!(stdout.contains("`write` trapped"), "{stdout}");
    assert!(stdout.contains("failed: "), "{stdout}");

    let output = sinkbox()
        .arg("check")
        .arg(guest("filter-sink"))
        .args(["--config", "min_level"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("expected key=value"));
}

#[test]
fn sinks_lists_every_type_with_its_options() {
    let output = sinkbox().arg("sinks").output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    for line in [
        "file  appends every record",
        "    max_bytes ",
        "composite  one name in front of other named sinks",
        "every sink also accepts:",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}

#[test]
fn run_takes_sinks_from_uris_and_overrides_from_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[sinks.applog]\ntype = \"file\"\npath = \"file-says.ndjson\"\n",
    );
    let mut child = sinkbox()
        .current_dir(dir.path())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--sink", "file:///dev/null?name=extra"])
        .args(["--set", "extra.path=cli.ndjson"])
        .env("SINKBOX_APPLOG__PATH", "env-says.ndjson")
        .env("SINKBOX_SINKS", "file:///dev/null?name=from_env")
        .env("SINKBOX_FROM_ENV__PATH", "from-env.ndjson")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"n\":1}\n{\"n\":2}\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    for file in ["env-says.ndjson", "cli.ndjson", "from-env.ndjson"] {
        assert_eq!(
            read_lines(&dir.path().join(file)).len(),
            2,
            "{file}: {stderr}"
        );
    }
    assert!(!dir.path().join("file-says.ndjson").exists());

    let output = sinkbox()
        .arg("validate")
        .args(["--sink", "wss://bob:hunter2@127.0.0.1:1/x?bogus=1"])
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("wss://bob:***@127.0.0.1:1/x"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn check_runs_a_sink_with_its_http_grant_and_lists_the_requests_it_made() {
    let (server, docs) = crate::wasm_http::bulk_receiver();
    let bulk = format!("{}/_bulk", server.base_url());
    let output = sinkbox()
        .arg("check")
        .arg(guest("elasticsearch-sink"))
        .args(["--config", &format!("url={bulk}"), "--http-allow", &bulk])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("http: "), "{stdout}");
    assert!(
        stdout.contains(&format!("  POST {bulk} -> HTTP 200")),
        "{stdout}"
    );
    assert!(!docs.lock().unwrap().is_empty());

    // Without the grant, the same sink's requests are refused, and listed.
    let output = sinkbox()
        .arg("check")
        .arg(guest("elasticsearch-sink"))
        .args([
            "--config",
            &format!("url={bulk}"),
            "--http-allow",
            "http://127.0.0.1:1/_bulk",
        ])
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert!(
        stdout.contains("refused: no http_allow entry matches it"),
        "{stdout}"
    );
}

#[test]
fn check_input_sends_the_authors_own_records_and_exits_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let grant = dir.path().join("out");
    std::fs::create_dir(&grant).unwrap();
    let check = |input: &str, extra: &[&str]| {
        let file = dir.path().join("batch.ndjson");
        std::fs::write(&file, input).unwrap();
        let output = sinkbox()
            .arg("check")
            .arg(guest("redact-sink"))
            .arg("--grant")
            .arg(&grant)
            .arg("--input")
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&output);
        (output.status.code(), stdout, stderr)
    };
    // Ordinary records, two batches: accepted, exit 0.
    let (code, stdout, _) = check(
        "{\"user\":\"a\",\"password\":\"x\"}\n{\"user\":\"b\"}\n{\"user\":\"c\"}\n",
        &["--batch-size", "2"],
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("pass write (records 0..2)"), "{stdout}");
    assert!(stdout.contains("pass write (records 2..3)"), "{stdout}");
    assert!(stdout.ends_with("ok: 2 batch(es) accepted\n"), "{stdout}");
    let written = std::fs::read_to_string(grant.join("redacted.ndjson")).unwrap();
    assert!(
        written.contains("[REDACTED]") && !written.contains("\"x\""),
        "{written}"
    );
    // Raw bytes reach the sink as they are; it rejects them: exit 4.
    let (code, stdout, _) = check("not json\n\u{1}also not\n", &["--raw"]);
    assert_eq!(code, Some(4), "{stdout}");
    assert!(stdout.contains("rejected: "), "{stdout}");
    assert!(
        stdout.ends_with("refused: 1 of 1 batch(es) not accepted\n"),
        "{stdout}"
    );
    // Without --raw a line that is not JSON is the user's mistake: exit 2.
    let (code, _, stderr) = check("{\"ok\":1}\nnot json\n", &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("line 2 of") && stderr.contains("Pass --raw"),
        "{stderr}"
    );
}

#[test]
fn check_shows_each_guest_log_line_once_with_its_step() {
    let output = sinkbox()
        .arg("check")
        .arg(guest("count-sink"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.matches("counted 30 records").count(), 1, "{stdout}");
    assert!(!stderr.contains("counted 30 records"), "{stderr}");
}
