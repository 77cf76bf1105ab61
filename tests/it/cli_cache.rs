//! The compile cache's size cap (least recently used entries go first) and
//! `sinkbox cache list | prune | clear`.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// A fake entry of `bytes`, last used `age` ago.
fn entry(dir: &Path, name: &str, bytes: usize, age: Duration) {
    let path = dir.join(format!("{name}.cwasm"));
    std::fs::write(&path, vec![0u8; bytes]).unwrap();
    std::fs::File::options()
        .append(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn cache(dir: &Path, args: &[&str]) -> String {
    let output = crate::support::sinkbox()
        .arg("cache")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    names.sort();
    names
}

#[test]
fn list_prune_and_clear_go_by_last_use() {
    let dir = private_dir();
    entry(dir.path(), "old", 300_000, Duration::from_secs(3 * 86400));
    entry(dir.path(), "mid", 300_000, Duration::from_secs(86400));
    entry(dir.path(), "new", 300_000, Duration::from_secs(60));
    std::fs::write(dir.path().join("notes.txt"), "not an entry").unwrap();
    let listed = cache(dir.path(), &["list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(
        lines[0].ends_with("old.cwasm") && lines[2].ends_with("new.cwasm"),
        "{listed}"
    );
    assert!(lines[3].starts_with("3 entries, 0.9 MiB"), "{listed}");
    let pruned = cache(dir.path(), &["prune", "--max-size", "700KB"]);
    assert!(pruned.starts_with("removed 1 entries"), "{pruned}");
    assert_eq!(names(dir.path()), ["mid.cwasm", "new.cwasm"]);
    let cleared = cache(dir.path(), &["clear"]);
    assert!(cleared.starts_with("removed 2 entries"), "{cleared}");
    assert!(names(dir.path()).is_empty());
    assert!(
        dir.path().join("notes.txt").exists(),
        "only cache entries are touched"
    );
}

#[test]
fn a_new_compilation_pushes_out_the_least_recently_used() {
    let dir = private_dir();
    entry(dir.path(), "stale-a", 200_000, Duration::from_secs(7200));
    entry(dir.path(), "stale-b", 200_000, Duration::from_secs(3600));
    let engine = sinkbox::wasm::WasmEngine::new(Some(dir.path().to_owned()))
        .unwrap()
        .with_cache_max_size(300_000);
    let component = engine.load(&crate::support::guest("count-sink")).unwrap();
    assert!(!component.from_cache());
    let left = names(dir.path());
    // The new entry stays even though it alone is over the cap.
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(component.module_hash()), "{left:?}");
    // Loaded again by a fresh engine: from the cache, and marked used.
    let before = std::fs::metadata(dir.path().join(&left[0]))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let again = sinkbox::wasm::WasmEngine::new(Some(dir.path().to_owned()))
        .unwrap()
        .load(&crate::support::guest("count-sink"))
        .unwrap();
    assert!(again.from_cache());
    let after = std::fs::metadata(dir.path().join(&left[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert!(after > before, "a cache hit counts as a use");
}

#[test]
fn functions_compiled_before_are_reused_by_a_rebuilt_component() {
    let dir = private_dir();
    let engine = || sinkbox::wasm::WasmEngine::incremental(Some(dir.path().to_owned())).unwrap();
    // The plain engine keeps no function entries.
    sinkbox::wasm::WasmEngine::new(Some(dir.path().to_owned()))
        .unwrap()
        .load(&crate::support::guest("count-sink"))
        .unwrap();
    assert!(
        sinkbox::wasm::cache_entries(dir.path())
            .unwrap()
            .iter()
            .all(|e| !e.is_function())
    );
    for entry in sinkbox::wasm::cache_entries(dir.path()).unwrap() {
        std::fs::remove_file(entry.path).unwrap();
    }
    let first = engine().load(&crate::support::guest("count-sink")).unwrap();
    assert!(!first.from_cache());
    let functions = sinkbox::wasm::cache_entries(dir.path())
        .unwrap()
        .into_iter()
        .filter(|e| e.is_function())
        .count();
    assert!(
        functions > 10,
        "Cranelift's function entries are kept: {functions}"
    );
    // The whole-component entry gone (as for a rebuilt component): it is
    // compiled again from the function entries, and it runs.
    for entry in sinkbox::wasm::cache_entries(dir.path()).unwrap() {
        if !entry.is_function() {
            std::fs::remove_file(entry.path).unwrap();
        }
    }
    let again = engine().load(&crate::support::guest("count-sink")).unwrap();
    assert!(!again.from_cache());
    let mut sink =
        sinkbox::wasm::WasmSink::new("c", again, sinkbox::wasm::WasmSinkOptions::default());
    use sinkbox::Sink;
    sink.start().unwrap();
    let batch = sinkbox::Batch::from_records(["{\"a\":1}", "{\"a\":2}"], 0);
    assert_eq!(sink.write(&batch), sinkbox::WriteOutcome::Accepted);
    sink.stop();
    let listed = cache(dir.path(), &["list"]);
    assert!(listed.contains("compiled functions"), "{listed}");
}

#[test]
fn runtime_incremental_compilation_keeps_function_entries_for_run() {
    let count_sink = crate::support::guest("count-sink");
    let functions_kept = |incremental: bool| {
        let cache = private_dir();
        let work = tempfile::tempdir().unwrap();
        let registry = sinkbox::registry::SinkRegistry::builtin();
        let config = sinkbox::config::ConfigLoader::new(&registry)
            .toml(
                &format!(
                    "[runtime]\ndata_dir = \"data\"\ncache_dir = \"{}\"\nincremental_compilation = {incremental}\n\
                     [sinks.count]\ntype = \"wasm\"\ncomponent = \"{}\"\n",
                    cache.path().display(),
                    count_sink.display()
                ),
                "t.toml",
                work.path(),
            )
            .load()
            .unwrap();
        let pipeline = sinkbox::config::build_pipeline(&config).unwrap();
        pipeline.emit(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(pipeline.shutdown()[0].records, 1);
        sinkbox::wasm::cache_entries(cache.path())
            .unwrap()
            .iter()
            .filter(|e| e.is_function())
            .count()
    };
    assert_eq!(functions_kept(false), 0, "off by default for run");
    assert!(
        functions_kept(true) > 10,
        "Cranelift's function entries are kept"
    );
}
