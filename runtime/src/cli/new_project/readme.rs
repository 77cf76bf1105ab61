//! The README of a new sink project: how to build it, check it, run it,
//! and what to edit.

use super::Language;
use super::project_files::{
    COMPONENTIZE_PY, WASM_TOOLS, WIT_BINDGEN, ZIGLANG, build_command, component_path,
};

/// The README's text.
pub fn readme(language: Language, name: &str, http: bool) -> String {
    let component = component_path(language, name);
    let build = build_command(language, name, http);
    let (source, toolchain) = match language {
        Language::Rust => (
            "src/lib.rs",
            "Rust with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`). \
             The guest SDK is vendored in `sdk/` and the contract in `wit/`, so nothing else is needed."
                .to_owned(),
        ),
        Language::Python => (
            "app.py",
            format!(
                "componentize-py (`pip install componentize-py=={COMPONENTIZE_PY}`), which reads the contract in `wit/`."
            ),
        ),
        Language::Javascript => (
            "sink.js",
            "Node.js 18 or later; `npm install` fetches componentize-js, pinned in `package.json`."
                .to_owned(),
        ),
        Language::C => (
            "sink.c",
            format!(
                "`zig cc` (`pip install ziglang=={ZIGLANG}`), `wit-bindgen` and `wasm-tools` \
                 (`cargo install wit-bindgen-cli@{WIT_BINDGEN} wasm-tools@{WASM_TOOLS}`). The C SDK \
                 (`sinkbox_sink.h`, `sinkbox_sink.c`), the contract (`wit/`) and the WASI adapter \
                 (`wasi_snapshot_preview1.reactor.wasm`, from the wasmtime release sinkbox runs) \
                 come with the project; `ZIG_CC`, `WIT_BINDGEN` and `WASM_TOOLS` name other copies \
                 of the tools."
            ),
        ),
    };
    let what = if http {
        "posts every batch to the URL in its `url` option as one JSON array, over the host's \
         wasi:http, and answers with what the server said: 2xx accepted, 408/429/5xx retryable \
         (after `Retry-After`), other statuses rejected (dead-lettered)"
    } else {
        "appends every record that is a JSON object to `/data/out.ndjson` in the directory the \
         operator grants it, and refuses any other record on its own (the host dead-letters it \
         with the reason)"
    };
    let (check, try_it, config) = if http {
        (
            format!(
                "sinkbox check {component} --config url=http://127.0.0.1:8080/ingest --http-allow http://127.0.0.1:8080/ingest"
            ),
            format!(
                "sinkbox check {component} --input sample.ndjson --config url=http://127.0.0.1:8080/ingest --http-allow http://127.0.0.1:8080/ingest"
            ),
            format!(
                "[sinks.{name}]\ntype = \"wasm\"\ncomponent = \"{component}\"\nhttp_allow = [\"https://logs.example.com/ingest\"]\nconfig = {{ url = \"https://logs.example.com/ingest\" }}"
            ),
        )
    } else {
        (
            format!("sinkbox check {component} --grant out"),
            format!("sinkbox check {component} --grant out --input sample.ndjson"),
            format!(
                "[sinks.{name}]\ntype = \"wasm\"\ncomponent = \"{component}\"\ngrant = {{ path = \"out\", guest_path = \"/data\" }}"
            ),
        )
    };
    format!(
        "# {name}\n\n\
A sinkbox sink: it {what}.\n\n\
## Build\n\n\
Needs {toolchain}\n\n\
```sh\n{build}\n```\n\n\
writes `{component}`.\n\n\
## Check\n\n\
The conformance suite (start, writes of empty, normal and unusual batches,\n\
flush, health, stop):\n\n\
```sh\n{check}\n```\n\n\
The records in `sample.ndjson`, every outcome printed (exit 0 when every\n\
batch was accepted):\n\n\
```sh\n{try_it}\n```\n\n\
`sinkbox dev` takes the same arguments and checks again each time the\n\
component or the sample changes: keep it running while you edit.\n\n\
## Run\n\n\
In a `sinkbox.toml`:\n\n\
```toml\n{config}\n```\n\n\
## What to edit\n\n\
`{source}`: `start` reads the options (refuse unknown ones, say how to fix a\n\
bad one), `write` gets a batch of records (one JSON value per line) and\n\
answers accepted, retryable, rejected, or per record; `flush` makes what was\n\
written durable; `stop` and `health` as their names say. The contract with\n\
every answer is `wit/sink.wit`.\n"
    )
}
