//! The promise of a 200 across a crash: `sinkbox run` serving an
//! `http_server` source into a disk-buffered `http` sink whose receiver
//! is down answers each request only once its records are synced to disk;
//! killed with SIGKILL after the client saw its 200s and restarted with the
//! receiver up, it delivers every acknowledged record.

use std::time::Duration;

use crate::recording_server::{Answer, RecordingServer, free_port};

/// Starts `sinkbox run --config config`; the process and its source's URL.
fn serve(
    config: &std::path::Path,
) -> (
    std::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let mut child = crate::support::spawn_sinkbox_run(&["--config".as_ref(), config.as_os_str()]);
    let (stderr, _reader) = crate::support::collect_stderr(&mut child);
    let mut url = String::new();
    crate::support::wait_until("the source to listen", || {
        let text = stderr.lock().unwrap();
        match text.split("(http_server) listening on ").nth(1) {
            Some(rest) => {
                url = rest.lines().next().unwrap().to_owned();
                true
            }
            None => false,
        }
    });
    (child, url, stderr)
}

#[test]
fn acknowledged_records_survive_kill_9_on_the_disk_buffer() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::config_file(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\n\
             [sinks.web]\ntype = \"http\"\nendpoint = \"http://127.0.0.1:{port}/in\"\nbatch_format = \"ndjson\"\n\
             healthcheck = false\nmax_retries = 100000\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n\
             breaker_cool_down = \"100ms\"\nbuffer = {{ type = \"disk\" }}\n"
        ),
    );
    let (mut child, url, stderr) = serve(&config);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // Twenty requests of fifty records, each answered 200 with the
    // receiver down: their records are on disk, not delivered.
    for request in 0..20 {
        let body: String = (request * 50..request * 50 + 50)
            .map(|i| format!("{{\"i\":{i}}}\n"))
            .collect();
        let response = client.post(&url).body(body).send().unwrap();
        assert_eq!(
            response.status().as_u16(),
            200,
            "{}",
            stderr.lock().unwrap()
        );
        let answer: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
        assert_eq!(answer["records"], 50);
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The receiver comes up; sinkbox starts again on the same data.
    let web = RecordingServer::start(&format!("127.0.0.1:{port}"), |_| Answer::ok());
    let (mut child, _, stderr) = serve(&config);
    let delivered = || -> Vec<u64> {
        web.requests()
            .iter()
            .flat_map(|r| {
                String::from_utf8_lossy(&r.body)
                    .lines()
                    .map(|l| {
                        serde_json::from_str::<serde_json::Value>(l).unwrap()["i"]
                            .as_u64()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    crate::support::wait_until("every acknowledged record to arrive", || {
        let mut got = delivered();
        got.sort_unstable();
        got.dedup();
        got.len() == 1000
    });
    let status = crate::support::terminate(&mut child);
    assert_eq!(status.code(), Some(0), "{}", stderr.lock().unwrap());
    let got = delivered();
    let mut unique = got.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique,
        (0..1000).collect::<Vec<_>>(),
        "every acknowledged record"
    );
    assert_eq!(
        got.len(),
        1000,
        "none twice: nothing was sent before the kill"
    );
}
