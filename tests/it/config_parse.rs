//! Parsing the TOML config: every form, and every error message.

use std::path::Path;
use std::time::Duration;

use sinkbox::config::{Config, ConfigError};
use sinkbox::pipeline::OverflowPolicy;
use sinkbox::registry::SinkRegistry;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", Path::new("/etc/sinkbox"))
}

/// The first error, whether found while parsing or while building the sinks
/// (as `sinkbox validate` does).
fn error(text: &str) -> String {
    match parse(text) {
        Err(err) => err.to_string(),
        Ok(config) => config
            .check(&SinkRegistry::builtin())
            .expect_err("expected an error")
            .to_string(),
    }
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
    assert_eq!(applog.settings.overflow, OverflowPolicy::DropOldest);
    assert_eq!(applog.settings.queue_capacity, 8);
    assert_eq!(applog.settings.retry.max_retries, Some(7));
    assert_eq!(
        applog.settings.retry.initial_backoff,
        Duration::from_millis(10)
    );
    assert_eq!(applog.settings.retry.max_backoff, Duration::from_secs(1));
    assert_eq!(applog.settings.retry.max_restarts, 1);
    assert_eq!(applog.type_name, "file");
    let file = &applog.options;
    assert_eq!(
        file.require_path("path").unwrap(),
        Path::new("/etc/sinkbox/logs/app.ndjson")
    );
    assert!(!file.bool("sync_on_flush").unwrap());

    let wasm = &config.sinks[2].options;
    assert_eq!(
        wasm.require_path("component").unwrap(),
        Path::new("/etc/sinkbox/sinks/filter.wasm")
    );
    assert_eq!(wasm.size("memory_limit").unwrap(), Some(16 * 1024 * 1024));
    assert_eq!(
        wasm.duration("call_timeout").unwrap(),
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        wasm.table("grant").unwrap(),
        [
            ("path".to_owned(), "/srv/out".to_owned()),
            ("guest_path".to_owned(), "/out".to_owned()),
            ("read_only".to_owned(), "true".to_owned()),
        ]
    );
    assert_eq!(
        wasm.table("config").unwrap(),
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
    assert_eq!(sink.settings.queue_capacity, 64);
    assert_eq!(sink.settings.overflow, OverflowPolicy::Block);
    // Unset: no count; the retry window decides.
    assert_eq!(sink.settings.retry.max_retries, None);
    assert_eq!(sink.settings.retry.max_retry_duration, None);
    let wasm = &sink.options;
    assert_eq!(wasm.size("memory_limit").unwrap(), Some(64 * 1024 * 1024));
    assert_eq!(
        wasm.duration("call_timeout").unwrap(),
        Some(Duration::from_secs(2))
    );
    assert!(!wasm.is_set("grant"));
    assert!(wasm.table("grant").unwrap().is_empty());
}

const KNOWN: &str = "`stdout`, `stdout_pretty`, `file`, `rotating_file`, `mmap`, `direct`, `relay`, `http`, `webhook`, `loki`, `otlp`, `postgres`, `nats`, `cloudwatch`, `wasm`, `composite`, `route`";

#[test]
fn an_unknown_type_lists_the_known_ones_with_a_suggestion_and_the_line() {
    assert_eq!(
        error("[sinks.console]\ntype = \"stdot\"\n"),
        format!(
            "test.toml:2: sinks.console.type: unknown sink type `stdot`; known types: {KNOWN} (did you mean `stdout`?)"
        )
    );
}

#[test]
fn a_missing_type_says_what_to_add() {
    assert_eq!(
        error("\n[sinks.console]\npath = \"x\"\n"),
        format!(
            "test.toml:2: sinks.console.type: missing; every sink needs `type = \"...\"`, one of {KNOWN}"
        )
    );
}

#[test]
fn an_unknown_option_lists_the_valid_ones_with_a_suggestion() {
    assert_eq!(
        error("[sinks.applog]\ntype = \"file\"\npath = \"a\"\nmax_byte = 10\n"),
        "test.toml:4: sinks.applog.max_byte: unknown option `max_byte` for a `file` sink (did you mean `max_bytes`?); its options are path, sync_on_flush, max_bytes, interval, max_files, compress, mode; every sink also accepts queue_capacity, overflow, max_retries, max_retry_duration, initial_backoff, max_backoff, max_restarts, dead_letter_max_bytes, optional, rollback_batches, buffer, when"
    );
    assert_eq!(
        error("[sinks.c]\ntype = \"stdout\"\ncolor = \"always\"\n"),
        "test.toml:3: sinks.c.color: unknown option `color` for a `stdout` sink; `stdout` has no options of its own; every sink also accepts queue_capacity, overflow, max_retries, max_retry_duration, initial_backoff, max_backoff, max_restarts, dead_letter_max_bytes, optional, rollback_batches, buffer, when"
    );
}

#[test]
fn a_wrong_value_names_the_field_and_the_expected_form() {
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\nmemory_limit = \"lots\"\n"),
        "test.toml:4: sinks.w.memory_limit: `lots` is not a size; write a number of bytes or a number with a unit such as \"64MiB\", \"10 MB\" or \"512KiB\""
    );
    assert_eq!(
        error("[sinks.a]\ntype = \"stdout\"\noverflow = \"drop_new\"\n"),
        "test.toml:3: sinks.a.overflow: `drop_new` is not one of `block`, `drop_newest`, `drop_oldest` (did you mean `drop_newest`?)"
    );
    assert_eq!(
        error("[sinks.a]\ntype = \"stdout\"\nqueue_capacity = \"many\"\n"),
        "test.toml:3: sinks.a.queue_capacity: `many` is not valid here; expected a whole number"
    );
    assert_eq!(
        error("[sinks.a]\ntype = \"file\"\npath = \"x\"\nsync_on_flush = 1\n"),
        "test.toml:4: sinks.a.sync_on_flush: expected true or false"
    );
    let message = error("[runtime.batch]\ntimeout = \"soon\"\n[sinks.a]\ntype = \"stdout\"\n");
    assert!(
        message.starts_with("test.toml:2: runtime.batch.timeout: "),
        "{message}"
    );
    assert_eq!(
        error(
            "[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\nconfig = { nested = { a = 1 } }\n"
        ),
        "test.toml:4: sinks.w.config: `nested`: expected a string, number or boolean; this table is flat key/value pairs"
    );
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\ncomponent = \"x.wasm\"\ncall_timeout = \"0s\"\n"),
        "test.toml:4: sinks.w.call_timeout: must be more than zero, such as \"2s\""
    );
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\n"),
        "test.toml:1: sinks.w.component: missing; a `wasm` sink needs `component` (a path): the sink component file (.wasm)"
    );
    assert_eq!(
        error("[sinks.w]\ntype = \"wasm\"\ncomponent = \"/nonexistent/x.wasm\"\n"),
        "test.toml:3: sinks.w.component: cannot read `/nonexistent/x.wasm`: No such file or directory (os error 2)"
    );
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
        "test.toml:1: sink: unknown top-level table; expected `runtime`, `secrets`, `sources` or `sinks`"
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

        [sinks.tcp]
        type = "direct"
        endpoint = "tcp://127.0.0.1:9000"
        connect_timeout = "1s"
        auto_reconnect = false
        max_connect_attempts = 3
        "#,
    )
    .unwrap();
    config.check(&SinkRegistry::builtin()).unwrap();
    let options = |i: usize| &config.sinks[i].options;
    assert_eq!(
        options(0).string("color").unwrap().as_deref(),
        Some("always")
    );
    let rolling = options(1);
    assert_eq!(
        rolling.require_path("path").unwrap(),
        Path::new("/etc/sinkbox/logs/app.log")
    );
    assert_eq!(rolling.size("max_bytes").unwrap(), Some(10_000_000));
    assert_eq!(
        rolling.string("interval").unwrap().as_deref(),
        Some("daily")
    );
    assert_eq!(rolling.integer("max_files").unwrap(), Some(3));
    assert!(rolling.bool("compress").unwrap());
    assert_eq!(rolling.string("mode").unwrap().as_deref(), Some("text"));
    assert_eq!(
        options(2).string("interval").unwrap().as_deref(),
        Some("3600")
    );
    assert_eq!(options(2).integer("max_files").unwrap(), Some(5), "default");
    assert_eq!(options(3).size("initial_size").unwrap(), Some(1024 * 1024));
    assert_eq!(options(3).float("growth_factor").unwrap(), Some(1.5));
    let tcp = options(4);
    assert_eq!(
        tcp.duration("connect_timeout").unwrap(),
        Some(Duration::from_secs(1))
    );
    assert!(!tcp.bool("auto_reconnect").unwrap());
    assert_eq!(tcp.integer("max_connect_attempts").unwrap(), Some(3));
    assert_eq!(
        tcp.duration("retry_delay").unwrap(),
        Some(Duration::from_millis(100)),
        "the shared connection options have their defaults"
    );
}

#[test]
fn native_sink_option_errors_say_what_is_expected() {
    assert_eq!(
        error("[sinks.r]\ntype = \"rotating_file\"\npath = \"a.log\"\n"),
        "test.toml:1: sinks.r: set `max_bytes`, `interval`, or both; without either the file never rotates (use the `file` sink for that)"
    );
    assert_eq!(
        error("[sinks.r]\ntype = \"rotating_file\"\npath = \"a.log\"\ninterval = \"weekly\"\n"),
        "test.toml:4: sinks.r.interval: `weekly` is not an interval; expected \"hourly\", \"daily\", a number of seconds, or a duration such as \"15m\""
    );
    assert_eq!(
        error("[sinks.m]\ntype = \"mmap\"\npath = \"m\"\nsync = \"always\"\n"),
        "test.toml:4: sinks.m.sync: `always` is not a sync policy; use \"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)"
    );
    assert_eq!(
        error("[sinks.p]\ntype = \"stdout_pretty\"\ncolor = \"rainbow\"\n"),
        "test.toml:3: sinks.p.color: `rainbow` is not one of `auto`, `always`, `never`"
    );
    assert_eq!(
        error("[sinks.d]\ntype = \"direct\"\nendpoint = \"udp://x:1\"\n"),
        "test.toml:3: sinks.d.endpoint: unknown scheme `udp` in `udp://x:1`; expected tcp://host:port, unix:///path/to/socket, ws://host:port/path or wss://host:port/path"
    );
    assert_eq!(
        error("[sinks.f]\ntype = \"file\"\npath = \"a\"\nmax_files = 3\n"),
        "test.toml:4: sinks.f.max_files: only applies when the file rotates; also set `max_bytes` or `interval`"
    );
}

#[test]
fn sink_names_follow_one_rule_in_toml_and_uris() {
    assert_eq!(
        error("[sinks.\"../x\"]\ntype = \"stdout\"\n"),
        "test.toml:1: sinks.../x: the sink name \"../x\" contains '/'; a name may hold only letters, digits, `_`, `-` and `.`, such as \"app_log-2\""
    );
    let long = "x".repeat(65);
    assert!(error(&format!("[sinks.{long}]\ntype = \"stdout\"\n")).contains("longer than 64"));
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let err = sinkbox::config::ConfigLoader::new(&registry)
        .cli_sink("stdout://?name=a%0Ab")
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`name=`") && err.contains("contains '\\n'"),
        "{err}"
    );
}

#[test]
fn a_sink_named_like_a_composite_target_lane_is_refused() {
    let err = error(
        "[sinks.fan]\ntype = \"composite\"\npattern = \"fanout\"\ntargets = [\"t\"]\n[sinks.t]\ntype = \"stdout\"\n[sinks.\"fan.t\"]\ntype = \"stdout\"\n",
    );
    assert!(
        err.contains("sinks.fan.t") && err.contains("target `t` of composite `fan`"),
        "{err}"
    );
}

#[test]
fn runtime_durations_take_a_bare_number_of_seconds_like_sink_options() {
    let config = parse(
        "[runtime]\nflush_interval = 3\n[runtime.batch]\ntimeout = 2\n[sinks.a]\ntype = \"stdout\"\n",
    )
    .unwrap();
    assert_eq!(config.runtime.batch.timeout, Duration::from_secs(2));
    assert_eq!(config.runtime.flush_interval, Duration::from_secs(3));
    let config =
        parse("[runtime]\nflush_interval = \"0s\"\n[sinks.a]\ntype = \"stdout\"\n").unwrap();
    assert_eq!(config.runtime.flush_interval, Duration::ZERO);
    let e = error("[runtime.batch]\ntimeout = \"soon\"\n[sinks.a]\ntype = \"stdout\"\n");
    assert!(e.contains("`soon` is not a duration"), "{e}");
}
