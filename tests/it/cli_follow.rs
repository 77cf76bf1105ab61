//! `sinkbox run --input FILE --follow`: a growing file read as it grows,
//! across rotation (a new file at the path) and truncation in place.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn append(path: &Path, range: std::ops::Range<u32>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in range {
        writeln!(file, "{{\"i\":{i}}}").unwrap();
    }
}

fn delivered(path: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    crate::support::numbers(&text.lines().map(str::to_owned).collect::<Vec<_>>())
}

#[test]
fn a_followed_file_is_read_as_it_grows_rotates_and_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.log");
    let output = dir.path().join("out.ndjson");
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\ntimeout = \"20ms\"\n[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    append(&input, 0..5);
    let mut child = crate::support::sinkbox()
        .args(["run", "--follow", "--input"])
        .arg(&input)
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |n: usize| {
        crate::support::wait_until(&format!("{n} records delivered"), || {
            delivered(&output).len() >= n
        })
    };
    wait_for(5);
    append(&input, 5..10);
    wait_for(10);
    // Rotation: the last lines go to the old file just before it moves.
    append(&input, 10..12);
    std::fs::rename(&input, dir.path().join("app.log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&input, 12..15);
    wait_for(15);
    // copytruncate: emptied in place, then written again.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&input)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&input, 15..17);
    wait_for(17);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    // Drained whole on SIGTERM: everything accepted was delivered.
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(delivered(&output), (0..17).collect::<Vec<_>>());
}

#[test]
fn follow_needs_a_file() {
    let output = crate::support::sinkbox()
        .args(["run", "--follow", "--sink", "stdout://"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--follow needs --input FILE"));
}
