//! The CloudWatch Logs API from `moto_server` (PyPI `moto[server]`,
//! installed by `cargo xtask test` into `target/tools/moto`), on loopback,
//! and a reader for what it stored.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::free_port;

/// One running moto server; killed on drop.
pub struct MotoServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl MotoServer {
    /// Starts moto on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts moto on `port`.
    pub fn start_on(port: u16) -> Self {
        let program = crate::support::workspace_root().join("target/tools/moto/bin/moto_server");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; `cargo xtask test` installs moto[server] there",
                    program.display()
                )
            });
        let server = Self {
            child: Some(child),
            port,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(&self, action: &str, body: serde_json::Value) -> serde_json::Value {
        let response = reqwest::blocking::Client::new()
            .post(self.endpoint())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Logs_20140328.{action}"))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=reader/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .unwrap();
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "{action}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The names of the streams of `group`.
    pub fn streams(&self, group: &str) -> Vec<String> {
        let mut names: Vec<String> = self.call(
            "DescribeLogStreams",
            serde_json::json!({"logGroupName": group}),
        )["logStreams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["logStreamName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Every event of one stream, oldest first, as (timestamp, message).
    pub fn events(&self, group: &str, stream: &str) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({"logGroupName": group, "logStreamName": stream, "startFromHead": true});
            if let Some(token) = &token {
                body["nextToken"] = token.clone().into();
            }
            let page = self.call("GetLogEvents", body);
            let events = page["events"].as_array().unwrap();
            out.extend(events.iter().map(|e| {
                (
                    e["timestamp"].as_i64().unwrap(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            }));
            let next = page["nextForwardToken"].as_str().map(str::to_owned);
            if events.is_empty() || next == token {
                return out;
            }
            token = next;
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
