//! Parsing the TOML config: every form, and every error message.

use std::path::Path;
use std::time::Duration;

use sinkbox::config::{Config, ConfigError, SinkKind};
use sinkbox::pipeline::OverflowPolicy;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", Path::new("/etc/sinkbox"))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_full_config_parses_with_paths_resolved_against_the_file() {
    let config = parse(
        r#"
        [runtime]
        data_dir = "state"
        cache_dir = "/var/cache/sinkbox"
        [runtime.batch]
        max_records = 500
        max_bytes = "256KiB"
        timeout = "50ms"

        [sinks.console]
        type = "stdout"

        [sinks.applog]
        type = "file"
        path = "logs/app.ndjson"
        sync_on_flush = false
        overflow = "drop_oldest"
        queue_capacity = 8
        max_retries = 7
        initial_backoff = "10ms"
        max_backoff = "1s"
        max_restarts = 1

        [sinks.errors]
        type = "wasm"
        component = "sinks/filter.wasm"
        memory_limit = "16MiB"
        call_timeout = "500ms"
        grant = { path = "/srv/out", guest_path = "/out", read_only = true }
        config = { min_level = "error", sample = 10, enabled = true }
        "#,
    )
    .unwrap();
    assert_eq!(config.runtime.data_dir, Path::new("/etc/sinkbox/state"));
    assert_eq!(
        config.runtime.cache_dir.as_deref(),
        Some(Path::new("/var/cache/sinkbox"))
    );
    assert_eq!(config.runtime.batch.max_records, 500);
    assert_eq!(config.runtime.batch.max_bytes, 256 * 1024);
    assert_eq!(config.runtime.batch.timeout, Duration::from_millis(50));

    let names: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["console", "applog", "errors"], "file order is kept");

    let applog = &config.sinks[1];
    assert_eq!(applog.overflow, OverflowPolicy::DropOldest);
    assert_eq!(applog.queue_capacity, 8);
    assert_eq!(applog.retry.max_retries, 7);
    assert_eq!(applog.retry.initial_backoff, Duration::from_millis(10));
    assert_eq!(applog.retry.max_backoff, Duration::from_secs(1));
    assert_eq!(applog.retry.max_restarts, 1);
    let SinkKind::File(file) = &applog.kind else {
        panic!()
    };
    assert_eq!(file.path, Path::new("/etc/sinkbox/logs/app.ndjson"));
    assert!(!file.sync_on_flush);

    let SinkKind::Wasm(wasm) = &config.sinks[2].kind else {
        panic!()
    };
    assert_eq!(wasm.component, Path::new("/etc/sinkbox/sinks/filter.wasm"));
    assert_eq!(wasm.memory_limit, 16 * 1024 * 1024);
    assert_eq!(wasm.call_timeout, Duration::from_millis(500));
    let grant = wasm.grant.as_ref().unwrap();
    assert_eq!(
        (
            grant.host_path.as_path(),
            grant.guest_path.as_str(),
            grant.read_only
        ),
        (Path::new("/srv/out"), "/out", true)
    );
    assert_eq!(
        wasm.config,
        vec![
            ("min_level".to_owned(), "error".to_owned()),
            ("sample".to_owned(), "10".to_owned()),
            ("enabled".to_owned(), "true".to_owned()),
        ]
    );
}

#[test]
fn defaults_apply_when_options_are_left_out() {
    let config = parse("[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\n").unwrap();
    assert_eq!(
        config.runtime.data_dir,
        Path::new("/etc/sinkbox/sinkbox-data")
    );
    assert_eq!(config.runtime.batch.max_records, 1024);
    let sink = &config.sinks[0];
    assert_eq!(sink.queue_capacity, 64);
    assert_eq!(sink.overflow, OverflowPolicy::Block);
    assert_eq!(sink.retry.max_retries, 5);
    let SinkKind::Wasm(wasm) = &sink.kind else {
        panic!()
    };
    assert_eq!(wasm.memory_limit, 64 * 1024 * 1024);
    assert_eq!(wasm.call_timeout, Duration::from_secs(2));
    assert!(wasm.grant.is_none());
}

#[test]
fn an_unknown_type_lists_the_known_ones_with_a_suggestion() {
    assert_eq!(
        error("[sinks.console]\ntype = \"stdot\"\n"),
        "test.toml: sinks.console.type: unknown sink type `stdot`; known types: `stdout`, `stdout_pretty`, `file`, `rotating_file`, `mmap`, `direct`, `relay`, `wasm` (did you mean `stdout`?)"
    );
}

#[test]
fn a_missing_type_says_what_to_add() {
    assert_eq!(
        error("[sinks.console]\npath = \"x\"\n"),
        "test.toml: sinks.console.type: missing; every sink needs `type = \"...\"`, one of `stdout`, `stdout_pretty`, `file`, `rotating_file`, `mmap`, `direct`, `relay`, `wasm`"
    );
}

#[test]
fn an_unknown_option_lists_the_valid_ones() {
    let message = error("[sinks.applog]\ntype = \"file\"\npath = \"a\"\nmax_bytes = 10\n");
    assert_eq!(
        message,
        "test.toml: sinks.applog.max_bytes: unknown field `max_bytes`, expected `path` or `sync_on_flush`; every sink also accepts type, queue_capacity, overflow, max_retries, initial_backoff, max_backoff, max_restarts"
    );
}

#[test]
fn a_wrong_value_names_the_field_and_the_expected_form() {
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\nmemory_limit = \"lots\"\n"),
        "test.toml: sinks.w.memory_limit: `lots` is not a size; write a number of bytes or a number with a unit such as \"64MiB\", \"10 MB\" or \"512KiB\""
    );
    let message = error("[sinks.a]\ntype = \"stdout\"\noverflow = \"drop\"\n");
    assert!(message.starts_with("test.toml: sinks.a.overflow: unknown variant `drop`, expected one of `block`, `drop_newest`, `drop_oldest`"), "{message}");
    let message = error("[runtime.batch]\ntimeout = \"soon\"\n[sinks.a]\ntype = \"stdout\"\n");
    assert!(
        message.starts_with("test.toml: runtime.batch.timeout: "),
        "{message}"
    );
    assert_eq!(
        error(
            "[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\nconfig = { nested = { a = 1 } }\n"
        ),
        "test.toml: sinks.w.config.nested: expected a string, number or boolean; a sink's config is flat key/value pairs"
    );
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\ncall_timeout = \"0s\"\n"),
        "test.toml: sinks.w.call_timeout: must be more than zero, such as \"2s\""
    );
    assert!(error("[sinks.w]\ntype = \"wasm\"\n").contains("sinks.w: missing field `component`"));
}

#[test]
fn structural_mistakes_are_explained() {
    let message = error("[sinks.a\ntype = 1");
    assert!(
        message.starts_with("test.toml: TOML parse error at line 1"),
        "{message}"
    );
    assert!(error("").contains("no sinks are configured"));
    assert_eq!(
        error("[sink.a]\ntype = \"stdout\"\n"),
        "test.toml: sink: unknown top-level table; expected `runtime` or `sinks`"
    );
    assert!(
        error("[runtime]\ndatadir = \"x\"\n[sinks.a]\ntype = \"stdout\"\n")
            .contains("runtime.datadir: unknown field `datadir`")
    );
}

#[test]
fn native_sink_types_parse_their_options() {
    let config = parse(
        r#"
        [sinks.pretty]
        type = "stdout_pretty"
        color = "always"

        [sinks.rolling]
        type = "rotating_file"
        path = "logs/app.log"
        max_bytes = "10 MB"
        interval = "daily"
        max_files = 3
        compress = true
        mode = "text"

        [sinks.hourly]
        type = "rotating_file"
        path = "h.log"
        interval = 3600

        [sinks.mapped]
        type = "mmap"
        path = "m.ndjson"
        initial_size = "1MiB"
        growth_factor = 1.5
        sync = "4MiB"
        "#,
    )
    .unwrap();
    let SinkKind::StdoutPretty(pretty) = &config.sinks[0].kind else {
        panic!()
    };
    assert_eq!(pretty.color, sinkbox::sinks::ColourChoice::Always);
    let SinkKind::RotatingFile(rolling) = &config.sinks[1].kind else {
        panic!()
    };
    assert_eq!(rolling.path, Path::new("/etc/sinkbox/logs/app.log"));
    assert_eq!(rolling.max_bytes, Some(10_000_000));
    assert_eq!(rolling.interval, Some(Duration::from_secs(86_400)));
    assert_eq!((rolling.max_files, rolling.compress), (3, true));
    assert_eq!(rolling.mode, sinkbox::sinks::FileMode::Text);
    let SinkKind::RotatingFile(hourly) = &config.sinks[2].kind else {
        panic!()
    };
    assert_eq!(
        (hourly.interval, hourly.max_bytes),
        (Some(Duration::from_secs(3600)), None)
    );
    let SinkKind::Mmap(mapped) = &config.sinks[3].kind else {
        panic!()
    };
    assert_eq!(mapped.initial_size, 1024 * 1024);
    assert_eq!(
        mapped.sync,
        sinkbox::sinks::SyncPolicy::EveryBytes(4 * 1024 * 1024)
    );
}

#[test]
fn native_sink_option_errors_say_what_is_expected() {
    assert_eq!(
        error("[sinks.r]\ntype = \"rotating_file\"\npath = \"a.log\"\n"),
        "test.toml: sinks.r: set `max_bytes`, `interval`, or both; without either the file never rotates (use the `file` sink for that)"
    );
    assert_eq!(
        error("[sinks.r]\ntype = \"rotating_file\"\npath = \"a.log\"\ninterval = \"weekly\"\n"),
        "test.toml: sinks.r.interval: `weekly` is not an interval; expected \"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\""
    );
    assert_eq!(
        error("[sinks.m]\ntype = \"mmap\"\npath = \"m\"\nsync = \"always\"\n"),
        "test.toml: sinks.m.sync: `always` is not a sync policy; use \"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)"
    );
    assert!(
        error("[sinks.p]\ntype = \"stdout_pretty\"\ncolor = \"rainbow\"\n").contains(
            "sinks.p.color: unknown variant `rainbow`, expected one of `auto`, `always`, `never`"
        )
    );
}
