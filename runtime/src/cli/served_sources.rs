//! The sources `sinkbox run` serves, kept in line with the configuration:
//! started with the run, and on a reload (SIGHUP, `--watch`) a removed
//! source stops, a new one starts, and a changed one restarts with its new
//! options (or, if those cannot start, goes back to its old ones). A
//! source's counters are kept by name for the whole run: a restart does
//! not start them again from zero.

use std::collections::HashMap;
use std::sync::Mutex;

use sinkbox::Pipeline;
use sinkbox::config::SourceConfig;
use sinkbox::sources::{RunningSource, SourceStats};

/// The running sources of one `sinkbox run`.
pub struct ServedSources {
    pipeline: Pipeline,
    served: Mutex<Served>,
}

#[derive(Default)]
struct Served {
    running: Vec<(SourceConfig, RunningSource)>,
    /// What stopped runs of each source counted, by name.
    earlier: HashMap<String, SourceStats>,
}

impl Served {
    /// A running source's counters, its earlier runs' included.
    fn stats(&self, config: &SourceConfig, source: &RunningSource) -> SourceStats {
        self.earlier.get(&config.name).copied().unwrap_or_default() + source.stats()
    }

    /// Stops `source`, keeping what it counted.
    fn stop(&mut self, config: &SourceConfig, source: RunningSource) {
        // Read once it has stopped: its last requests are answered by then.
        let stats = source.stats_reader();
        source.stop();
        let counted = self.earlier.entry(config.name.clone()).or_default();
        *counted = *counted + stats();
    }
}

impl ServedSources {
    /// Starts every source of `config` feeding `pipeline`; one that cannot
    /// start (a port in use, a certificate that does not load) is an error.
    pub fn start(config: &sinkbox::Config, pipeline: &Pipeline) -> anyhow::Result<Self> {
        let mut running = Vec::new();
        for source in &config.sources {
            let server = start(source, pipeline).map_err(anyhow::Error::msg)?;
            eprintln!("{}", listening(source, &server));
            running.push((source.clone(), server));
        }
        Ok(Self {
            pipeline: pipeline.clone(),
            served: Mutex::new(Served {
                running,
                earlier: HashMap::new(),
            }),
        })
    }

    /// How many are serving.
    pub fn len(&self) -> usize {
        self.lock().running.len()
    }

    /// Each running source's name and counters, now (since the run began,
    /// restarts included).
    pub fn stats(&self) -> Vec<(String, SourceStats)> {
        let served = self.lock();
        served
            .running
            .iter()
            .map(|(config, source)| (config.name.clone(), served.stats(config, source)))
            .collect()
    }

    /// One line per source for the run summary.
    pub fn summary(&self) -> String {
        let served = self.lock();
        served
            .running
            .iter()
            .map(|(config, source)| summary_line(config, &served.stats(config, source)))
            .collect()
    }

    /// Brings the running sources in line with `config` (already accepted
    /// by the pipeline); each change is logged.
    pub fn apply(&self, config: &sinkbox::Config) {
        let mut served = self.lock();
        let before = std::mem::take(&mut served.running);
        let mut kept = Vec::new();
        for (old, source) in before {
            match config.sources.iter().find(|s| s.name == old.name) {
                Some(new) if *new == old => kept.push((old, source)),
                Some(new) => {
                    // The new options may need the old one's port: stop first.
                    served.stop(&old, source);
                    match start(new, &self.pipeline) {
                        Ok(server) => {
                            tracing::info!(
                                "source `{}` restarted with its new options: {}",
                                new.name,
                                listening(new, &server)
                            );
                            kept.push((new.clone(), server));
                        }
                        Err(why) => {
                            tracing::error!(
                                "source `{}` cannot start with its new options, the old ones stay: {why}",
                                new.name
                            );
                            match start(&old, &self.pipeline) {
                                Ok(server) => kept.push((old, server)),
                                Err(why) => tracing::error!(
                                    "source `{}` cannot start again: {why}",
                                    old.name
                                ),
                            }
                        }
                    }
                }
                None => {
                    served.stop(&old, source);
                    tracing::info!("source `{}` removed; stopped", old.name);
                }
            }
        }
        for new in &config.sources {
            if kept.iter().any(|(config, _)| config.name == new.name) {
                continue;
            }
            match start(new, &self.pipeline) {
                Ok(server) => {
                    tracing::info!("source `{}` added: {}", new.name, listening(new, &server));
                    kept.push((new.clone(), server));
                }
                Err(why) => tracing::error!("source `{}` cannot start: {why}", new.name),
            }
        }
        served.running = kept;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Served> {
        self.served.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn start(source: &SourceConfig, pipeline: &Pipeline) -> Result<RunningSource, String> {
    source.kind.start(&source.name, pipeline.clone())
}

fn listening(source: &SourceConfig, server: &RunningSource) -> String {
    format!(
        "source `{}` ({}) {}",
        source.name,
        source.kind.type_name(),
        server.describe()
    )
}

fn summary_line(config: &SourceConfig, s: &SourceStats) -> String {
    let name = &config.name;
    let waited = match s.ack_wait_us.checked_div(s.acknowledged) {
        Some(mean) => format!(
            "; records settled {:.1} ms after arriving, on average",
            mean as f64 / 1000.0
        ),
        None => String::new(),
    };
    match config.kind {
        sinkbox::config::SourceKind::Nats(_) => format!(
            "source {name}: {} message(s), {} record(s) taken; {} acknowledged, {} not records (terminated), {} given back{waited}\n",
            s.requests, s.records, s.accepted, s.bad_requests, s.unavailable
        ),
        _ => format!(
            "source {name}: {} request(s), {} record(s) taken; answered {} accepted, {} bad, {} unauthorized, {} unavailable{waited}\n",
            s.requests, s.records, s.accepted, s.bad_requests, s.unauthorized, s.unavailable
        ),
    }
}
