//! The `route` composite and `when` in configurations: rules in order, a
//! default or none (unrouted records counted), `mode = "all"`, `when` on a
//! fanout's targets, and pointed errors for bad conditions.

use crate::support::{numbers, read_lines, toml_pipeline};

fn emit_levels(pipeline: &sinkbox::Pipeline, n: usize) {
    let levels = ["debug", "info", "warn", "error"];
    for i in 0..n {
        pipeline
            .emit(&serde_json::json!({"i": i, "level": levels[i % 4], "audit": i % 5 == 0}))
            .unwrap();
    }
}

const ROUTE: &str = r#"
[runtime.batch]
max_records = 16
timeout = "1h"
[sinks.router]
type = "route"
rules = [
  { when = 'level >= "error"', targets = ["errors"] },
  { when = 'audit == true', targets = ["audit", "errors"] },
]
DEFAULT
[sinks.errors]
type = "file"
path = "errors.ndjson"
[sinks.audit]
type = "file"
path = "audit.ndjson"
[sinks.rest]
type = "file"
path = "rest.ndjson"
"#;

fn route(dir: &std::path::Path, default: &str) -> sinkbox::Pipeline {
    toml_pipeline(dir, &ROUTE.replace("DEFAULT", default))
}

#[test]
fn first_match_sends_each_record_to_the_first_rule_that_takes_it_and_the_rest_to_default() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = route(dir.path(), "default = \"rest\"\nmode = \"first_match\"");
    emit_levels(&pipeline, 200);
    let stats = pipeline.shutdown();
    let lines = |f: &str| numbers(&read_lines(&dir.path().join(f)));
    let errors: Vec<usize> = (0..200).filter(|i| i % 4 == 3 || i % 5 == 0).collect();
    let audit: Vec<usize> = (0..200).filter(|i| i % 4 != 3 && i % 5 == 0).collect();
    let rest: Vec<usize> = (0..200).filter(|i| i % 4 != 3 && i % 5 != 0).collect();
    assert_eq!(lines("errors.ndjson"), errors);
    assert_eq!(lines("audit.ndjson"), audit);
    assert_eq!(lines("rest.ndjson"), rest);
    let router = stats.iter().find(|s| s.name == "router").unwrap();
    assert_eq!(router.unrouted, 0);
    assert_eq!(
        router.routed,
        vec![
            ("errors".to_owned(), errors.len() as u64),
            ("audit".to_owned(), audit.len() as u64),
            ("rest".to_owned(), rest.len() as u64),
        ]
    );
}

#[test]
fn mode_all_sends_a_record_to_every_rule_that_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = route(dir.path(), "default = \"rest\"\nmode = \"all\"");
    emit_levels(&pipeline, 100);
    pipeline.shutdown();
    let lines = |f: &str| numbers(&read_lines(&dir.path().join(f)));
    // An audited error is in both rules; `errors` still gets it once.
    assert_eq!(
        lines("errors.ndjson"),
        (0..100)
            .filter(|i| i % 4 == 3 || i % 5 == 0)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        lines("audit.ndjson"),
        (0..100).filter(|i| i % 5 == 0).collect::<Vec<_>>()
    );
}

#[test]
fn without_a_default_unrouted_records_are_counted_and_drop_says_so_on_purpose() {
    for default in ["", "default = \"drop\""] {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = route(dir.path(), default);
        emit_levels(&pipeline, 100);
        let stats = pipeline.shutdown();
        let router = stats.iter().find(|s| s.name == "router").unwrap();
        let unrouted = (0..100).filter(|i| i % 4 != 3 && i % 5 != 0).count() as u64;
        assert_eq!(router.unrouted, unrouted, "{default}");
        // `rest` is no route target here, so it is a top-level sink of its own.
        assert_eq!(
            stats.iter().find(|s| s.name == "rest").unwrap().records,
            100
        );
    }
}

#[test]
fn a_fanout_target_with_a_when_takes_only_what_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = toml_pipeline(
        dir.path(),
        r#"
[runtime.batch]
max_records = 16
timeout = "1h"
[sinks.both]
type = "composite"
pattern = "fanout"
targets = ["everything", "loud"]
[sinks.everything]
type = "file"
path = "everything.ndjson"
[sinks.loud]
type = "file"
path = "loud.ndjson"
when = 'level in ["warn", "error"]'
"#,
    );
    emit_levels(&pipeline, 40);
    pipeline.shutdown();
    let lines = |f: &str| numbers(&read_lines(&dir.path().join(f)));
    assert_eq!(lines("everything.ndjson"), (0..40).collect::<Vec<_>>());
    assert_eq!(
        lines("loud.ndjson"),
        (0..40).filter(|i| i % 4 >= 2).collect::<Vec<_>>()
    );
}

fn config_error(toml: &str) -> String {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let result = sinkbox::config::ConfigLoader::new(&registry)
        .toml(toml, "t.toml", dir.path())
        .load()
        .and_then(|config| config.check(&registry).map(|_| config));
    result.expect_err("the config must be refused").to_string()
}

#[test]
fn bad_conditions_and_rules_are_pointed_config_errors() {
    let e = config_error("[sinks.a]\ntype = \"stdout\"\nwhen = 'level >= \"warm\"'\n");
    assert!(
        e.starts_with(
            "t.toml:3: sinks.a.when: `>=` compares numbers or levels, and \"warm\" is not a level"
        ),
        "{e}"
    );
    assert!(e.contains("for example: level >= \"warn\""), "{e}");
    let e = config_error(
        "[sinks.r]\ntype = \"route\"\nrules = [{ when = 'a == 1', targets = [\"x\"] }, { when = 'b = 2', targets = [\"x\"] }]\n[sinks.x]\ntype = \"stdout\"\n",
    );
    assert!(
        e.contains("sinks.r.rules: rule 2: `when`: `=` is not a test; compare with `==`"),
        "{e}"
    );
    let e = config_error(
        "[sinks.r]\ntype = \"route\"\nrules = [{ when = 'a == 1', targets = [\"nope\"] }]\n[sinks.x]\ntype = \"stdout\"\n",
    );
    assert!(
        e.contains("sinks.r.rules: `nope` is not a configured sink"),
        "{e}"
    );
    let e = config_error("[sinks.r]\ntype = \"route\"\nrules = [{ when = 'a == 1' }]\n");
    assert!(e.contains("rule 1: `targets` must name one sink"), "{e}");
    let e = config_error(
        "[sinks.rr]\ntype = \"composite\"\npattern = \"round_robin\"\ntargets = [\"a\", \"b\"]\n[sinks.a]\ntype = \"stdout\"\nwhen = 'x == 1'\n[sinks.b]\ntype = \"stdout\"\n",
    );
    assert!(
        e.contains(
            "target `a` has a `when` condition, but `round_robin` hands each batch to one target"
        ),
        "{e}"
    );
    let e = config_error(
        "[sinks.r]\ntype = \"route\"\nrules = [{ when = 'a == 1', targets = [\"r\"] }]\n",
    );
    assert!(e.contains("composite cycle"), "{e}");
}

/// A registry with a `recording` type whose every instance records into
/// `recorder` (the batches' numbers tell renumbering apart).
fn recording_registry(recorder: &crate::support::Recorder) -> sinkbox::registry::SinkRegistry {
    let mut registry = sinkbox::registry::SinkRegistry::builtin();
    let recorder = recorder.clone();
    registry
        .register(sinkbox::registry::SinkType::new(
            "recording",
            "records what it gets",
            move |_options, _context| Ok(Box::new(crate::support::RecordingSink::new(&recorder))),
        ))
        .unwrap();
    registry
}

#[test]
fn a_route_target_numbers_what_it_gets_and_a_rebuilt_route_never_repeats_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = crate::support::Recorder::default();
    let registry = recording_registry(&recorder);
    let config = |rules: &str| {
        sinkbox::config::ConfigLoader::new(&registry)
            .toml(
                &format!(
                    "[runtime.batch]\nmax_records = 10\ntimeout = \"1h\"\n\
                     [sinks.router]\ntype = \"route\"\nrules = [{rules}]\ndefault = \"drop\"\n\
                     [sinks.t]\ntype = \"recording\"\n"
                ),
                "t.toml",
                dir.path(),
            )
            .load()
            .unwrap()
    };
    let pipeline = sinkbox::config::build_pipeline_with(
        &config("{ when = 'i >= 3', targets = \"t\" }"),
        &registry,
    )
    .unwrap();
    for i in 0..40 {
        pipeline.emit(&serde_json::json!({ "i": i % 10 })).unwrap();
    }
    pipeline.flush(std::time::Duration::from_secs(30));
    // A rule more: the route (and its target lane) is rebuilt.
    let report = pipeline
        .reload_config(
            config("{ when = 'i >= 3', targets = \"t\" }, { when = 'i == 0', targets = \"t\" }"),
            &registry,
        )
        .unwrap();
    assert_eq!(report.changed, vec!["router".to_owned()]);
    for i in 0..40 {
        pipeline.emit(&serde_json::json!({ "i": i % 10 })).unwrap();
    }
    pipeline.shutdown();
    // Every batch numbered on from the last, across the rebuild: no repeats.
    let batches = recorder.batches.lock().unwrap().clone();
    let mut next = 0;
    for (first, len) in &batches {
        assert_eq!(*first, next, "{batches:?}");
        next += u64::from(*len);
    }
    assert_eq!(next, 4 * 7 + 4 * 8);
}

/// Every condition written in the docs' TOML examples parses (the routing
/// guide cannot drift from the parser).
#[test]
fn every_condition_in_the_docs_parses() {
    let root = crate::support::workspace_root();
    let mut checked = 0;
    for doc in ["docs/configuration.md", "docs/sinks.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for block in text.split("```toml\n").skip(1) {
            let body = &block[..block.find("```").unwrap()];
            let value: toml::Table =
                toml::from_str(body).unwrap_or_else(|e| panic!("{doc}: {e}\n{body}"));
            let Some(toml::Value::Table(sinks)) = value.get("sinks") else {
                continue;
            };
            for (name, sink) in sinks {
                let mut conditions: Vec<&str> = sink
                    .get("when")
                    .and_then(|w| w.as_str())
                    .into_iter()
                    .collect();
                if let Some(toml::Value::Array(rules)) = sink.get("rules") {
                    conditions.extend(rules.iter().filter_map(|r| r.get("when")?.as_str()));
                }
                for condition in conditions {
                    sinkbox::Condition::parse(condition)
                        .unwrap_or_else(|e| panic!("{doc}: sinks.{name}: {e}"));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 6, "only {checked} conditions found in the docs");
}
