//! The set of sink types a configuration may use.

use super::sink_type::{SinkType, UriForm};

/// Why a type could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is taken.
    #[error("a sink type named `{0}` is already registered; choose another name")]
    NameTaken(String),
    /// The URI scheme is taken.
    #[error("the URI scheme `{scheme}://` of `{new}` is already used by `{existing}`")]
    SchemeTaken {
        /// The scheme.
        scheme: String,
        /// The type being registered.
        new: String,
        /// The type that has it.
        existing: String,
    },
    /// An option is declared twice, or clashes with an option every sink has.
    #[error(
        "sink type `{sink_type}` declares option `{option}` twice or reuses a common option's name"
    )]
    DuplicateOption {
        /// The type.
        sink_type: String,
        /// The option.
        option: String,
    },
}

/// The sink types a configuration may use.
#[derive(Clone, Debug, Default)]
pub struct SinkRegistry {
    types: Vec<SinkType>,
}

impl SinkRegistry {
    /// A registry with no types at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds a type. A name, URI scheme or option that collides is an error.
    pub fn register(&mut self, sink_type: SinkType) -> Result<(), RegistryError> {
        if self.get(sink_type.name()).is_some() {
            return Err(RegistryError::NameTaken(sink_type.name().to_owned()));
        }
        if let Some(form) = sink_type.uri_form() {
            for scheme in form.schemes {
                if let Some((existing, _)) = self.type_for_scheme(scheme) {
                    return Err(RegistryError::SchemeTaken {
                        scheme: (*scheme).to_owned(),
                        new: sink_type.name().to_owned(),
                        existing: existing.name().to_owned(),
                    });
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for spec in sink_type.option_specs() {
            if !seen.insert(spec.name)
                || super::common_options::is_common_option(spec.name)
                || spec.name == "type"
            {
                return Err(RegistryError::DuplicateOption {
                    sink_type: sink_type.name().to_owned(),
                    option: spec.name.to_owned(),
                });
            }
        }
        self.types.push(sink_type);
        Ok(())
    }

    /// The type named `name`.
    pub fn get(&self, name: &str) -> Option<&SinkType> {
        self.types.iter().find(|t| t.name() == name)
    }

    /// Every type, in registration order.
    pub fn types(&self) -> &[SinkType] {
        &self.types
    }

    /// Every URI scheme.
    pub fn uri_schemes(&self) -> impl Iterator<Item = &str> {
        self.types
            .iter()
            .filter_map(|t| t.uri_form())
            .flat_map(|form| form.schemes.iter().copied())
    }

    /// The type a URI scheme selects.
    pub fn type_for_scheme(&self, scheme: &str) -> Option<(&SinkType, &UriForm)> {
        self.types.iter().find_map(|t| {
            t.uri_form()
                .filter(|form| form.schemes.contains(&scheme))
                .map(|form| (t, form))
        })
    }
}
