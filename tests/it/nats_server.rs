//! A throwaway `nats-server -js` on loopback for the `nats` sink's tests
//! (Debian's package), with its JetStream store in a temp dir, and a real
//! client that reads a stream back.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One running server; killed on drop.
pub struct NatsServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    extra: Vec<String>,
}

impl NatsServer {
    /// A server with JetStream; `extra` are more command-line flags.
    pub fn start(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is not installed: `cargo xtask test` installs it (apt-get install nats-server)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (connections cut, publishes in flight
    /// lost), waits, starts it again on the same port with the same store.
    /// Not SIGKILL: what a crashed nats-server keeps of the messages it
    /// acknowledged depends on its file store's own write and sync
    /// schedule, not on the client; this tests the client's side.
    pub fn restart_after(&mut self, down_for: Duration) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        std::thread::sleep(down_for);
        self.spawn();
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Every message in `stream`, as (subject, payload, Nats-Msg-Id), in
    /// stream order.
    pub fn messages(&self, stream: &str) -> Vec<(String, String, Option<String>)> {
        self.read(stream, None)
    }

    /// [`Self::messages`], connecting as `user`.
    pub fn messages_as(
        &self,
        stream: &str,
        user: &str,
        password: &str,
    ) -> Vec<(String, String, Option<String>)> {
        self.read(stream, Some((user, password)))
    }

    fn read(
        &self,
        stream: &str,
        auth: Option<(&str, &str)>,
    ) -> Vec<(String, String, Option<String>)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut options = async_nats::ConnectOptions::new();
            if let Some((user, password)) = auth {
                options = options.user_and_password(user.into(), password.into());
            }
            let client = options.connect(self.url()).await.unwrap();
            let jetstream = async_nats::jetstream::new(client);
            let mut stream = jetstream.get_stream(stream).await.unwrap();
            let last = stream.info().await.unwrap().state.last_sequence;
            let mut out = Vec::new();
            for sequence in 1..=last {
                let Ok(message) = stream.get_raw_message(sequence).await else {
                    continue;
                };
                let id = message
                    .headers
                    .get("Nats-Msg-Id")
                    .map(|v| v.as_str().to_owned());
                out.push((
                    message.subject.to_string(),
                    String::from_utf8_lossy(&message.payload).into_owned(),
                    id,
                ));
            }
            out
        })
    }
}

/// What the server says of a durable consumer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConsumerState {
    /// Delivered and not yet acknowledged.
    pub ack_pending: usize,
    /// Not yet delivered.
    pub pending: u64,
    /// Messages delivered again after an ack wait passed or a nak.
    pub redelivered: usize,
    /// The highest stream sequence acknowledged with everything below it.
    pub ack_floor: u64,
}

impl NatsServer {
    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    }

    /// Creates stream `name` capturing `subjects` (file storage).
    pub fn create_stream(&self, name: &str, subjects: &[&str]) {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            async_nats::jetstream::new(client)
                .create_stream(async_nats::jetstream::stream::Config {
                    name: name.into(),
                    subjects: subjects.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                })
                .await
                .unwrap();
        })
    }

    /// Deletes stream `name` and every message in it.
    pub fn delete_stream(&self, name: &str) {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            async_nats::jetstream::new(client)
                .delete_stream(name)
                .await
                .unwrap();
        })
    }

    /// Publishes every payload to `subject` and waits for the stream's
    /// acknowledgements.
    pub fn publish(&self, subject: &str, payloads: impl IntoIterator<Item = String>) {
        let payloads: Vec<String> = payloads.into_iter().collect();
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            let jetstream = async_nats::jetstream::new(client);
            let mut acks = Vec::new();
            for payload in payloads {
                acks.push(
                    jetstream
                        .publish(subject.to_owned(), payload.into())
                        .await
                        .unwrap(),
                );
                if acks.len() == 1000 {
                    for ack in acks.drain(..) {
                        ack.await.unwrap();
                    }
                }
            }
            for ack in acks {
                ack.await.unwrap();
            }
        })
    }

    /// The server's view of durable consumer `consumer` on `stream`.
    pub fn consumer_state(&self, stream: &str, consumer: &str) -> ConsumerState {
        self.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            let jetstream = async_nats::jetstream::new(client);
            let stream = jetstream.get_stream(stream).await.unwrap();
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer(consumer).await.unwrap();
            let info = consumer.info().await.unwrap();
            ConsumerState {
                ack_pending: info.num_ack_pending,
                pending: info.num_pending,
                redelivered: info.num_redelivered,
                ack_floor: info.ack_floor.stream_sequence,
            }
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
