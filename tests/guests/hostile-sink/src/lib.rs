//! A sink written by an attacker, for the hostile-guest suite: option
//! `mode` picks one attack; every other call behaves, writing each record
//! it accepts to `/data/out.ndjson` when a directory is granted.
//!
//! Modes:
//! - `loop:<export>`, `trap:<export>` for `start`, `write`, `flush`,
//!   `health` or `stop`: spin forever or panic there.
//! - `oom`, `stack_overflow`, `sleep`: in every `write`.
//! - `huge:<where>` for `rejected`, `retryable`, `partial`, `fatal`,
//!   `start`, `health`, `flush`: answer with a 12 MiB reason of NULs,
//!   newlines and ANSI escapes.
//! - `log_empty`, `log_huge`, `stdout_flood`, `stderr_flood`, `log_forge`:
//!   flood the diagnostics in every `write`, then accept; `log_then_trap`
//!   floods, then panics.
//! - `escape_dotdot`, `escape_absolute`, `escape_symlink`: try to write
//!   `victim` (option) outside the grant in every `write`, then accept.
//! - `sockets`: try to reach `127.0.0.1:<port>` (option) over TCP and UDP
//!   in every `write`, then accept.
//! - `partial_out_of_range`, `partial_zero`: break the `partial` contract.

use std::fs::OpenOptions;
use std::io::Write;

use sinkbox_guest::{
    Batch, Config, FlushOutcome, HealthStatus, PartialWrite, Sink, WriteOutcome, log,
};

struct HostileSink {
    mode: String,
    victim: String,
    port: String,
    out: Option<std::fs::File>,
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// 12 MiB of what hurts a log or a terminal most.
fn poison() -> String {
    const PIECE: &str = "\0\0\0\0\n2026-01-01T00:00:00Z ERROR host: forged\x1b[2J\x1b]0;owned\x07";
    // Sized up front: growing a 12 MiB string would need 36 MiB at once.
    let mut text = String::with_capacity((12 << 20) + PIECE.len());
    while text.len() < 12 << 20 {
        text.push_str(PIECE);
    }
    text
}

/// Creates `/data/<name>` pointing at `target` through the WASI filesystem
/// (std has no stable symlink call on WASI).
fn plant_symlink(target: &str, name: &str) {
    for (dir, path) in wasip2::filesystem::preopens::get_directories() {
        if path == "/data" {
            match dir.symlink_at(target, name) {
                Ok(()) => log::info(&format!("planted {name} -> {target}")),
                Err(e) => log::info(&format!("symlink {name} -> {target} refused: {e:?}")),
            }
        }
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + buf[0]
}

impl HostileSink {
    fn accept(&mut self, batch: &Batch) -> WriteOutcome {
        if let Some(out) = &mut self.out
            && let Err(e) = out.write_all(batch.bytes())
        {
            return WriteOutcome::Retryable(e.to_string());
        }
        WriteOutcome::Accepted
    }

    /// Tries to append to `victim` (an absolute host path) from outside
    /// the grant: through `..`, as an absolute path, or through symlinks
    /// planted in the grant (absolute and relative).
    fn try_escape(&self) {
        let hops = "../".repeat(24);
        let relative = format!("{hops}{}", self.victim.trim_start_matches('/'));
        let targets = match self.mode.as_str() {
            "escape_dotdot" => vec![format!("/data/{relative}")],
            "escape_absolute" => vec![self.victim.clone()],
            _ => {
                plant_symlink(&self.victim, "link_absolute");
                plant_symlink(&relative, "link_relative");
                plant_symlink("..", "up");
                vec![
                    "/data/link_absolute".to_owned(),
                    "/data/link_relative".to_owned(),
                    "/data/up/escaped".to_owned(),
                ]
            }
        };
        for target in targets {
            let create = target.ends_with("escaped");
            match OpenOptions::new().create(create).append(true).open(&target) {
                Ok(mut file) => {
                    let _ = file.write_all(b"escaped\n");
                    log::warn(&format!("opened {target}"));
                }
                Err(e) => log::info(&format!("escape to {target} refused: {e}")),
            }
        }
    }

    fn try_sockets(&self) {
        let addr = format!("127.0.0.1:{}", self.port);
        match std::net::TcpStream::connect(&addr) {
            Ok(_) => log::error(&format!("connected to {addr}")),
            Err(e) => log::info(&format!("tcp refused: {e}")),
        }
        match std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", &addr)) {
            Ok(_) => log::error(&format!("sent udp to {addr}")),
            Err(e) => log::info(&format!("udp refused: {e}")),
        }
    }
}

impl Sink for HostileSink {
    fn start(config: Config) -> Result<Self, String> {
        let mode = config.get_or("mode", "").to_owned();
        match mode.as_str() {
            "loop:start" => spin(),
            "trap:start" => panic!("told to trap in start"),
            "huge:start" => return Err(poison()),
            _ => {}
        }
        let out = std::fs::metadata("/data").ok().map(|_| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open("/data/out.ndjson")
                .expect("open /data/out.ndjson")
        });
        Ok(HostileSink {
            mode,
            victim: config.get_or("victim", "").to_owned(),
            port: config.get_or("port", "9").to_owned(),
            out,
        })
    }

    fn write(&mut self, batch: Batch) -> WriteOutcome {
        match self.mode.as_str() {
            "loop:write" => spin(),
            "trap:write" => panic!("told to trap in write"),
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                }
            }
            "stack_overflow" => {
                std::hint::black_box(recurse(0));
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "huge:rejected" => return WriteOutcome::Rejected(poison()),
            "huge:retryable" => return WriteOutcome::Retryable(poison()),
            "huge:fatal" => return WriteOutcome::Fatal(poison()),
            "huge:partial" => {
                return WriteOutcome::Partial(PartialWrite {
                    accepted: 0,
                    reason: poison(),
                });
            }
            "log_empty" => {
                for _ in 0..200_000 {
                    log::error("");
                }
            }
            "log_then_trap" => {
                let line = "x".repeat(1 << 20);
                for _ in 0..8 {
                    log::error(&line);
                }
                panic!("told to log and then trap");
            }
            "log_huge" => {
                let line = "x".repeat(1 << 20);
                for _ in 0..8 {
                    log::error(&line);
                }
            }
            "stdout_flood" => {
                let line = "o".repeat(1 << 20);
                for _ in 0..8 {
                    println!("{line}");
                }
            }
            "stderr_flood" => {
                let line = "e".repeat(1 << 20);
                for _ in 0..8 {
                    eprintln!("{line}");
                }
            }
            "log_forge" => {
                log::info("ok\n2026-01-01T00:00:00Z ERROR sinkbox: forged line\x1b[2J\x1b[31mred");
                println!("plain\r\x1b[1A\x1b[2Kovertyped");
            }
            "escape_dotdot" | "escape_absolute" | "escape_symlink" => self.try_escape(),
            "sockets" => self.try_sockets(),
            "partial_out_of_range" => {
                return WriteOutcome::Partial(PartialWrite {
                    accepted: batch.len() + 5,
                    reason: "more than the batch".into(),
                });
            }
            "partial_zero" => {
                return WriteOutcome::Partial(PartialWrite {
                    accepted: 0,
                    reason: "never anything".into(),
                });
            }
            _ => {}
        }
        self.accept(&batch)
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.mode.as_str() {
            "loop:flush" => spin(),
            "trap:flush" => panic!("told to trap in flush"),
            "huge:flush" => FlushOutcome::Retryable(poison()),
            _ => FlushOutcome::Done,
        }
    }

    fn stop(&mut self) {
        match self.mode.as_str() {
            "loop:stop" => spin(),
            "trap:stop" => panic!("told to trap in stop"),
            _ => {}
        }
    }

    fn health(&mut self) -> HealthStatus {
        match self.mode.as_str() {
            "loop:health" => spin(),
            "trap:health" => panic!("told to trap in health"),
            "huge:health" => HealthStatus::Degraded(poison()),
            _ => HealthStatus::Healthy,
        }
    }
}

sinkbox_guest::export_sink!(HostileSink);
