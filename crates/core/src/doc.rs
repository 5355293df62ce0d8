//! User documentation of ops, registered next to each op with [`op_doc!`](crate::op_doc) and
//! listed by `graphrun ops`; the registry behind the graph file's JSON Schema too.

/// One op's documentation: what it does, a minimal valid `params` object and the JSON Schema
/// of its parameters.
#[derive(Debug, Clone, Copy)]
pub struct OpDoc {
    /// The op's registered name (its `op` string in a graph file).
    pub name: &'static str,
    /// One or two sentences on what the op does.
    pub summary: &'static str,
    /// A minimal valid JSON `params` object for the op.
    pub example: &'static str,
    /// The JSON Schema of the op's `params` object ([`params_schema`] of its parameter type).
    pub params_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// The parameter type's Rust `Default`, as JSON: what `Params::default()` is in a graph
    /// (a test holds it to the schema's defaults, so Rust and graph files agree).
    pub default_params: fn() -> serde_json::Value,
}

impl PartialEq for OpDoc {
    /// Docs are equal when their text is (function pointers have no meaningful equality).
    fn eq(&self, other: &Self) -> bool {
        (self.name, self.summary, self.example) == (other.name, other.summary, other.example)
    }
}

impl Eq for OpDoc {}

inventory::collect!(OpDoc);

/// The schema of an op's parameter type `T` ([`OpDoc::params_schema`]): `T`'s own schema
/// (inline; types it shares with other ops are references into the generator's definitions).
/// Parameter types deny unknown fields, so the schema admits no key they do not name.
pub fn params_schema<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = T::json_schema(generator).to_value();
    strip_code_examples(&mut schema);
    schemars::Schema::try_from(schema).unwrap_or_default()
}

/// Removes the Rust examples (fenced code blocks) that doc comments carry from every
/// `description` in `schema`, recursively: they document the Rust API, not the graph file.
pub fn strip_code_examples(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::String(text)) = object.get_mut("description") {
                // Rust blocks (no language, or `rust...`) go; `json` blocks, graph examples, stay.
                let mut kept: Vec<&str> = Vec::new();
                let mut fence: Option<bool> = None; // Some(keep) inside a block
                for line in text.lines() {
                    let trimmed = line.trim_start();
                    if let Some(info) = trimmed.strip_prefix("```") {
                        let keep = match fence {
                            None => !(info.is_empty() || info.starts_with("rust")),
                            Some(keep) => keep,
                        };
                        fence = if fence.is_some() { None } else { Some(keep) };
                        if keep {
                            kept.push(line);
                        }
                    } else if fence.is_none_or(|keep| keep) && !(line.is_empty() && kept.last() == Some(&""))
                    {
                        kept.push(line);
                    }
                }
                let mut joined = kept.join("\n");
                joined.truncate(joined.trim_end().len());
                *text = joined;
            }
            object.values_mut().for_each(strip_code_examples);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_code_examples),
        _ => {}
    }
}

/// `T::default()` as JSON (`null` if it does not serialize, which the op-docs test reports).
#[must_use]
pub fn default_params<T: Default + serde::Serialize>() -> serde_json::Value {
    serde_json::to_value(T::default()).unwrap_or(serde_json::Value::Null)
}

/// Every registered op doc (in no particular order).
pub fn op_docs() -> impl Iterator<Item = &'static OpDoc> {
    inventory::iter::<OpDoc>.into_iter()
}

/// Registers an op's documentation and parameter type, next to the op's
/// `#[typetag::serde(name = "name")]` impl:
/// `op_doc!("name", ParamsType, "summary", r#"{...params...}"#);`. `ParamsType` is the type
/// typetag deserializes the node's `params` into (it derives `schemars::JsonSchema` and
/// implements `Default` as the graph's defaults, with neutral values for required keys).
#[macro_export]
macro_rules! op_doc {
    ($name:literal, $params:ty, $summary:literal, $example:literal) => {
        $crate::inventory::submit! {
            $crate::OpDoc {
                name: $name,
                summary: $summary,
                example: $example,
                params_schema: $crate::doc::params_schema::<$params>,
                default_params: $crate::doc::default_params::<$params>,
            }
        }
    };
}
