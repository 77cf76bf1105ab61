//! How `sinkbox run` ends, as an operator meets it: SIGTERM with a healthy
//! sink, a dead one and a dead disk-buffered one (one whole summary, the
//! documented exit status, the deadline kept); dead letters at the end of
//! an `--input` file (exit status 3); one edit under `--watch` (one
//! reload); a disk-buffered sink riding out an outage past the old retry
//! limit and a `kill -9`, saying so on stderr.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::recording_server::{Answer, RecordingServer, free_port, ndjson_numbers};
use crate::support::{collect_stderr, numbers, read_lines, spawn_sinkbox_run, wait_until};

/// A running `sinkbox run` with its stdin open and its stderr collected.
struct RunningCli {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl RunningCli {
    fn start(config: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        let mut child = spawn_sinkbox_run(&args);
        let (stderr, reader) = collect_stderr(&mut child);
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            stderr,
            reader: Some(reader),
        }
    }

    fn send_numbered(&mut self, range: std::ops::Range<usize>) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        for i in range {
            writeln!(stdin, r#"{{"i":{i}}}"#).unwrap();
        }
        stdin.flush().unwrap();
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for_stderr(&self, what: &str) {
        wait_until(what, || self.stderr().contains(what));
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Sends SIGTERM and waits for the exit, which must come within
    /// `deadline` (the `--shutdown-timeout` given) and a little slack.
    fn terminate_within(self, deadline: Duration) -> (ExitStatus, String) {
        let signalled = Instant::now();
        self.signal(libc::SIGTERM);
        let (status, stderr) = self.finish(false);
        let took = signalled.elapsed();
        assert!(
            took < deadline + Duration::from_secs(1),
            "took {took:?}: {stderr}"
        );
        (status, stderr)
    }

    /// Waits for the process to exit (closing its stdin first if asked);
    /// its status and everything it wrote to stderr.
    fn finish(mut self, close_stdin: bool) -> (ExitStatus, String) {
        if close_stdin {
            drop(self.stdin.take());
        }
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status, self.stderr())
    }
}

/// The summary's header line, once per summary.
const SUMMARY_HEADER: &str = "records/s";

fn assert_one_whole_summary(stderr: &str, sink: &str) {
    assert_eq!(
        stderr.matches(SUMMARY_HEADER).count(),
        1,
        "one summary: {stderr}"
    );
    let header = stderr.find(SUMMARY_HEADER).unwrap();
    assert!(
        stderr[header..]
            .lines()
            .any(|line| line.starts_with(&format!("{sink} "))),
        "the summary has a row for {sink}: {stderr}"
    );
}

#[test]
fn sigterm_with_a_healthy_sink_prints_one_whole_summary_and_exits_0() {
    // The race this guards against showed in some runs and not others.
    for run in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::support::config_file(
            dir.path(),
            "[sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
        );
        let mut cli = RunningCli::start(&config, &[]);
        cli.send_numbered(0..100);
        let out = dir.path().join("out.ndjson");
        wait_until("the records are written", || read_lines(&out).len() == 100);
        cli.signal(libc::SIGTERM);
        let (status, stderr) = cli.finish(false);
        assert_eq!(status.code(), Some(0), "run {run}: {stderr}");
        assert_one_whole_summary(&stderr, "out");
        assert_eq!(numbers(&read_lines(&out)), (0..100).collect::<Vec<_>>());
    }
}

/// An `http` sink (default retries) to a port nothing listens on.
fn dead_http_config(dir: &Path, port: u16, extra: &str) -> std::path::PathBuf {
    let config = dir.join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nbatch_format = \"ndjson\"\n{extra}"
        ),
    )
    .unwrap();
    config
}

#[test]
fn sigterm_with_a_dead_sink_keeps_the_deadline_dead_letters_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_http_config(dir.path(), free_port(), "");
    let mut cli = RunningCli::start(&config, &["--shutdown-timeout", "3s"]);
    cli.send_numbered(0..50);
    cli.wait_for_stderr("the sink is failing; retrying for up to 5m");
    let (status, stderr) = cli.terminate_within(Duration::from_secs(3));
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_one_whole_summary(&stderr, "web");
    assert!(stderr.contains("exit status 3"), "{stderr}");
    let dead = crate::support::dead_letters(&dir.path().join("data/dead-letter/web.ndjson"));
    assert_eq!(dead.len(), 50, "{stderr}");
}

#[test]
fn sigterm_with_a_dead_disk_buffered_sink_keeps_the_deadline_and_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dead_http_config(dir.path(), port, "buffer = { type = \"disk\" }\n");
    let mut cli = RunningCli::start(&config, &["--shutdown-timeout", "3s"]);
    cli.send_numbered(0..50);
    cli.wait_for_stderr("the sink is failing; retrying while the disk buffer holds");
    let (status, stderr) = cli.terminate_within(Duration::from_secs(3));
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert_one_whole_summary(&stderr, "web");
    assert!(
        !dir.path().join("data/dead-letter/web.ndjson").exists(),
        "nothing is dead-lettered: {stderr}"
    );
    // The next start, with the receiver up, delivers what stayed.
    let server = RecordingServer::start(&format!("127.0.0.1:{port}"), |_| Answer::ok());
    let (status, stderr) = RunningCli::start(&config, &[]).finish(true);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        ndjson_numbers(&server.requests()),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn dead_letters_at_the_end_of_an_input_file_give_exit_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = dead_http_config(dir.path(), free_port(), "max_retries = 0\n");
    let input = dir.path().join("in.ndjson");
    std::fs::write(&input, "{\"i\":0}\n{\"i\":1}\n").unwrap();
    let output = crate::support::run_input(&config, &input);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "exit status 3: not everything accepted was delivered: 2 record(s) dead-lettered"
        ),
        "{stderr}"
    );
    assert_one_whole_summary(&stderr, "web");
}

#[test]
fn one_edit_under_watch_is_one_reload_and_one_bad_edit_one_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sinkbox.toml");
    let sink = |name: &str| format!("[sinks.{name}]\ntype = \"file\"\npath = \"{name}.ndjson\"\n");
    std::fs::write(&config, sink("a")).unwrap();
    let mut cli = RunningCli::start(&config, &["--watch"]);
    cli.wait_for_stderr("watching");
    // An in-place write, as an editor or `>` does.
    std::fs::write(&config, sink("a") + &sink("b")).unwrap();
    cli.wait_for_stderr("configuration reloaded");
    // Several debounce periods: a reload that reads the file must not
    // cause the next one.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cli.stderr().matches("configuration reloaded").count(), 1);
    assert!(
        cli.stderr().contains("reloaded from") && cli.stderr().contains(": added b; unchanged a"),
        "{}",
        cli.stderr()
    );
    // A bad edit, written elsewhere and renamed over it (as `sed -i` does).
    let staged = dir.path().join("staged.toml");
    std::fs::write(&staged, "[sinks.a]\ntype = \"no-such-type\"\n").unwrap();
    std::fs::rename(&staged, &config).unwrap();
    cli.wait_for_stderr("reload refused");
    std::thread::sleep(Duration::from_secs(2));
    let stderr = cli.stderr();
    assert_eq!(stderr.matches("reload refused").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("configuration reloaded").count(), 1);
    cli.send_numbered(0..5);
    let (status, stderr) = cli.finish(true);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(read_lines(&dir.path().join("b.ndjson")).len(), 5);
}

#[test]
fn a_disk_buffered_sink_rides_out_an_outage_and_a_kill_9_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dead_http_config(dir.path(), port, "buffer = { type = \"disk\" }\n");
    // Default retries: the old default gave up 3 s into an outage.
    let mut cli = RunningCli::start(&config, &[]);
    cli.send_numbered(0..1000);
    cli.wait_for_stderr("the sink is failing; retrying while the disk buffer holds");
    // The outage is reported while it lasts, with what the buffer holds.
    cli.wait_for_stderr("the sink is still failing after 1");
    assert!(
        cli.stderr().contains("in the disk buffer, the oldest 1"),
        "{}",
        cli.stderr()
    );
    assert!(
        !dir.path().join("data/dead-letter/web.ndjson").exists(),
        "{}",
        cli.stderr()
    );
    cli.signal(libc::SIGKILL);
    let _ = cli.finish(false);
    // Started again while the receiver is still down; it comes back.
    let cli = RunningCli::start(&config, &[]);
    cli.wait_for_stderr("the sink is failing");
    let server = RecordingServer::start(&format!("127.0.0.1:{port}"), |_| Answer::ok());
    cli.wait_for_stderr("the sink delivers again after failing for");
    let (status, stderr) = cli.finish(true);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        ndjson_numbers(&server.requests()),
        (0..1000).collect::<Vec<_>>()
    );
    assert!(!dir.path().join("data/dead-letter/web.ndjson").exists());
}

/// A 4 MiB tmpfs mounted on a directory, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` (and a note) where this machine does not let the tests mount.
    fn mount(path: &Path) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(path)
            .status();
        match status {
            Ok(status) if status.success() => Some(Self(path.to_owned())),
            other => {
                eprintln!("cannot mount a tmpfs here ({other:?}); the full-disk test needs root");
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_under_a_buffer_is_said_counted_and_the_deadline_still_holds() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_disk) = SmallDisk::mount(&dir.path().join("data")) else {
        return;
    };
    let config = dead_http_config(dir.path(), free_port(), "buffer = { type = \"disk\" }\n");
    let mut cli = RunningCli::start(&config, &["--shutdown-timeout", "3s"]);
    // About 12 MB for a 4 MiB disk, from a thread of its own: back-pressure
    // may block the writes, and the process exits under them.
    let mut stdin = cli.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let pad = "x".repeat(100);
        for i in 0..100_000 {
            if writeln!(stdin, r#"{{"i":{i},"pad":"{pad}"}}"#).is_err() {
                return;
            }
        }
        let _ = stdin.flush();
        // Held open (no end of input) until the process is gone.
        std::thread::park_timeout(Duration::from_secs(60));
    });
    cli.wait_for_stderr("the disk buffer cannot take a batch");
    assert!(
        cli.stderr().contains("No space left on device"),
        "{}",
        cli.stderr()
    );
    let (status, stderr) = cli.terminate_within(Duration::from_secs(3));
    writer.thread().unpark();
    writer.join().unwrap();
    // What was held in memory could go nowhere: counted, said, status 3.
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_one_whole_summary(&stderr, "web");
    assert!(
        stderr.contains("record(s) lost: neither delivered nor written"),
        "{stderr}"
    );
}
