//! `sinkbox top` driven in a real terminal (tmux, as over SSH): it shows a
//! running sinkbox's sources and sinks with live rates, says when an
//! endpoint cannot be reached, and quits on Ctrl-C, leaving the terminal
//! as it was.

use std::process::Command;
use std::time::Duration;

/// A tmux server of this test's own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Self {
        let tmux = Self {
            socket: format!("sinkbox-top-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-s",
                "top",
                "-x",
                "180",
                "-y",
                "40",
                command,
            ])
            .status()
            .expect("tmux is missing: `cargo xtask test` installs it (apt-get install tmux)");
        assert!(status.success());
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-t", "top"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn running(&self) -> bool {
        self.command()
            .args(["has-session", "-t", "top"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn top_shows_live_rates_in_a_terminal_and_quits_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(
        dir.path(),
        "[runtime]\ndata_dir = \"data\"\n\
         [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\n\
         [sinks.out]\ntype = \"file\"\npath = \"out.ndjson\"\n",
    );
    let mut child = crate::support::spawn_sinkbox_run(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--metrics-addr".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let (stderr, _reader) = crate::support::collect_stderr(&mut child);
    let [source, metrics] = <[String; 2]>::try_from(crate::support::wait_for_lines(
        &stderr,
        &["listening on ", "metrics at "],
    ))
    .unwrap();
    let address = metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let unreachable = format!("127.0.0.1:{}", crate::recording_server::free_port());
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_sinkbox"));
    let tmux = Tmux::start(&format!(
        "{} top --interval 200ms {address} {unreachable}",
        binary.display()
    ));
    // Records keep arriving while top watches.
    let sending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sender = {
        let sending = sending.clone();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let body: String = (0..100).map(|i| format!("{{\"i\":{i}}}\n")).collect();
            while sending.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = client.post(&source).body(body.clone()).send();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let live_rate = |screen: &str, row: &str| {
        screen
            .lines()
            .find(|l| l.trim_start().starts_with(row))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .is_some_and(|rate| rate != "-" && rate != "0.0")
    };
    crate::support::wait_until("top to show records flowing in and out", || {
        let screen = tmux.screen();
        live_rate(&screen, "edge") && live_rate(&screen, "out")
    });
    let screen = tmux.screen();
    assert!(
        screen.contains("SOURCE") && screen.contains("SINK"),
        "{screen}"
    );
    assert!(screen.contains("healthy"), "{screen}");
    assert!(screen.contains("unreachable"), "{screen}");
    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    sender.join().unwrap();
    tmux.command()
        .args(["send-keys", "-t", "top", "C-c"])
        .status()
        .unwrap();
    crate::support::wait_until("top to quit on Ctrl-C", || !tmux.running());
    crate::support::terminate(&mut child);
}
