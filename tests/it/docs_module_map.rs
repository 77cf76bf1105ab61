//! The module map in `docs/architecture.md` ("The direction of imports")
//! is what the code does: every `crate::` reference in `runtime/src` goes
//! down the map, or is one of the upward references the page names on
//! purpose; every top-level module is on the map; and every named
//! exception still exists. Test modules (`#[cfg(test)] mod tests`) and
//! comments are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::workspace_root;

/// The map: each top-level module (`pipeline`, `sink`) with its rank, top
/// first; modules on one line share a rank.
fn ranks(architecture: &str) -> BTreeMap<String, usize> {
    let section = architecture
        .split("## The direction of imports")
        .nth(1)
        .expect("docs/architecture.md has `## The direction of imports`");
    let block = section
        .split("```")
        .nth(1)
        .expect("the section draws the map in a code block");
    let mut ranks = BTreeMap::new();
    for (rank, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        // The names lead the line (`pipeline/`, `sink.rs, batch.rs`); the
        // description follows.
        let names = line
            .trim_start_matches(|c: char| c.is_whitespace() || "└├─│".contains(c))
            .split_whitespace()
            .map(|word| word.trim_end_matches(','))
            .take_while(|word| word.ends_with('/') || word.ends_with(".rs"));
        for name in names {
            let name = name.trim_end_matches('/').trim_end_matches(".rs");
            ranks.insert(name.to_owned(), rank);
        }
    }
    ranks
}

/// The upward references the section keeps on purpose: lines such as
/// ``- `registry/sink_context.rs` → `wasm`, `composite`: why``.
fn exceptions(architecture: &str) -> BTreeSet<(String, String)> {
    let section = architecture
        .split("## The direction of imports")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    for line in section.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let Some((file, rest)) = rest.split_once("` → ") else {
            continue;
        };
        let targets = rest.split(':').next().unwrap_or_default();
        for target in targets.split(',') {
            out.insert((file.to_owned(), target.trim().trim_matches('`').to_owned()));
        }
    }
    out
}

/// What the crate root re-exports, by name: `Pipeline` → `pipeline`.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let flat = lib.replace('\n', " ");
    for statement in flat.split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names
            .trim_matches(|c| c == '{' || c == '}' || c == ' ')
            .split(',')
        {
            let name = name.trim().rsplit("::").next().unwrap_or_default();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// Every `crate::X` a file's code names (comments and test modules left
/// out), as top-level modules.
fn references(text: &str, exports: &BTreeMap<String, String>) -> BTreeSet<String> {
    let code = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(text);
    let mut out = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for piece in line.split("crate::").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let module = exports.get(&name).cloned().unwrap_or(name);
            out.insert(module);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_goes_down_the_module_map_or_is_named_there() {
    let root = workspace_root();
    let architecture = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let src = root.join("runtime/src");
    let ranks = ranks(&architecture);
    let allowed = exceptions(&architecture);
    let exports = root_exports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(&rank) = ranks.get(&top) else {
            problems.push(format!(
                "`{top}` is not on the map in docs/architecture.md: add it where it belongs"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for module in references(&text, &exports) {
            let Some(&target) = ranks.get(&module) else {
                continue;
            };
            if module == top || target >= rank {
                continue;
            }
            let key = (relative.clone(), module.clone());
            if allowed.contains(&key) {
                used_exceptions.insert(key);
            } else {
                problems.push(format!(
                    "{relative} uses `crate::{module}`, above it on the map: move what it needs down, or name the reference in docs/architecture.md"
                ));
            }
        }
    }
    for (file, module) in allowed.difference(&used_exceptions) {
        problems.push(format!(
            "docs/architecture.md names `{file}` → `{module}`, which the code no longer has: take it off the list"
        ));
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
