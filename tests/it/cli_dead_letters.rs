//! `sinkbox dead-letters list | replay`: dead letters made by a real run
//! against a receiver that is down, listed, refused while a running
//! sinkbox writes them, replayed with a `--reason` that matches nothing,
//! replayed and killed with SIGKILL in the middle, and replayed again:
//! every record reaches the receiver, none that was acknowledged twice,
//! and the files are gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::recording_server::{Answer, RecordingServer, free_port, ndjson_numbers};
use crate::support::{sinkbox, wait_until};

fn config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let config = dir.join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 50\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nbatch_format = \"ndjson\"\n\
             healthcheck = false\nmax_retries = 0\n"
        ),
    )
    .unwrap();
    config
}

fn dead_letters(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    sinkbox()
        .arg("dead-letters")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn dead_letters_are_listed_and_replayed_once_even_when_the_replay_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port);
    let input = dir.path().join("in.ndjson");
    let lines: String = (0..300).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(&input, lines).unwrap();
    let run = crate::support::run_input(&config, &input);
    assert_eq!(run.status.code(), Some(3), "{run:?}");

    let list = dead_letters(&config, &["list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().take(4).collect::<Vec<_>>() == ["web", "1", "6", "300"]),
        "{listed}"
    );
    assert!(
        listed.contains("300 × still failing after 0 retries"),
        "{listed}"
    );

    // A running sinkbox that writes web's dead letters keeps a replay out.
    let mut running = crate::support::spawn_sinkbox_run(&["--config".as_ref(), config.as_os_str()]);
    let (stderr, reader) = crate::support::collect_stderr(&mut running);
    {
        use std::io::Write as _;
        let mut stdin = running.stdin.take().unwrap();
        writeln!(stdin, "{{\"i\":1000}}").unwrap();
        wait_until("the running sinkbox dead-letters", || {
            stderr.lock().unwrap().contains("dead-lettered 1 records")
        });
        let refused = dead_letters(&config, &["replay", "web"]);
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("being written by a running sinkbox"),
            "{refused:?}"
        );
        drop(stdin);
    }
    assert_eq!(running.wait().unwrap().code(), Some(3));
    reader.join().unwrap();

    // Nothing matches: nothing is sent, nothing changes.
    let unmatched = dead_letters(&config, &["replay", "web", "--reason", "^rejected"]);
    assert!(unmatched.status.success(), "{unmatched:?}");
    assert!(
        String::from_utf8_lossy(&unmatched.stdout).contains("7 not matching --reason"),
        "{unmatched:?}"
    );

    // The receiver takes two batches and holds the third unanswered; the
    // replay is killed there. Then it takes everything.
    let answered = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let server = {
        let (answered, release) = (answered.clone(), release.clone());
        RecordingServer::start(&format!("127.0.0.1:{port}"), move |_| {
            if answered.fetch_add(1, Ordering::SeqCst) == 2 && !release.load(Ordering::SeqCst) {
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return Answer::status(503, "");
            }
            Answer::ok()
        })
    };
    let mut replay = sinkbox()
        .args(["dead-letters", "replay", "web", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the third batch is in flight", || {
        answered.load(Ordering::SeqCst) == 3
    });
    replay.kill().unwrap();
    replay.wait().unwrap();
    release.store(true, Ordering::SeqCst);
    wait_until("the held request is answered", || {
        server.requests().len() == 3
    });
    assert_eq!(
        ndjson_numbers(&server.requests()),
        (0..150).collect::<Vec<_>>()
    );

    // Run again: only what was not acknowledged is sent.
    let again = dead_letters(&config, &["replay", "web"]);
    assert!(again.status.success(), "{again:?}");
    let second_got = ndjson_numbers(&server.requests()[3..]);
    assert_eq!(
        second_got,
        (100..300).chain([1000]).collect::<Vec<_>>(),
        "{again:?}"
    );
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("2 already delivered by an earlier replay"),
        "{again:?}"
    );
    let list = dead_letters(&config, &["list"]);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("no dead letters"),
        "{list:?}"
    );
}
