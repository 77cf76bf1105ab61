//! Property-based fuzzing of what strangers feed the host: the TOML loader,
//! sink URIs, the NDJSON input reader, the lifting of guest text, component
//! bytes given to `inspect`, and request bodies sent to the `http_server`
//! and `otlp` sources. Every input must give an answer (a
//! value or an error), never a panic.
//!
//! `cargo xtask test` runs a bounded number of cases per target (default
//! 256); `cargo xtask fuzz` runs many more (`SINKBOX_FUZZ_CASES`).

use std::path::Path;

use proptest::prelude::*;
use sinkbox::config::ConfigLoader;
use sinkbox::registry::SinkRegistry;

fn cases() -> u32 {
    std::env::var("SINKBOX_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Pieces of real configurations, so mutations reach deep into the parser.
const TOML_PIECES: &[&str] = &[
    "[runtime]\n",
    "data_dir = \"d\"\n",
    "[runtime.batch]\n",
    "max_records = 10\n",
    "max_bytes = \"1MiB\"\n",
    "timeout = \"200ms\"\n",
    "timeout = 5\n",
    "[sinks.a]\n",
    "[sinks.\"b c\"]\n",
    "type = \"file\"\n",
    "type = \"wasm\"\n",
    "type = \"composite\"\n",
    "type = \"stdout\"\n",
    "path = \"out.ndjson\"\n",
    "max_bytes = \"10MB\"\n",
    "max_files = -1\n",
    "component = \"x.wasm\"\n",
    "grant = { path = \"g\", read_only = \"maybe\" }\n",
    "config = { k = 1, n = [1,2] }\n",
    "targets = [\"a\", \"a\"]\n",
    "mode = \"failover\"\n",
    "queue_capacity = 0\n",
    "overflow = \"drop_newest\"\n",
    "dead_letter_max_bytes = \"1B\"\n",
    "optional = true\n",
    "endpoint = \"tcp://[::1]:99999\"\n",
    "= = =\n",
    "\u{0}\u{1b}[2J\n",
];

/// Pieces of sink URIs.
const URI_PIECES: &[&str] = &[
    "file://",
    "/tmp/x",
    "?",
    "&",
    "name=",
    "a",
    "max_bytes=",
    "10MB",
    "%",
    "%zz",
    "%41",
    "wasm:///s.wasm",
    "tcp://",
    "127.0.0.1:",
    "0",
    "ws://u:p@h/",
    "stdout://",
    "relay://",
    "mmap://",
    "=",
    "::",
    "\u{0}",
    "é",
    "rotating-file://",
    "max_files=",
    "-1",
];

fn pieces(from: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(from), 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_toml_loader_never_panics(text in prop_oneof![pieces(TOML_PIECES), any::<String>()]) {
        let registry = SinkRegistry::builtin();
        let _ = ConfigLoader::new(&registry)
            .toml(&text, "fuzz.toml", Path::new("/nonexistent"))
            .load();
    }

    #[test]
    fn sink_uris_never_panic(uri in prop_oneof![pieces(URI_PIECES), any::<String>()]) {
        let registry = SinkRegistry::builtin();
        let _ = ConfigLoader::new(&registry).cli_sink(uri.clone()).load();
        let _ = ConfigLoader::new(&registry)
            .env_vars([("SINKBOX_SINKS".to_owned(), uri.clone())])
            .load();
        let _ = sinkbox::config::redact_uri(&uri);
    }

    #[test]
    fn cli_overrides_never_panic(set in "[a-z._=\\x00-\\x7f]{0,40}") {
        let registry = SinkRegistry::builtin();
        let _ = ConfigLoader::new(&registry)
            .cli_sink("stdout://?name=out")
            .cli_set(set)
            .load();
    }

    #[test]
    fn guest_text_is_always_bounded_and_escaped(text in any::<String>(), repeat in 1usize..2000) {
        let text = text.repeat(repeat);
        let lifted = sinkbox::wasm::lift_guest_text(&text);
        prop_assert!(lifted.len() <= sinkbox::wasm::MAX_GUEST_TEXT_BYTES + 40);
        prop_assert!(!lifted.chars().any(|c| c.is_control()));
    }

    #[test]
    fn sink_names_are_checked_without_panicking(name in any::<String>()) {
        let ok = sinkbox::sink_name::check_sink_name(&name).is_ok();
        prop_assert_eq!(
            ok,
            !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('.')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        );
    }
}

/// One pipeline for the NDJSON reader, with a sink that checks the framing.
struct FramingSink;

impl sinkbox::Sink for FramingSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        assert_eq!(batch.records().count(), batch.len() as usize);
        for record in batch.records() {
            serde_json::from_slice::<serde_json::Value>(record).expect("every record is JSON");
        }
        sinkbox::WriteOutcome::Accepted
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_ndjson_reader_accepts_json_and_refuses_the_rest(
        lines in prop::collection::vec(
            prop_oneof![
                any::<Vec<u8>>(),
                "[\\[\\]{}\":,0-9a-z \\n\\r\\t\\\\]{0,40}".prop_map(String::into_bytes),
                Just(br#"{"a":[1,{"b":"\u0000\n"}],"c":1e308}"#.to_vec()),
            ],
            1..20,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = sinkbox::Pipeline::builder()
            .data_dir(dir.path())
            .sink("framing", FramingSink)
            .build()
            .unwrap();
        let mut accepted = 0u64;
        for line in &lines {
            if pipeline.emit_json(line).is_ok() {
                accepted += 1;
            }
        }
        let stats = pipeline.shutdown();
        prop_assert_eq!(stats[0].records, accepted);
        prop_assert_eq!(stats[0].errors.total(), 0);
    }
}

proptest! {
    // Each case compiles a component: a sixteenth of the other targets' cases.
    #![proptest_config(ProptestConfig { cases: (cases() / 16).clamp(8, 2000), ..config() })]

    #[test]
    fn inspect_never_panics_on_mutated_component_bytes(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let original = std::fs::read(crate::support::guest("count-sink")).unwrap();
        let mut bytes = original.clone();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutated.wasm");
        std::fs::write(&path, &bytes).unwrap();
        // No compile cache: mutated components must not fill it.
        static ENGINE: std::sync::OnceLock<sinkbox::wasm::WasmEngine> = std::sync::OnceLock::new();
        let engine = ENGINE.get_or_init(|| sinkbox::wasm::WasmEngine::new(None).unwrap());
        let _ = sinkbox::wasm::inspect_component(engine, &path);
    }
}

/// The two HTTP sources, started once for every case, with small limits,
/// feeding a sink that checks each record is JSON.
fn fuzzed_sources() -> &'static (
    sinkbox::sources::RunningSource,
    sinkbox::sources::RunningSource,
) {
    static SOURCES: std::sync::OnceLock<(
        sinkbox::sources::RunningSource,
        sinkbox::sources::RunningSource,
    )> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let pipeline = sinkbox::Pipeline::builder()
            .data_dir(dir)
            .sink("framing", FramingSink)
            .build()
            .unwrap();
        let mut json = sinkbox::sources::HttpServerOptions::new("127.0.0.1:0".parse().unwrap());
        json.max_body_bytes = 64 << 10;
        json.max_records = 100;
        let mut otlp =
            sinkbox::sources::otlp::OtlpSourceOptions::new("127.0.0.1:0".parse().unwrap());
        otlp.server.max_body_bytes = 64 << 10;
        otlp.server.max_records = 100;
        (
            sinkbox::sources::http_server::start("json", pipeline.clone(), json).unwrap(),
            sinkbox::sources::otlp::start("otlp", pipeline, otlp).unwrap(),
        )
    })
}

/// A valid OTLP logs request, to be mutated.
fn otlp_request() -> Vec<u8> {
    use crate::otlp_receiver::proto;
    use prost::Message;
    let text = |s: &str| {
        Some(proto::AnyValue {
            value: Some(proto::Value::S(s.into())),
        })
    };
    proto::ExportLogsServiceRequest {
        resource_logs: vec![proto::ResourceLogs {
            resource: Some(proto::Resource {
                attributes: vec![proto::KeyValue {
                    key: "service.name".into(),
                    value: text("fuzz"),
                }],
                ..Default::default()
            }),
            scope_logs: vec![proto::ScopeLogs {
                log_records: vec![
                    proto::LogRecord {
                        time_unix_nano: 1_764_583_200_000_000_000,
                        severity_text: "INFO".into(),
                        body: text("hello"),
                        trace_id: vec![7; 16],
                        ..Default::default()
                    };
                    3
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a client sends, a source answers 200 or a 4xx with a
    /// bounded body, and stays up (a decoder's panic would be a 503).
    #[test]
    fn sources_answer_any_body_with_a_bounded_answer(
        otlp in any::<bool>(),
        content_type in prop::sample::select(vec![
            "application/x-protobuf", "application/json", "application/x-ndjson", "text/plain",
        ]),
        encoding in prop::sample::select(vec![None, Some("gzip"), Some("zstd"), Some("br")]),
        body in prop_oneof![
            any::<Vec<u8>>(),
            "[\\[\\]{}\":,0-9a-zA-Z \\n]{0,200}".prop_map(String::into_bytes),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8).prop_map(|flips| {
                let mut bytes = otlp_request();
                for (at, value) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                bytes
            }),
        ],
        compress in any::<bool>(),
    ) {
        use std::io::Write;
        let (json_source, otlp_source) = fuzzed_sources();
        let (source, path) = if otlp { (otlp_source, "/v1/logs") } else { (json_source, "/") };
        let body = match (encoding, compress) {
            (Some("gzip"), true) => {
                let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gzip.write_all(&body).unwrap();
                gzip.finish().unwrap()
            }
            (Some("zstd"), true) => zstd::encode_all(&body[..], 1).unwrap(),
            _ => body,
        };
        static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
        let client = CLIENT.get_or_init(reqwest::blocking::Client::new);
        let mut request = client
            .post(format!("http://{}{path}", source.local_addr()))
            .header("content-type", content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let answer = response.bytes().unwrap();
        prop_assert!([200, 400, 413, 415].contains(&status), "status {}", status);
        prop_assert!(answer.len() <= 2048, "an answer of {} bytes", answer.len());
    }
}
