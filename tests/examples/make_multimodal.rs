//! Writes the synthetic multi-modal dataset (see `voxflow_tests::multimodal`):
//! `cargo run -p voxflow-tests --example make_multimodal -- DIR [CASES]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: make_multimodal DIR [CASES]")?;
    let cases: usize = args.next().map_or(Ok(3), |c| c.parse())?;
    voxflow_tests::multimodal::write_dataset(std::path::Path::new(&dir), cases)?;
    println!("{cases} cases written to {dir} (nnU-Net layout: imagesTr/, labelsTr/)");
    Ok(())
}
