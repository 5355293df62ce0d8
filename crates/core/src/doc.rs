//! User documentation of ops, registered next to each op with [`op_doc!`](crate::op_doc) and
//! listed by `graphrun ops`.

/// One op's documentation: what it does and a minimal valid `params` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpDoc {
    /// The op's registered name (its `op` string in a graph file).
    pub name: &'static str,
    /// One or two sentences on what the op does.
    pub summary: &'static str,
    /// A minimal valid JSON `params` object for the op.
    pub example: &'static str,
}

inventory::collect!(OpDoc);

/// Every registered op doc (in no particular order).
pub fn op_docs() -> impl Iterator<Item = &'static OpDoc> {
    inventory::iter::<OpDoc>.into_iter()
}

/// Registers an op's documentation: `op_doc!("name", "summary", r#"{...params...}"#);`, next to
/// the op's `#[typetag::serde(name = "name")]` impl.
#[macro_export]
macro_rules! op_doc {
    ($name:literal, $summary:literal, $example:literal) => {
        $crate::inventory::submit! {
            $crate::OpDoc { name: $name, summary: $summary, example: $example }
        }
    };
}
