//! How errors read for humans: a chain flattened once, and "did you mean" for unknown names.
//!
//! Every error type of voxflow says only its own layer in its message and keeps its cause as
//! `source()`; [`error_chain`] is the one place a chain becomes text (`a: b: c`), for the CLI,
//! the failure list and the manifest alike.

use std::fmt::{self, Write as _};

/// An error with its sources, on one line: `outer: inner: innermost`.
///
/// A source whose message is the one just written (a wrapper that forwards its cause's
/// message) is written once.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut last = s.clone();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if text != last {
            s.push_str(": ");
            s.push_str(&text);
            last = text;
        }
        source = inner.source();
    }
    s
}

/// The candidate nearest to `name` (Levenshtein distance, case-insensitive), if it is close
/// enough to be a typo: at most a third of the name's length, and at least one edit. Ties go to
/// the first candidate.
#[must_use]
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let budget = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|&(d, c)| d <= budget && c != name)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// The names serde lists after "expected" in its messages about unknown names: `expected one
/// of `a`, `b``, `expected `a` or `b``, `expected `a``. Empty when the message lists none.
/// (serde formats these lists itself, whatever the data format; the registry of ops and the
/// suggestions for unknown parameters and values read them from here.)
#[must_use]
pub fn serde_expected(message: &str) -> Vec<&str> {
    message
        .split_once("expected ")
        .map(|(_, list)| list.split('`').skip(1).step_by(2).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// A JSON value that does not have the expected shape: where it is, what serde said, and the
/// nearest valid name when the problem is an unknown name.
#[derive(Debug)]
pub struct JsonProblem {
    /// What the path names: `key` (top level of a graph file), `field` (a node), `parameter`.
    pub label: &'static str,
    /// The path to the offending value (`outputs`, `axes[1]`, `nan.replace`), or `None` when
    /// it is the value itself (or an unknown name in it, which serde's message names).
    pub at: Option<String>,
    /// serde's message (for text, with its line and column).
    pub error: serde_json::Error,
    /// For an unknown field or variant: the nearest valid one.
    pub suggestion: Option<String>,
}

impl JsonProblem {
    /// Places serde's error: the path without its first `skip` segments (e.g. a node's
    /// `params`), and, for an unknown field (whose name serde's message gives), without the
    /// unknown field itself.
    #[must_use]
    pub fn new(label: &'static str, e: serde_path_to_error::Error<serde_json::Error>, skip: usize) -> Self {
        let mut segments: Vec<String> = Vec::new();
        for segment in e.path().iter().skip(skip) {
            match segment {
                serde_path_to_error::Segment::Seq { index } => match segments.last_mut() {
                    Some(last) => {
                        let _ = write!(last, "[{index}]");
                    }
                    None => segments.push(format!("[{index}]")),
                },
                serde_path_to_error::Segment::Map { key } => segments.push(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => segments.push(variant.clone()),
                serde_path_to_error::Segment::Unknown => segments.push("?".to_owned()),
            }
        }
        let error = e.into_inner();
        let message = error.to_string();
        let unknown_field = message.starts_with("unknown field ");
        let unknown_name = unknown_field || message.starts_with("unknown variant ");
        if unknown_field {
            segments.pop();
        }
        let suggestion = if unknown_name {
            // serde's message: "unknown field `name`, expected one of `a`, `b`".
            message
                .split('`')
                .nth(1)
                .and_then(|name| nearest(name, serde_expected(&message)))
                .map(ToOwned::to_owned)
        } else {
            None
        };
        let at = (!segments.is_empty()).then(|| segments.join("."));
        JsonProblem { label, at, error, suggestion }
    }
}

impl fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{} `{at}`: ", self.label)?;
        }
        write!(f, "{}", self.error)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

// serde's message is written by this type's Display, so it is no `source()`: the chain says it
// once.
impl std::error::Error for JsonProblem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error(transparent)]
    struct Middle(#[from] std::io::Error);

    #[test]
    fn a_chain_is_joined_once() {
        let e = Outer(Middle(std::io::Error::new(std::io::ErrorKind::NotFound, "gone")));
        assert_eq!(error_chain(&e), "outer: gone");
    }

    #[test]
    fn nearest_names() {
        let ops = ["random_flip", "random_rotate", "rotate", "flip"];
        assert_eq!(nearest("random_rotat", ops), Some("random_rotate"));
        assert_eq!(nearest("Rotate", ops), Some("rotate"));
        assert_eq!(nearest("spin", ops), None);
        assert_eq!(nearest("bilinear", ["nearest", "linear", "cubic"]), Some("linear"));
    }

    #[test]
    fn serde_lists() {
        assert_eq!(serde_expected("unknown field `x`, expected one of `a`, `b`, `c`"), ["a", "b", "c"]);
        assert_eq!(serde_expected("unknown variant `x`, expected `a` or `b`"), ["a", "b"]);
        assert_eq!(serde_expected("unknown field `x`, expected `a` at line 1 column 4"), ["a"]);
        assert!(serde_expected("unknown field `x`, there are no fields").is_empty());
    }
}
