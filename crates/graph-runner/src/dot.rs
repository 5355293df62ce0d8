//! `graphrun dot`: a graph as Graphviz DOT. Image branches are blue, label branches green,
//! random (draw) nodes orange diamonds with dashed edges to every node sharing their draw.

use crate::graph::Graph;
use std::fmt::Write;
use voxflow_core::Kind;

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// The DOT text of a graph.
#[must_use]
pub fn to_dot(graph: &Graph) -> String {
    let mut out =
        String::from("digraph voxflow {\n  rankdir=LR;\n  node [style=filled, fontname=\"Helvetica\"];\n");
    for node in &graph.nodes {
        let (shape, color) = match node.kind {
            Kind::Image => ("box", "lightblue"),
            Kind::Label => ("box", "palegreen"),
            Kind::Draw => ("diamond", "orange"),
        };
        let shape = if node.load.is_some() || node.save.is_some() { "folder" } else { shape };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{}\", shape={shape}, fillcolor={color}];",
            quote(&node.name),
            escape(&node.name),
            escape(&node.op_name)
        );
    }
    for node in &graph.nodes {
        for (port, &from) in &node.inputs {
            let src = &graph.nodes[from];
            let style = match src.kind {
                Kind::Image => "color=blue",
                Kind::Label => "color=darkgreen",
                Kind::Draw => "color=orange, style=dashed, penwidth=2",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, {style}];",
                quote(&src.name),
                quote(&node.name),
                quote(port)
            );
        }
    }
    out.push_str("}\n");
    out
}
