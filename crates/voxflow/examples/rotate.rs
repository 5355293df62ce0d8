//! Rotates a volume by 10° about z and writes it: `cargo run -p voxflow --example rotate -- IN OUT`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = args.next().map_or_else(|| voxflow::sample("someones_epi.nii.gz"), Into::into);
    let output = args.next().unwrap_or_else(|| "rotated.nii.gz".to_owned());
    let volume = voxflow::read(&input, voxflow::Kind::Image)?;
    let rotate = voxflow::op("rotate", serde_json::json!({"angle": 10.0, "interpolation": "cubic"}))?;
    let rotated = voxflow::apply(&*rotate, &volume)?;
    voxflow::write(&output, &rotated)?;
    println!("{} -> {output}: {:?}", input.display(), rotated.shape3());
    Ok(())
}
