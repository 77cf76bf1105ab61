//! `sinkbox inspect`: what a component imports and exports, and whether it
//! fits the sink contract.

use std::path::Path;

use wasmtime::component::types::ComponentItem;

use super::{WasmEngine, WasmError};

/// What `inspect` found in a component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentReport {
    /// Imported names, each with its kind (`instance`, `func`, …).
    pub imports: Vec<(String, String)>,
    /// Exported names, each with its kind.
    pub exports: Vec<(String, String)>,
    /// The contract version it speaks when it links against the host and
    /// exports the sink interface; otherwise what does not fit.
    pub contract: Result<super::ContractVersion, String>,
}

/// Compiles the component at `path` and reports its imports, exports and
/// whether it fits the sink contract. Fails only when the file is not a
/// readable, valid component.
pub fn inspect_component(engine: &WasmEngine, path: &Path) -> Result<ComponentReport, WasmError> {
    let (component, _) = engine.compile(path)?;
    let ty = component.component_type();
    let kind = |item: &ComponentItem| -> String {
        match item {
            ComponentItem::ComponentFunc(_) => "func",
            ComponentItem::CoreFunc(_) => "core func",
            ComponentItem::Module(_) => "core module",
            ComponentItem::Component(_) => "component",
            ComponentItem::ComponentInstance(_) => "instance",
            ComponentItem::Type(_) => "type",
            ComponentItem::Resource(_) => "resource",
        }
        .to_owned()
    };
    let imports = ty
        .imports(engine.engine())
        .map(|(name, item)| (name.to_owned(), kind(&item.ty)))
        .collect();
    let exports = ty
        .exports(engine.engine())
        .map(|(name, item)| (name.to_owned(), kind(&item.ty)))
        .collect();
    let contract = engine
        .link(path, &component)
        .map(|pre| pre.version())
        .map_err(|err| match err {
            WasmError::Contract { message, .. } => message,
            other => other.to_string(),
        });
    Ok(ComponentReport {
        imports,
        exports,
        contract,
    })
}
