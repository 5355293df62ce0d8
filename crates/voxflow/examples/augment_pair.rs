//! One random draw applied to an image and its label map alike, as a graph's `apply` does:
//! `cargo run -p voxflow --example augment_pair -- SEED`. The same op and seed give the same
//! draw, so the two stay aligned; the label map is resampled nearest-neighbour and keeps its type.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map_or(Ok(1), |s| s.parse())?;
    let image = voxflow::read(voxflow::sample("mni152_t1.nii.gz"), voxflow::Kind::Image)?;
    let label = voxflow::read(voxflow::sample("mni152_tissue_labels.nii.gz"), voxflow::Kind::Label)?;
    let rotate = voxflow::op("random_rotate", serde_json::json!({"degrees": [-20, 20]}))?;
    let image_out = voxflow::apply_seeded(&*rotate, &image, seed)?;
    let label_out = voxflow::apply_seeded(&*rotate, &label, seed)?;
    assert_eq!(image_out.shape3(), label_out.shape3());
    assert_eq!(label_out.kind(), voxflow::Kind::Label);
    println!("seed {seed}: image {:?} and label {:?}, one draw", image_out.shape3(), label_out.shape3());
    Ok(())
}
