//! The source types as users find them: `sinkbox sources` and the option
//! tables in `docs/sources.md` (kept identical), declared defaults that
//! parse, and `--source URI` on the command line.

use sinkbox::config::ConfigLoader;
use sinkbox::registry::{SinkRegistry, options_markdown};
use sinkbox::sources::{AckMode, SourceKind, source_types};

/// The text between `<!-- source-options:NAME -->` and `<!-- /options -->`.
fn docs_table<'a>(docs: &'a str, name: &str) -> Option<&'a str> {
    let start_marker = format!("<!-- source-options:{name} -->\n");
    let start = docs.find(&start_marker)? + start_marker.len();
    let end = docs[start..].find("<!-- /options -->")? + start;
    Some(&docs[start..end])
}

#[test]
fn the_option_tables_in_docs_sources_md_match_the_catalog() {
    let docs =
        std::fs::read_to_string(crate::support::workspace_root().join("docs/sources.md")).unwrap();
    let mut stale = Vec::new();
    for source_type in source_types() {
        let expected = options_markdown(source_type.option_specs());
        if docs_table(&docs, source_type.name()) != Some(expected.as_str()) {
            stale.push(format!(
                "<!-- source-options:{} -->\n{expected}<!-- /options -->",
                source_type.name()
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/sources.md is out of date with the source types (`sinkbox sources --markdown` prints them); replace these blocks:\n\n{}",
        stale.join("\n\n")
    );
}

#[test]
fn every_declared_default_parses_and_the_cli_lists_every_type() {
    for source_type in source_types() {
        for spec in source_type.option_specs() {
            spec.check_default()
                .unwrap_or_else(|e| panic!("{}: {e}", source_type.name()));
        }
    }
    let out = crate::support::sinkbox().arg("sources").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "http_server  (--source http://)",
        "otlp  (--source otlp://)",
        "max_body_bytes",
        "scope_field",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

fn load(uris: &[&str]) -> Result<sinkbox::Config, sinkbox::config::ConfigError> {
    let registry = SinkRegistry::builtin();
    let mut loader = ConfigLoader::new(&registry).cli_sink("stdout://");
    for uri in uris {
        loader = loader.cli_source(*uri);
    }
    loader.load()
}

#[test]
fn sources_are_given_as_uris_on_the_command_line() {
    let config = load(&[
        "http://127.0.0.1:8080/ingest?ack=received&max_records=500#edge",
        "otlp://0.0.0.0:4318?body_field=msg",
        "http://127.0.0.1:9090",
    ])
    .unwrap();
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["edge", "otlp", "http_server"]);
    let SourceKind::HttpServer(edge) = &config.sources[0].kind else {
        panic!("an http_server")
    };
    assert_eq!(edge.address.to_string(), "127.0.0.1:8080");
    assert_eq!(
        (edge.path.as_str(), edge.ack, edge.max_records),
        ("/ingest", AckMode::Received, 500)
    );
    let SourceKind::Otlp(otlp) = &config.sources[1].kind else {
        panic!("an otlp source")
    };
    assert_eq!(otlp.server.path, "/v1/logs");
    assert_eq!(otlp.mapping.body_field, "msg");
    assert_eq!(config.sources[2].kind.server().unwrap().path, "/");

    for (uris, says) in [
        (&["kafka://host:9092"][..], "unknown scheme `kafka`"),
        (&["http://127.0.0.1/ingest"][..], "with its port"),
        (
            &["http://127.0.0.1:1?acks=all"][..],
            "unknown option `acks`",
        ),
        (
            &["otlp://127.0.0.1:1?max_records=lots"][..],
            "`lots` is not valid here",
        ),
        (
            &["otlp://127.0.0.1:1?body_field=level"][..],
            "already the field of another part",
        ),
        (
            &["http://127.0.0.1:1", "http://127.0.0.1:2"][..],
            "name this one with a fragment",
        ),
        (&["not a uri"][..], "not a URI"),
    ] {
        let err = load(uris).unwrap_err().to_string();
        assert!(err.contains(says), "{uris:?}: {err}");
    }
    // `validate` shows what `--source` made.
    let out = crate::support::sinkbox()
        .args([
            "validate",
            "--sink",
            "stdout://",
            "--source",
            "otlp://127.0.0.1:4318#otel",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("otel (otlp source, http://127.0.0.1:4318/v1/logs, ack delivered)"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
