//! The integration tests: one binary (wasmtime is linked once), a module
//! per area. Servers and guests are real: guests are built from source by
//! `cargo xtask`, receivers listen on loopback.

mod support;

mod buffer_disk;
mod cli_cache;
mod cli_commands;
mod cli_dead_letters;
mod cli_dev;
mod cli_follow;
mod cli_input_checks;
mod cli_input_format;
mod cli_metrics;
mod cli_run_end;
mod config_composites;
mod config_parse;
mod config_registry;
mod config_sources;
mod docs_examples;
mod docs_module_map;
mod elasticsearch_receiver;
mod fuzz_inputs;
mod http_sink;
mod language_sinks;
mod loki_receiver;
mod loki_sink;
mod moto_server;
mod native_cloudwatch;
mod native_mmap;
mod native_nats;
mod native_postgres;
mod native_rotating_file;
mod native_sockets;
mod nats_server;
mod network_outage;
mod otlp_receiver;
mod otlp_sink;
mod pipeline_acknowledgements;
mod pipeline_delivery;
mod pipeline_periodic_flush;
mod pipeline_record_results;
mod postgres_server;
mod recording_server;
mod reload_config;
mod reload_modules;
mod routing_conditions;
mod routing_destinations;
mod routing_route;
mod source_http_server;
mod wasm_conformance;
mod wasm_contract_versions;
mod wasm_faults;
mod wasm_hostile;
mod wasm_http;
mod wasm_outcomes;
mod wasm_sandbox;
