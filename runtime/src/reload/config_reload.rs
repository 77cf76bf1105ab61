//! `Pipeline::reload_config`: apply a new configuration to a running
//! pipeline, all or nothing.

use std::sync::Arc;

use super::ConfigReloadReport;
use crate::config::{BuildContext, BuiltFrom, Config, ConfigError};
use crate::pipeline::{Pipeline, SinkLane};
use crate::registry::sink_registry::SinkRegistry;
use crate::sink::Sink;

/// Whether the sink `name` and everything it sends to are configured alike
/// (the sink's own `when` aside: the pipeline applies it, not the sink, so
/// changing it needs no new instance).
fn same_subtree(old: &Config, new: &Config, name: &str) -> bool {
    let (Some(a), Some(b)) = (old.sink(name), new.sink(name)) else {
        return false;
    };
    a.type_name == b.type_name
        && a.settings.same_apart_from_when(&b.settings)
        && a.options.same_values(&b.options)
        && a.targets == b.targets
        && a.targets
            .iter()
            .all(|t| same_subtree(old, new, t) && same_when(old, new, t))
}

/// Whether sink `name` has the same `when` in both (a composite's target:
/// the composite applies it).
fn same_when(old: &Config, new: &Config, name: &str) -> bool {
    match (old.sink(name), new.sink(name)) {
        (Some(a), Some(b)) => a.settings.same_when(&b.settings),
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn whole_config_error(message: impl Into<String>) -> ConfigError {
    ConfigError {
        origin: "reload".into(),
        line: None,
        path: String::new(),
        message: message.into(),
    }
}

impl Pipeline {
    /// Applies `config` to the running pipeline: sinks it adds are started,
    /// sinks it removes are drained and stopped, sinks whose settings
    /// changed get a new instance that takes over their queue at a batch
    /// boundary, and unchanged sinks keep running untouched.
    ///
    /// All or nothing: every new or changed sink is built and started
    /// before anything is applied, and if one fails the error is returned
    /// and the running configuration stays as it was. `[runtime]` changes
    /// (batching, data dir, cache dir) take effect at the next start; a
    /// warning says so. The pipeline must have been built from a
    /// configuration (`build_pipeline`, `Pipeline::from_config_file`).
    pub fn reload_config(
        &self,
        config: Config,
        registry: &SinkRegistry,
    ) -> Result<ConfigReloadReport, ConfigError> {
        let _turn = self.reload_turn();
        if self.is_closed() {
            return Err(whole_config_error("the pipeline is shut down"));
        }
        let mut origin = self.origin();
        let Some(built) = origin.as_mut().and_then(|o| o.downcast_mut::<BuiltFrom>()) else {
            return Err(whole_config_error(
                "this pipeline was built without a configuration, so there is nothing to compare the new one with",
            ));
        };
        let old = &built.config;
        if old.runtime.batch != config.runtime.batch
            || old.runtime.flush_interval != config.runtime.flush_interval
            || old.runtime.data_dir != config.runtime.data_dir
            || old.runtime.cache_dir != config.runtime.cache_dir
        {
            tracing::warn!(
                "[runtime] changes take effect at the next start; the sinks are reloaded now"
            );
        }
        let lanes = self.lanes();
        let mut report = ConfigReloadReport::default();
        let mut context = BuildContext::new(&config, registry)
            .with_budgets(built.budgets.clone())
            .with_sequences(built.sequences.clone())
            .with_engine(built.engine.clone());
        let mut swaps: Vec<(Arc<SinkLane>, Box<dyn Sink>, String)> = Vec::new();
        let mut added: Vec<Arc<SinkLane>> = Vec::new();
        let mut next: Vec<Arc<SinkLane>> = Vec::new();
        // Prepare everything; on any failure undo what was prepared.
        let prepared: Result<(), ConfigError> = (|| {
            for root in config.roots() {
                let existing = lanes.iter().find(|lane| lane.name() == root.name);
                match existing {
                    Some(lane) if same_subtree(old, &config, &root.name) => {
                        if same_when(old, &config, &root.name) {
                            report.unchanged.push(root.name.clone());
                        } else {
                            report.rerouted.push(root.name.clone());
                        }
                        next.push(lane.clone());
                    }
                    Some(lane) => {
                        let mut sink = context.build(root)?;
                        sink.start().map_err(|e| {
                            root.options
                                .invalid_sink(format!("the new instance failed to start: {e}"))
                        })?;
                        swaps.push((lane.clone(), sink, root.name.clone()));
                        report.changed.push(root.name.clone());
                        next.push(lane.clone());
                    }
                    None => {
                        let sink = context.build(root)?;
                        let lane = SinkLane::spawn(
                            &root.name,
                            sink,
                            &root.settings,
                            None,
                            self.data_dir(),
                        )
                        .map_err(|e| root.options.invalid_sink(format!("failed to start: {e}")))?;
                        let lane = Arc::new(lane);
                        added.push(lane.clone());
                        report.added.push(root.name.clone());
                        next.push(lane);
                    }
                }
            }
            Ok(())
        })();
        if let Err(err) = prepared {
            for (_, mut sink, _) in swaps {
                sink.stop();
            }
            for lane in added {
                lane.request_stop();
                lane.join();
            }
            tracing::warn!("configuration reload refused; nothing changed: {err}");
            return Err(err);
        }
        for (lane, sink, name) in swaps {
            let settings = config.sink(&name).expect("a root of the new config");
            lane.set_queue_limits(settings.settings.queue_capacity, settings.settings.overflow);
            let hash = crate::pipeline::sink_parts(&*sink)
                .reloader
                .map(|r| r.module_hash().to_owned());
            if let Err(err) = lane.swap(sink, Some(settings.settings.clone()), hash, false) {
                tracing::warn!(sink = %name, "{err}");
            }
        }
        let removed: Vec<Arc<SinkLane>> = lanes
            .iter()
            .filter(|lane| !next.iter().any(|n| Arc::ptr_eq(n, lane)))
            .cloned()
            .collect();
        let routes = crate::routing::RoutingTable::from_lanes(
            config
                .roots()
                .map(|root| (root.name.as_str(), root.settings.when.as_ref())),
        );
        self.replace_lanes(next, routes);
        for lane in &removed {
            lane.request_stop();
        }
        for lane in removed {
            lane.join();
            report.removed.push(lane.name().to_owned());
        }
        let engine = context.engine();
        drop(context);
        if built.engine.is_none() {
            built.engine = engine;
        }
        built.config = config;
        Ok(report)
    }
}
