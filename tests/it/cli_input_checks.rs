//! What `sinkbox` checks of its input and configuration before records go
//! astray: a line past `--max-record-bytes` is skipped without being held
//! (peak memory measured), a `when` naming a field no record has is
//! flagged by `sinkbox route` and, once, by a running sink, `route` reads
//! text input, and `validate` refuses a path that cannot be written.

use std::io::Write as _;
use std::path::Path;

use crate::support::{read_lines, sinkbox};

/// Runs `sinkbox run` with `input` on stdin: its exit code, its stderr,
/// and its peak resident memory in KiB (`VmHWM`), read once the input is
/// in and before stdin closes. (`wait4`'s peak would count the test
/// process's own pages, shared with the child between fork and exec.)
fn run_measured(config: &Path, input: &Path) -> (i32, String, u64) {
    let mut child = sinkbox()
        .args(["run", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (stderr, reader) = crate::support::collect_stderr(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    std::io::copy(&mut std::fs::File::open(input).unwrap(), &mut stdin).unwrap();
    stdin.flush().unwrap();
    crate::support::wait_until("the last record is read", || {
        read_lines(&config.with_file_name("out.ndjson")).len() == 200
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    drop(stdin);
    let code = child.wait().unwrap().code().unwrap();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    (code, stderr, peak_kib)
}

#[test]
fn a_line_past_max_record_bytes_is_skipped_without_being_held() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(
        dir.path(),
        "[sinks.all]\ntype = \"file\"\npath = \"out.ndjson\"\n",
    );
    let input = dir.path().join("in.ndjson");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..100 {
        writeln!(file, "{{\"i\":{i}}}").unwrap();
    }
    // 50 MB in one line: held whole, it cost 178 MB of memory.
    write!(file, "{{\"x\":\"").unwrap();
    let chunk = vec![b'y'; 1 << 20];
    for _ in 0..50 {
        file.write_all(&chunk).unwrap();
    }
    writeln!(file, "\"}}").unwrap();
    for i in 100..200 {
        writeln!(file, "{{\"i\":{i}}}").unwrap();
    }
    drop(file);
    let (status, stderr, peak_kib) = run_measured(&config, &input);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains(
            "line 101: skipped a line of 52428808 bytes, longer than --max-record-bytes (1048576)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("read 200 event(s) from 201 line(s); 0 malformed line(s) skipped; 1 line(s) over --max-record-bytes skipped"),
        "{stderr}"
    );
    assert_eq!(read_lines(&dir.path().join("out.ndjson")).len(), 200);
    assert!(
        peak_kib < 40 * 1024,
        "peak memory {peak_kib} KiB for a 50 MiB line"
    );
}

const MISSPELT: &str = "[runtime]\ndata_dir = \"data\"\n\
    [sinks.alerts]\ntype = \"file\"\npath = \"alerts.ndjson\"\nwhen = 'levle >= \"warn\"'\n\
    [sinks.all]\ntype = \"file\"\npath = \"all.ndjson\"\n";

#[test]
fn a_when_field_no_record_has_is_flagged_by_route_and_by_the_running_sink() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(dir.path(), MISSPELT);
    let sample = dir.path().join("sample.ndjson");
    let records: String = (0..2000)
        .map(|i| format!("{{\"level\":\"warn\",\"i\":{i},\"http\":{{\"status\":500}}}}\n"))
        .collect();
    std::fs::write(&sample, &records).unwrap();
    let route = sinkbox()
        .args(["route", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&sample)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&route.stdout);
    assert!(
        printed.contains("warning: sink `alerts`: its when (`levle >= \"warn\"`) reads the field `levle`, which no record of the sample has (did you mean `level`?)"),
        "{printed}"
    );
    let run = crate::support::run_input(&config, &sample);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("has kept none of the").count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("the field(s) `levle`"), "{stderr}");
    // A condition whose field is there but never true is not flagged.
    std::fs::write(
        &config,
        MISSPELT.replace("levle >= \"warn\"", "level == \"fatal\""),
    )
    .unwrap();
    let run = crate::support::run_input(&config, &sample);
    assert!(!String::from_utf8_lossy(&run.stderr).contains("has kept none of the"));
}

#[test]
fn route_reads_text_input_as_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(
        dir.path(),
        "[sinks.errors]\ntype = \"stdout\"\nwhen = 'message contains \"ERROR\"'\n",
    );
    let sample = dir.path().join("app.log");
    std::fs::write(&sample, "boot ok\nERROR disk full\n").unwrap();
    let route = sinkbox()
        .args(["route", "--input-format", "text", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&sample)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&route.stdout);
    assert!(route.status.success(), "{printed}");
    assert!(
        printed.lines().any(|l| l.trim() == "1  errors"),
        "{printed}"
    );
    assert!(
        printed.lines().any(|l| l.trim() == "1  (no sink)"),
        "{printed}"
    );
}

#[test]
fn validate_refuses_paths_that_cannot_be_written_and_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("afile"), "x").unwrap();
    let config = crate::support::config_file(
        dir.path(),
        "[sinks.under_a_file]\ntype = \"file\"\npath = \"afile/out.ndjson\"\n\
         [sinks.in_proc]\ntype = \"file\"\npath = \"/proc/sinkbox/out.ndjson\"\n\
         [sinks.fine]\ntype = \"file\"\npath = \"logs/out.ndjson\"\n",
    );
    let validate = sinkbox()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&validate.stderr);
    assert_eq!(validate.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sinks.under_a_file.path: `")
            && stderr.contains("afile` is a file, not a directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sinks.in_proc.path: `/proc/sinkbox/out.ndjson` cannot be created"),
        "{stderr}"
    );
    assert!(!stderr.contains("sinks.fine"), "{stderr}");
    assert!(
        !dir.path().join("logs").exists(),
        "validate creates nothing"
    );
}
