//! `sinkbox run --input-format`: JSON lines, text lines, or both.

use crate::support::{read_lines, sinkbox};

fn run_with(format: &str) -> (Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sinkbox.toml"),
        "[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("in.log"),
        "{\"level\":\"info\",\"message\":\"json\"}\nplain text line\r\n\n",
    )
    .unwrap();
    let output = sinkbox()
        .current_dir(dir.path())
        .args([
            "run",
            "--config",
            "sinkbox.toml",
            "--input",
            "in.log",
            "--input-format",
            format,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    let records = read_lines(&dir.path().join("out.ndjson"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, stderr)
}

#[test]
fn auto_keeps_json_lines_and_takes_the_rest_as_text() {
    let (records, stderr) = run_with("auto");
    assert_eq!(
        records[0],
        serde_json::json!({"level": "info", "message": "json"})
    );
    assert_eq!(records[1]["message"], "plain text line");
    assert!(records[1]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(records.len(), 2);
    assert!(
        stderr.contains("read 2 event(s) (1 taken as text) from 3 line(s)"),
        "{stderr}"
    );
}

#[test]
fn text_takes_every_line_as_text_and_json_skips_what_is_not() {
    let (records, _) = run_with("text");
    assert_eq!(
        records[0]["message"],
        "{\"level\":\"info\",\"message\":\"json\"}"
    );
    assert_eq!(records.len(), 2);
    let (records, stderr) = run_with("json");
    assert_eq!(records.len(), 1);
    assert!(stderr.contains("1 malformed line(s) skipped"), "{stderr}");
}
