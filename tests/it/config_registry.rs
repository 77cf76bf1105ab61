//! The sink registry: an embedder's own type in a few lines, collisions,
//! declared defaults, and the catalog that docs/sinks.md must match.

use std::path::Path;
use std::sync::{Arc, Mutex};

use sinkbox::config::{COMMON_OPTIONS, ConfigLoader, build_pipeline_with};
use sinkbox::registry::{
    OptionKind, OptionSpec, RegistryError, SinkRegistry, SinkType, UriForm, UriTarget,
    options_markdown, type_markdown,
};
use sinkbox::{Batch, Sink, SinkError, WriteOutcome};

/// Keeps every record with its prefix, in memory.
struct Prefixer {
    prefix: String,
    out: Arc<Mutex<Vec<String>>>,
}

impl Sink for Prefixer {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let mut out = self.out.lock().unwrap();
        for record in batch.records() {
            out.push(format!(
                "{}{}",
                self.prefix,
                String::from_utf8_lossy(record)
            ));
        }
        WriteOutcome::Accepted
    }
}

fn prefixer(out: Arc<Mutex<Vec<String>>>) -> SinkType {
    SinkType::new(
        "prefixer",
        "keeps records with a prefix",
        move |options, _context| {
            Ok(Box::new(Prefixer {
                prefix: options.require_string("prefix")?,
                out: out.clone(),
            }))
        },
    )
    .option(
        OptionSpec::new("prefix", OptionKind::String)
            .default("> ")
            .help("put before each record"),
    )
    .uri(UriForm {
        schemes: &["prefixer"],
        target: UriTarget::Nothing,
        rest_into: None,
    })
}

#[test]
fn an_embedder_registers_its_own_type_and_configures_it_like_a_builtin() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut registry = SinkRegistry::builtin();
    registry.register(prefixer(out.clone())).unwrap();
    let config = ConfigLoader::new(&registry)
        .toml(
            "[sinks.mine]\ntype = \"prefixer\"\nprefix = \"[app] \"\n",
            "test.toml",
            Path::new("/tmp"),
        )
        .cli_sink("prefixer://?name=uri")
        .load()
        .unwrap();
    let pipeline = build_pipeline_with(&config, &registry).unwrap();
    pipeline.emit_json(br#"{"i":1}"#).unwrap();
    pipeline.shutdown();
    let mut lines = out.lock().unwrap().clone();
    lines.sort();
    assert_eq!(
        lines,
        [r#"> {"i":1}"#, r#"[app] {"i":1}"#],
        "the default applies to the URI sink"
    );

    let message = ConfigLoader::new(&registry)
        .toml(
            "[sinks.mine]\ntype = \"prefixer\"\nprefx = \"x\"\n",
            "test.toml",
            Path::new("/tmp"),
        )
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("test.toml:3: sinks.mine.prefx: unknown option `prefx` for a `prefixer` sink (did you mean `prefix`?); its options are prefix;"),
        "{message}"
    );
}

#[test]
fn a_name_scheme_or_option_collision_is_an_error() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut registry = SinkRegistry::builtin();
    let file = SinkType::new("file", "another file", |_, _| unreachable!());
    assert_eq!(
        registry.register(file).unwrap_err(),
        RegistryError::NameTaken("file".into())
    );
    assert_eq!(
        registry
            .register(SinkType::new("file", "x", |_, _| unreachable!()))
            .unwrap_err()
            .to_string(),
        "a sink type named `file` is already registered; choose another name"
    );
    let tcp = SinkType::new("mytcp", "x", |_, _| unreachable!()).uri(UriForm {
        schemes: &["tcp"],
        target: UriTarget::Nothing,
        rest_into: None,
    });
    assert_eq!(
        registry.register(tcp).unwrap_err().to_string(),
        "the URI scheme `tcp://` of `mytcp` is already used by `direct`"
    );
    let clash = SinkType::new("clash", "x", |_, _| unreachable!())
        .option(OptionSpec::new("max_retries", OptionKind::Integer));
    assert!(matches!(
        registry.register(clash).unwrap_err(),
        RegistryError::DuplicateOption { .. }
    ));
    registry.register(prefixer(out.clone())).unwrap();
    assert_eq!(
        registry.register(prefixer(out)).unwrap_err(),
        RegistryError::NameTaken("prefixer".into())
    );
}

#[test]
fn every_declared_default_parses() {
    let registry = SinkRegistry::builtin();
    for sink_type in registry.types() {
        for spec in sink_type.option_specs() {
            spec.check_default()
                .unwrap_or_else(|e| panic!("`{}`: {e}", sink_type.name()));
            assert!(
                !spec.help.is_empty(),
                "`{}.{}` has no help",
                sink_type.name(),
                spec.name
            );
        }
    }
    for spec in COMMON_OPTIONS {
        spec.check_default().unwrap();
    }
    let retry = sinkbox::pipeline::RetryPolicy::default();
    let declared = |name: &str| {
        COMMON_OPTIONS
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .default
    };
    // Neither retry limit has a fixed default: unset means "the retry
    // window decides", and the window depends on the buffer.
    assert_eq!((declared("max_retries"), retry.max_retries), (None, None));
    assert_eq!(
        (declared("max_retry_duration"), retry.max_retry_duration),
        (None, None)
    );
    assert_eq!(
        declared("max_restarts"),
        Some(retry.max_restarts.to_string().as_str())
    );
    assert_eq!(
        declared("queue_capacity"),
        Some(
            sinkbox::pipeline::DEFAULT_QUEUE_CAPACITY
                .to_string()
                .as_str()
        )
    );
}

/// The text between `<!-- options:NAME -->` and `<!-- /options -->`.
fn docs_table<'a>(docs: &'a str, name: &str) -> Option<&'a str> {
    let start_marker = format!("<!-- options:{name} -->\n");
    let start = docs.find(&start_marker)? + start_marker.len();
    let end = docs[start..].find("<!-- /options -->")? + start;
    Some(&docs[start..end])
}

#[test]
fn the_option_tables_in_docs_sinks_md_match_the_catalog() {
    let docs =
        std::fs::read_to_string(crate::support::workspace_root().join("docs/sinks.md")).unwrap();
    let registry = SinkRegistry::builtin();
    let mut stale = Vec::new();
    for sink_type in registry.types() {
        let expected = type_markdown(sink_type);
        if docs_table(&docs, sink_type.name()) != Some(expected.as_str()) {
            stale.push(format!(
                "<!-- options:{} -->\n{expected}<!-- /options -->",
                sink_type.name()
            ));
        }
    }
    let common = options_markdown(COMMON_OPTIONS);
    if docs_table(&docs, "every-sink") != Some(common.as_str()) {
        stale.push(format!(
            "<!-- options:every-sink -->\n{common}<!-- /options -->"
        ));
    }
    assert!(
        stale.is_empty(),
        "docs/sinks.md is out of date with the registry (`sinkbox sinks --markdown` prints it); replace these blocks:\n\n{}",
        stale.join("\n\n")
    );
}
