//! The list form of a node, written out before the graph is built.
//!
//! One draw usually moves several volumes (an image, its label map, other modalities), and one
//! volume usually gets several draws in a row. Instead of one `apply` node per (volume, draw):
//!
//! * a node whose `volume` input is a list stands for one node per listed volume, named
//!   `{name}.{volume}`, with the same op, parameters and other inputs;
//! * an `apply` whose `draw` input is a list applies the draws in that order (the nodes in
//!   between are named `{name}.{volume}.{draw}`).
//!
//! ```json
//! {"name": "augment", "op": "apply",
//!  "inputs": {"volume": ["image", "label"], "draw": ["rotate", "flip", "crop"]}}
//! ```
//!
//! gives `augment.image` and `augment.label`, which later nodes name as inputs. The written-out
//! nodes are the graph: `graphrun validate` and `graphrun dot` show them, so every branch
//! stays explicit, and the graph's hash is over them.

use serde_json::{Map, Value};

/// Why a list-form node cannot be written out.
#[derive(Debug, thiserror::Error)]
#[error("node `{node}`: input `{port}` {problem}")]
pub struct ListError {
    pub node: String,
    pub port: String,
    pub problem: &'static str,
}

/// The names in a list-form input, or `None` when the input is not a list.
fn names(inputs: &Map<String, Value>, port: &str, node: &str) -> Result<Option<Vec<String>>, ListError> {
    let Some(Value::Array(items)) = inputs.get(port) else { return Ok(None) };
    let err = |problem| ListError { node: node.to_owned(), port: port.to_owned(), problem };
    if items.is_empty() {
        return Err(err("is an empty list; name at least one node"));
    }
    items
        .iter()
        .map(|item| item.as_str().map(ToOwned::to_owned).ok_or_else(|| err("must list node names (strings)")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// At most this many nodes once lists are written out: a graph is read before anything is
/// checked, and lists multiply (volumes x draws), so their product is bounded first.
pub const MAX_NODES: usize = 100_000;

/// Writes out every list-form node (see the module doc); other nodes pass unchanged.
pub fn expand(nodes: Vec<Value>) -> Result<Vec<Value>, ListError> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let (Some(name), Some(Value::Object(inputs))) =
            (node.get("name").and_then(Value::as_str), node.get("inputs"))
        else {
            out.push(node);
            continue;
        };
        let name = name.to_owned();
        let volumes = names(inputs, "volume", &name)?;
        let is_apply = node.get("op").and_then(Value::as_str) == Some("apply");
        let draws = if is_apply { names(inputs, "draw", &name)? } else { None };
        if !is_apply && names(inputs, "draw", &name)?.is_some() {
            return Err(ListError {
                node: name,
                port: "draw".into(),
                problem: "can be a list only in an `apply` node",
            });
        }
        if volumes.is_none() && draws.is_none() {
            out.push(node);
            continue;
        }
        let written = volumes.as_ref().map_or(1, Vec::len).saturating_mul(draws.as_ref().map_or(1, Vec::len));
        if out.len().saturating_add(written) > MAX_NODES {
            return Err(ListError {
                node: name,
                port: "volume".into(),
                problem: "makes the graph more than 100000 nodes",
            });
        }
        let listed = volumes.is_some();
        let volumes = match volumes {
            Some(v) => v,
            None => vec![inputs.get("volume").and_then(Value::as_str).unwrap_or_default().to_owned()],
        };
        for volume in &volumes {
            let last = if listed { format!("{name}.{volume}") } else { name.clone() };
            if let Some(draws) = &draws {
                let mut previous = volume.clone();
                for (k, draw) in draws.iter().enumerate() {
                    let step = if k + 1 == draws.len() { last.clone() } else { format!("{last}.{draw}") };
                    let mut copy = node.clone();
                    copy["name"] = Value::String(step.clone());
                    copy["inputs"]["volume"] = Value::String(previous);
                    copy["inputs"]["draw"] = Value::String(draw.clone());
                    out.push(copy);
                    previous = step;
                }
            } else {
                let mut copy = node.clone();
                copy["name"] = Value::String(last);
                copy["inputs"]["volume"] = Value::String(volume.clone());
                out.push(copy);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes_and_draws_are_written_out_in_order() {
        let nodes = vec![json!({"name": "aug", "op": "apply",
            "inputs": {"volume": ["image", "label"], "draw": ["rotate", "flip"]}})];
        let out = expand(nodes).expect("expands");
        let wired: Vec<(String, String, String)> = out
            .iter()
            .map(|n| {
                let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                (s(&n["name"]), s(&n["inputs"]["volume"]), s(&n["inputs"]["draw"]))
            })
            .collect();
        let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            wired,
            [
                t("aug.image.rotate", "image", "rotate"),
                t("aug.image", "aug.image.rotate", "flip"),
                t("aug.label.rotate", "label", "rotate"),
                t("aug.label", "aug.label.rotate", "flip"),
            ]
        );
    }

    #[test]
    fn a_volume_list_copies_the_node_and_a_draw_list_alone_keeps_the_name() {
        let out = expand(vec![
            json!({"name": "r", "op": "resize", "params": {"shape": [8, 8, 8]}, "inputs": {"volume": ["a", "b"]}}),
            json!({"name": "c", "op": "apply", "inputs": {"volume": "a", "draw": ["x", "y"]}}),
        ])
        .expect("expands");
        let names: Vec<&str> = out.iter().filter_map(|n| n["name"].as_str()).collect();
        assert_eq!(names, ["r.a", "r.b", "c.x", "c"]);
        assert_eq!(out[1]["params"]["shape"], json!([8, 8, 8]));
    }

    #[test]
    fn lists_cannot_multiply_without_bound() {
        let many: Vec<Value> = (0..400).map(|i| json!(format!("v{i}"))).collect();
        let node = json!({"name": "n", "op": "apply", "inputs": {"volume": many.clone(), "draw": many}});
        let err = expand(vec![node]).expect_err("160000 nodes");
        assert!(err.to_string().contains("more than 100000 nodes"), "{err}");
    }

    #[test]
    fn bad_lists_name_node_and_port() {
        let empty = expand(vec![json!({"name": "n", "op": "apply", "inputs": {"volume": [], "draw": "d"}})]);
        assert_eq!(
            empty.expect_err("empty").to_string(),
            "node `n`: input `volume` is an empty list; name at least one node"
        );
        let numbers = expand(vec![json!({"name": "n", "op": "flip", "inputs": {"volume": [1]}})]);
        assert!(numbers.expect_err("numbers").to_string().contains("must list node names"));
        let draw = expand(vec![json!({"name": "n", "op": "clip", "inputs": {"volume": "a", "draw": ["d"]}})]);
        assert!(draw.expect_err("draw list").to_string().contains("only in an `apply` node"));
    }
}
