//! Runs a graph file over one case, as `graphrun` does, from Rust:
//! `cargo run -p voxflow --example run_graph -- GRAPH.json OUT`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    voxflow::graph_runner::register_all();
    let mut args = std::env::args().skip(1);
    let graph_path = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs/flip.json").to_owned());
    let out = args.next().unwrap_or_else(|| "out/run_graph".to_owned());
    let graph = voxflow::Graph::from_path(std::path::Path::new(&graph_path))?;
    let inputs = std::collections::BTreeMap::from([
        ("image".to_owned(), voxflow::sample("mni152_t1.nii.gz").display().to_string()),
        ("label".to_owned(), voxflow::sample("mni152_tissue_labels.nii.gz").display().to_string()),
    ]);
    let cases = voxflow::graph_runner::dataset::single(Some("mni"), &inputs, std::path::Path::new(""))?;
    let mut options = voxflow::RunOptions::new(&out);
    options.overwrite = true;
    let summary = voxflow::run::run(&graph, &cases, &options)?;
    println!("{}", summary.line());
    Ok(())
}
