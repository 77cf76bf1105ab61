//! Running the `sinkbox` binary: the one way tests start it, with its
//! input and its stderr.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::workspace_root;

/// The `sinkbox` binary, sharing the tests' compile cache, without colour
/// or a `SINKBOX_LOG` from the environment: the one way tests run the CLI.
pub fn sinkbox() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sinkbox"));
    cmd.env(
        "SINKBOX_CACHE_DIR",
        workspace_root().join("target").join("sinkbox-test-cache"),
    )
    .env("NO_COLOR", "1")
    .env_remove("SINKBOX_LOG");
    cmd
}

/// `sinkbox run --config CONFIG` at log level `log`, fed `input` on stdin:
/// whether it exited 0, and everything it printed (stdout then stderr).
pub fn run_config_with_input(config: &Path, log: &str, input: &[u8]) -> (bool, String) {
    let output = sinkbox()
        .args(["run", "--config"])
        .arg(config)
        .env("SINKBOX_LOG", log)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input)?;
            child.wait_with_output()
        })
        .expect("run sinkbox");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// `sinkbox run` with `args`, stdin and stderr piped.
pub fn spawn_sinkbox_run(args: &[&std::ffi::OsStr]) -> std::process::Child {
    sinkbox()
        .arg("run")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sinkbox")
}

/// Collects a child's stderr, line by line, as it runs.
pub fn collect_stderr(
    child: &mut std::process::Child,
) -> (Arc<std::sync::Mutex<String>>, std::thread::JoinHandle<()>) {
    use std::io::BufRead;
    let text = Arc::new(std::sync::Mutex::new(String::new()));
    let pipe = child.stderr.take().expect("stderr is piped");
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    (text, reader)
}

/// Writes `text` as `sinkbox.toml` in `dir`; its path.
pub fn config_file(dir: &Path, text: &str) -> PathBuf {
    let config = dir.join("sinkbox.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// `sinkbox run --config CONFIG --input INPUT`, run to its end.
pub fn run_input(config: &Path, input: &Path) -> std::process::Output {
    sinkbox()
        .args(["run", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .output()
        .unwrap()
}

/// The rest of the line after each of `marks` in a child's collected
/// stderr, once every mark has appeared (`sinkbox run` prints where its
/// sources listen and where `/metrics` is).
pub fn wait_for_lines(stderr: &std::sync::Mutex<String>, marks: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    crate::support::wait_until(&format!("{marks:?} in stderr"), || {
        let text = stderr.lock().unwrap();
        found = marks
            .iter()
            .filter_map(|mark| {
                text.split(mark)
                    .nth(1)
                    .map(|rest| rest.lines().next().unwrap_or_default().to_owned())
            })
            .collect();
        found.len() == marks.len()
    });
    found
}

/// Stops a child as an operator would (SIGTERM) and waits for it.
pub fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap()
}
