//! The files of a new sink project, per language: a sink that does real
//! work (a file writer, or with `--http` a poster), the sinkbox contract
//! (`wit/`) and, for Rust, the guest SDK, both copied from this build of
//! sinkbox so the project builds anywhere without this repository.

use super::Language;

/// One file of a project: its path inside the project and its bytes.
pub struct ProjectFile {
    pub path: String,
    pub bytes: Vec<u8>,
    /// Whether it is a script to run (`build.sh`).
    pub executable: bool,
}

/// The pinned componentize-js a JavaScript project builds with (the
/// version `cargo xtask` builds the example sinks with).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The pinned componentize-py a Python project builds with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The C toolchain a C project builds with (what `cargo xtask` installs).
pub const ZIGLANG: &str = "0.15.2";
pub const WIT_BINDGEN: &str = "0.61.1";
pub const WASM_TOOLS: &str = "1.258.3";

/// The C guest SDK, copied into a C project.
const C_SDK: &[(&str, &str)] = &[
    (
        "sinkbox_sink.h",
        include_str!("../../../../guest-sdk-c/sinkbox_sink.h"),
    ),
    (
        "sinkbox_sink.c",
        include_str!("../../../../guest-sdk-c/sinkbox_sink.c"),
    ),
];

/// The contract: what a sink component implements and may import. The
/// frozen 0.1 contract comes too: with two versions of the package in
/// `wit/`, bindings name each by its version (`sink0_2_0`), as the SDK
/// expects.
const CONTRACT: &[(&str, &str)] = &[
    ("wit/sink.wit", include_str!("../../../../wit/sink.wit")),
    (
        "wit/deps/io/io.wit",
        include_str!("../../../../wit/deps/io/io.wit"),
    ),
    (
        "wit/deps/clocks/clocks.wit",
        include_str!("../../../../wit/deps/clocks/clocks.wit"),
    ),
    (
        "wit/deps/filesystem/filesystem.wit",
        include_str!("../../../../wit/deps/filesystem/filesystem.wit"),
    ),
    (
        "wit/deps/http/http.wit",
        include_str!("../../../../wit/deps/http/http.wit"),
    ),
    (
        "wit/deps/sink-0.1/sink.wit",
        include_str!("../../../../wit/deps/sink-0.1/sink.wit"),
    ),
];

/// The Rust guest SDK's sources (`guest-sdk/src`), vendored as `sdk/`.
const RUST_SDK: &[(&str, &str)] = &[
    (
        "sdk/src/lib.rs",
        include_str!("../../../../guest-sdk/src/lib.rs"),
    ),
    (
        "sdk/src/batch.rs",
        include_str!("../../../../guest-sdk/src/batch.rs"),
    ),
    (
        "sdk/src/config.rs",
        include_str!("../../../../guest-sdk/src/config.rs"),
    ),
    (
        "sdk/src/exporter.rs",
        include_str!("../../../../guest-sdk/src/exporter.rs"),
    ),
    (
        "sdk/src/http.rs",
        include_str!("../../../../guest-sdk/src/http.rs"),
    ),
    (
        "sdk/src/log.rs",
        include_str!("../../../../guest-sdk/src/log.rs"),
    ),
    (
        "sdk/src/per_record.rs",
        include_str!("../../../../guest-sdk/src/per_record.rs"),
    ),
];

/// The SDK's manifest outside the workspace: the same dependencies, with
/// the versions the workspace gives them.
const RUST_SDK_MANIFEST: &str = r#"[package]
name = "sinkbox-guest"
description = "Write sinkbox sinks in Rust: implement one trait, export it with one macro (vendored by `sinkbox new`)"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc", "std"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
memchr = "2"
wasip2 = { version = "1", optional = true }

[features]
# Sending HTTP over the host's wasi:http (`sinkbox_guest::http`).
http = ["dep:wasip2"]
"#;

/// Records to try the sink with: `sinkbox check SINK.wasm --input sample.ndjson`.
const SAMPLE: &str = r#"{"timestamp":"2026-12-06T10:00:00Z","level":"info","message":"order placed","order_id":42}
{"timestamp":"2026-12-06T10:00:01Z","level":"warn","message":"payment slow","order_id":42,"ms":1830}
{"timestamp":"2026-12-06T10:00:02Z","level":"error","message":"payment failed","order_id":43,"error":{"code":"card_declined"}}
"#;

/// The world a sink in `language` targets.
fn world(language: Language, http: bool) -> &'static str {
    match (language, http) {
        (_, true) => "sink-world-http",
        (Language::Javascript, false) => "sink-world-files",
        (_, false) => "sink-world",
    }
}

/// Where the built component lands, relative to the project.
pub fn component_path(language: Language, name: &str) -> String {
    match language {
        Language::Rust => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ),
        Language::Python | Language::Javascript | Language::C => format!("{name}.wasm"),
    }
}

/// The one command that builds the project.
pub fn build_command(language: Language, name: &str, http: bool) -> String {
    match language {
        Language::Rust => "cargo build --release --target wasm32-wasip2".to_owned(),
        Language::Python => format!(
            "componentize-py -d wit -w {} componentize app -o {name}.wasm",
            world(language, http)
        ),
        Language::Javascript => "npm install && npm run build".to_owned(),
        Language::C => "sh build.sh".to_owned(),
    }
}

/// Every file of a new project.
pub fn project_files(language: Language, name: &str, http: bool) -> Vec<ProjectFile> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{world}}", world(language, http))
            .replace("{{world_c}}", &world(language, http).replace('-', "_"))
            .replace(
                "{{c_flags}}",
                if http { "-DSINKBOX_WORLD_HTTP " } else { "" },
            )
            .replace("{{c_sources}}", if http { "sinkbox_http.c " } else { "" })
            .replace("{{componentize_js}}", COMPONENTIZE_JS)
            .replace(
                "{{sdk_features}}",
                if http { r#", features = ["http"]"# } else { "" },
            )
    };
    let file = |path: &str, text: String| ProjectFile {
        path: path.to_owned(),
        bytes: text.into_bytes(),
        executable: false,
    };
    let mut files: Vec<ProjectFile> = CONTRACT
        .iter()
        .map(|(path, text)| file(path, (*text).to_owned()))
        .collect();
    match language {
        Language::Rust => {
            files.push(file(
                "Cargo.toml",
                fill(include_str!("templates/rust/Cargo.toml")),
            ));
            let lib = if http {
                include_str!("templates/rust/lib_http.rs")
            } else {
                include_str!("templates/rust/lib.rs")
            };
            files.push(file("src/lib.rs", fill(lib)));
            files.push(file("sdk/Cargo.toml", RUST_SDK_MANIFEST.to_owned()));
            files.extend(
                RUST_SDK
                    .iter()
                    .map(|(path, text)| file(path, (*text).to_owned())),
            );
            files.push(file(".gitignore", "/target\n".to_owned()));
        }
        Language::Python => {
            let app = if http {
                include_str!("templates/python/app_http.py")
            } else {
                include_str!("templates/python/app.py")
            };
            files.push(file("app.py", fill(app)));
            files.push(file(".gitignore", format!("/{name}.wasm\n__pycache__/\n")));
        }
        Language::Javascript => {
            let sink = if http {
                // The webhook example is the generic "post my records" sink.
                include_str!("../../../../example-sinks/webhook-sink-js/sink.js")
            } else {
                include_str!("templates/javascript/sink.js")
            };
            files.push(file("sink.js", fill(sink)));
            files.push(file(
                "package.json",
                fill(include_str!("templates/javascript/package.json")),
            ));
            files.push(file(
                "build.mjs",
                fill(include_str!("templates/javascript/build.mjs")),
            ));
            files.push(file(".gitignore", format!("/{name}.wasm\nnode_modules/\n")));
        }
        Language::C => {
            files.push(file("sink.c", fill(include_str!("templates/c/sink.c"))));
            files.extend(
                C_SDK
                    .iter()
                    .map(|(path, text)| file(path, (*text).to_owned())),
            );
            files.push(ProjectFile {
                path: "build.sh".to_owned(),
                bytes: fill(include_str!("templates/c/build.sh")).into_bytes(),
                executable: true,
            });
            files.push(ProjectFile {
                path: "wasi_snapshot_preview1.reactor.wasm".to_owned(),
                bytes:
                    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER
                        .to_vec(),
                executable: false,
            });
            files.push(file(".gitignore", format!("/{name}.wasm\n/build/\n")));
        }
    }
    files.push(file("sample.ndjson", SAMPLE.to_owned()));
    files.push(file(
        "README.md",
        super::readme::readme(language, name, http),
    ));
    files
}
