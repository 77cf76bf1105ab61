//! Sinks from URIs, environment overrides and command-line overrides, and
//! their precedence: file < environment < command line.

use std::path::Path;

use sinkbox::config::{Config, ConfigError, ConfigLoader};
use sinkbox::registry::SinkRegistry;

const FILE: &str = r#"
[sinks.applog]
type = "file"
path = "app.log"
max_bytes = "1MB"
max_files = 2

[sinks.errors]
type = "wasm"
component = "filter.wasm"
config = { min_level = "error" }
"#;

fn load(env: &[(&str, &str)], sinks: &[&str], sets: &[&str]) -> Result<Config, ConfigError> {
    let registry = SinkRegistry::builtin();
    let mut loader = ConfigLoader::new(&registry)
        .toml(FILE, "app.toml", Path::new("/etc/sinkbox"))
        .env_vars(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    for uri in sinks {
        loader = loader.cli_sink(*uri);
    }
    for set in sets {
        loader = loader.cli_set(*set);
    }
    loader.load()
}

fn uri(uri: &str) -> Result<Config, ConfigError> {
    let registry = SinkRegistry::builtin();
    ConfigLoader::new(&registry).cli_sink(uri).load()
}

#[test]
fn every_uri_form_parses() {
    let config = uri("file:///var/log/app.log?max_bytes=10MB&max_files=5").unwrap();
    let file = &config.sinks[0];
    assert_eq!(
        (file.name.as_str(), file.type_name.as_str()),
        ("file", "file")
    );
    assert_eq!(
        file.options.require_path("path").unwrap(),
        Path::new("/var/log/app.log")
    );
    assert_eq!(file.options.size("max_bytes").unwrap(), Some(10_000_000));
    assert_eq!(file.options.integer("max_files").unwrap(), Some(5));

    let config =
        uri("wasm:///opt/sinks/filter.wasm?min_level=warn&memory_limit=16MiB&name=errors").unwrap();
    let wasm = &config.sinks[0];
    assert_eq!(
        (wasm.name.as_str(), wasm.type_name.as_str()),
        ("errors", "wasm")
    );
    assert_eq!(wasm.options.size("memory_limit").unwrap(), Some(16 << 20));
    assert_eq!(
        wasm.options.table("config").unwrap(),
        [("min_level".to_owned(), "warn".to_owned())],
        "keys the type does not declare go to the guest's config"
    );

    let config = uri("tcp://127.0.0.1:9000?connect_timeout=2s&max_retries=9").unwrap();
    let tcp = &config.sinks[0];
    assert_eq!(tcp.type_name, "direct");
    assert_eq!(
        tcp.options.string("endpoint").unwrap().as_deref(),
        Some("tcp://127.0.0.1:9000")
    );
    assert_eq!(
        tcp.settings.retry.max_retries,
        Some(9),
        "common options work in a query"
    );

    let config = uri("stdout://").unwrap();
    assert_eq!(config.sinks[0].type_name, "stdout");

    let config = uri("mmap:///var/lib/app.ndjson?initial_size=64MiB").unwrap();
    assert_eq!(
        config.sinks[0].options.size("initial_size").unwrap(),
        Some(64 << 20)
    );

    let config = uri("relay:///run/relay.sock?buffer_size=1MiB").unwrap();
    assert_eq!(
        config.sinks[0].options.require_path("socket").unwrap(),
        Path::new("/run/relay.sock")
    );
    config.check(&SinkRegistry::builtin()).unwrap();
}

#[test]
fn uri_sinks_get_unique_names() {
    let registry = SinkRegistry::builtin();
    let config = ConfigLoader::new(&registry)
        .cli_sink("stdout://")
        .cli_sink("stdout://")
        .cli_sink("file:///tmp/a.log?name=audit")
        .load()
        .unwrap();
    let names: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["stdout", "stdout_2", "audit"]);
}

#[test]
fn uri_errors_say_what_to_write_and_never_print_a_password() {
    let message = uri("fil:///var/log/app.log").unwrap_err().to_string();
    assert!(
        message.starts_with("--sink fil:///var/log/app.log: unknown URI scheme `fil://`; known schemes: stdout://, stdout-pretty://, file://"),
        "{message}"
    );
    assert!(message.ends_with("(did you mean `file://`?)"), "{message}");
    assert_eq!(
        uri("file://app.log").unwrap_err().to_string(),
        "--sink file://app.log: `file://app.log` needs an absolute path after `file://`, such as file:///var/log/app.log (three slashes)"
    );
    assert_eq!(
        uri("file:///a.log?max_bytes").unwrap_err().to_string(),
        "--sink file:///a.log?max_bytes: query parameter `max_bytes` has no value; write `max_bytes=<value>`"
    );
    let message = uri("wss://bob:hunter2@logs.example:443/in?bogus=1")
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "--sink wss://bob:***@logs.example:443/in?bogus=1: sinks.direct.bogus: unknown option `bogus` for a `direct` sink; its options are endpoint, ca_file, connect_timeout, retry_delay, max_retry_delay, auto_reconnect, max_connect_attempts; every sink also accepts queue_capacity, overflow, max_retries, max_retry_duration, initial_backoff, max_backoff, max_restarts, dead_letter_max_bytes, optional, rollback_batches, buffer, when"
    );
    assert!(!message.contains("hunter2"));
}

#[test]
fn environment_adds_sinks_and_overrides_options() {
    let config = load(
        &[
            ("SINKBOX_SINKS", "stdout://,tcp://127.0.0.1:9000?name=ship"),
            ("SINKBOX_APPLOG__MAX_BYTES", "10MB"),
            ("SINKBOX_ERRORS__CONFIG__MIN_LEVEL", "warn"),
            ("SINKBOX_SHIP__CONNECT_TIMEOUT", "3s"),
            ("SINKBOX_LOG", "debug"),
            ("SINKBOX_CACHE_DIR", "/tmp/cache"),
        ],
        &[],
        &[],
    )
    .unwrap();
    let names: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["applog", "errors", "stdout", "ship"]);
    let applog = &config.sinks[0].options;
    assert_eq!(applog.size("max_bytes").unwrap(), Some(10_000_000));
    assert_eq!(
        applog.integer("max_files").unwrap(),
        Some(2),
        "untouched options stay"
    );
    assert_eq!(
        config.sinks[1].options.table("config").unwrap(),
        [("min_level".to_owned(), "warn".to_owned())]
    );
    assert_eq!(
        config.sinks[3].options.duration("connect_timeout").unwrap(),
        Some(std::time::Duration::from_secs(3))
    );
}

#[test]
fn the_command_line_beats_the_environment_which_beats_the_file() {
    let env = [
        ("SINKBOX_APPLOG__MAX_BYTES", "10MB"),
        ("SINKBOX_APPLOG__MAX_FILES", "7"),
    ];
    let config = load(&env, &[], &["applog.max_bytes=20MB"]).unwrap();
    let applog = &config.sinks[0].options;
    assert_eq!(
        applog.size("max_bytes").unwrap(),
        Some(20_000_000),
        "CLI wins"
    );
    assert_eq!(
        applog.integer("max_files").unwrap(),
        Some(7),
        "env beats the file"
    );
    let config = load(&[], &[], &[]).unwrap();
    assert_eq!(
        config.sinks[0].options.size("max_bytes").unwrap(),
        Some(1_000_000)
    );
    let config = load(&[], &[], &["errors.config.min_level=debug"]).unwrap();
    assert_eq!(
        config.sinks[1].options.table("config").unwrap(),
        [("min_level".to_owned(), "debug".to_owned())]
    );
}

#[test]
fn override_errors_name_the_variable_or_flag() {
    assert_eq!(
        load(&[("SINKBOX_APLOG__MAX_BYTES", "10MB")], &[], &[])
            .unwrap_err()
            .to_string(),
        "SINKBOX_APLOG__MAX_BYTES: no configured sink is called `APLOG` (names are matched upper-cased, with - and . as _); configured: APPLOG, ERRORS (did you mean SINKBOX_APPLOG__MAX_BYTES?)"
    );
    assert_eq!(
        load(&[("SINKBOX_APPLOG__MAX_BYTES", "huge")], &[], &[])
            .unwrap_err()
            .to_string(),
        "SINKBOX_APPLOG__MAX_BYTES: sinks.applog.max_bytes: `huge` is not a size; write a number of bytes or a number with a unit such as \"64MiB\", \"10 MB\" or \"512KiB\""
    );
    assert_eq!(
        load(&[], &[], &["applog.max_bytes"])
            .unwrap_err()
            .to_string(),
        "--set applog.max_bytes: expected <sink>.<option>=<value>, such as applog.max_bytes=10MB"
    );
    assert_eq!(
        load(&[], &[], &["applog.sync=true"])
            .unwrap_err()
            .to_string(),
        "--set applog.sync=true: sinks.applog.sync: unknown option `sync` for a `file` sink; its options are path, sync_on_flush, max_bytes, interval, max_files, compress, mode; every sink also accepts queue_capacity, overflow, max_retries, max_retry_duration, initial_backoff, max_backoff, max_restarts, dead_letter_max_bytes, optional, rollback_batches, buffer, when"
    );
}

#[test]
fn relative_paths_resolve_against_their_source() {
    let config = load(&[("SINKBOX_APPLOG__PATH", "rel/env.log")], &[], &[]).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        config.sinks[0].options.require_path("path").unwrap(),
        cwd.join("rel/env.log"),
        "an env value resolves against the working directory"
    );
    let config = load(&[], &[], &[]).unwrap();
    assert_eq!(
        config.sinks[0].options.require_path("path").unwrap(),
        Path::new("/etc/sinkbox/app.log"),
        "a file value resolves against the file's directory"
    );
}

#[test]
fn runtime_settings_come_from_the_environment_and_set_over_the_file() {
    let config = load(
        &[
            ("SINKBOX_RUNTIME__DATA_DIR", "/var/lib/sinkbox"),
            ("SINKBOX_RUNTIME__BATCH__MAX_RECORDS", "64"),
            ("SINKBOX_RUNTIME__FLUSH_INTERVAL", "250ms"),
        ],
        &[],
        &[
            "runtime.batch.timeout=2s",
            "runtime.batch.max_records=32",
            "runtime.cache_max_size=64MiB",
            "runtime.incremental_compilation=true",
        ],
    )
    .unwrap();
    assert!(config.runtime.incremental_compilation);
    assert_eq!(config.runtime.data_dir, Path::new("/var/lib/sinkbox"));
    // The command line wins over the environment.
    assert_eq!(config.runtime.batch.max_records, 32);
    assert_eq!(
        config.runtime.batch.timeout,
        std::time::Duration::from_secs(2)
    );
    assert_eq!(
        config.runtime.flush_interval,
        std::time::Duration::from_millis(250)
    );
    assert_eq!(config.runtime.cache_max_size, 64 << 20);
    let err = load(&[("SINKBOX_RUNTIME__BATCH__SIZE", "3")], &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SINKBOX_RUNTIME__BATCH__SIZE: runtime.batch.size: `batch.size` cannot be set this way; the [runtime] settings that can: data_dir, cache_dir, cache_max_size, max_component_size, flush_interval, incremental_compilation, batch.max_records, batch.max_bytes, batch.timeout"
    );
    let err = load(&[], &[], &["runtime.incremental_compilation=yes"]).unwrap_err();
    assert!(
        err.to_string()
            .contains("`yes` is not a boolean; write true or false"),
        "{err}"
    );
    let err = load(&[], &[], &["runtime.batch.timeout=soon"]).unwrap_err();
    assert!(
        err.to_string().contains("`soon` is not a duration"),
        "{err}"
    );
}
