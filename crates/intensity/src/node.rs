//! Node plumbing of the intensity ops: ports, the `volume` and `mask` inputs, the region of
//! a frame, and running a kernel on every frame of an image.

use crate::IntensityError;
use crate::frame::{CHUNK, map_voxel_slices};
use crate::region::{Over, Region};
use ndarray::{Array3, Array4, ArrayView3, Axis};
use rayon::prelude::*;
use std::sync::Arc;
use voxflow_core::{Inputs, Kind, OpError, Port, Value, Volume, Voxels};

/// The optional `mask` input of ops that compute statistics.
pub(crate) const MASK_PORT: Port = Port { name: "mask", accepts: &[Kind::Label], required: false };
pub(crate) const IMAGE_PORTS: &[Port] = &[Port::IMAGE];
pub(crate) const IMAGE_MASK_PORTS: &[Port] = &[Port::IMAGE, MASK_PORT];

/// Takes the `volume` input and checks that it is an image.
pub(crate) fn take_image(inputs: &mut Inputs) -> Result<Arc<Volume>, OpError> {
    let volume = inputs.volume("volume")?;
    if let Voxels::Label(_) = volume.voxels {
        return Err(OpError::Input {
            port: "volume".into(),
            message: "intensity ops take an image, got a label map".into(),
        });
    }
    Ok(volume)
}

/// The `mask` input as booleans `[x, y, z, t]` (label != 0, or label in `labels`), checked
/// against the image's grid. `None` when not connected.
pub(crate) fn take_mask(
    inputs: &mut Inputs,
    image: &Volume,
    labels: Option<&[i64]>,
) -> Result<Option<Array4<bool>>, OpError> {
    if !inputs.0.contains_key("mask") {
        return Ok(None);
    }
    let mask = inputs.volume("mask")?;
    let label_array =
        mask.labels().map_err(|e| OpError::Input { port: "mask".into(), message: e.to_string() })?;
    let [x, y, z, t] = mask.shape4();
    let [ix, iy, iz, it] = image.shape4();
    if [x, y, z] != [ix, iy, iz] || (t != 1 && t != it) {
        return Err(OpError::Input {
            port: "mask".into(),
            message: format!("mask shape {:?} does not fit the image's {:?}", mask.shape4(), image.shape4()),
        });
    }
    if (mask.affine - image.affine).abs().max() > 1e-3 {
        return Err(OpError::Input {
            port: "mask".into(),
            message: "the mask's affine differs from the image's: resample it onto the image's grid first"
                .into(),
        });
    }
    // The labels crate owns what a label mask is (`label != 0`, or one of `labels`).
    Ok(Some(voxflow_labels::mask(label_array, labels)))
}

/// The mask's frame for image frame `t` (a one-frame mask serves every frame).
pub(crate) fn mask_frame(mask: Option<&Array4<bool>>, t: usize) -> Option<ArrayView3<'_, bool>> {
    mask.map(|m| m.index_axis(Axis(3), t.min(m.shape()[3] - 1)))
}

/// Runs `f` on every frame of an image and assembles the output volume (same affine, stored
/// as float32).
pub(crate) fn map_image(
    volume: &Volume,
    f: impl Fn(usize, ArrayView3<'_, f32>) -> Result<Array3<f32>, IntensityError>,
) -> Result<Value, OpError> {
    let data = volume.image()?;
    let mut frames =
        data.axis_iter(Axis(3)).enumerate().map(|(t, fr)| f(t, fr)).collect::<Result<Vec<_>, _>>()?;
    let out = if frames.len() == 1 {
        frames.pop().expect("one frame").insert_axis(Axis(3))
    } else {
        voxflow_core::volume::stack_frames(&frames)
    };
    Ok(Value::Volume(Arc::new(Volume {
        voxels: Voxels::Image(out),
        affine: volume.affine,
        stored_dtype: voxflow_core::DType::F32,
    })))
}

/// Runs an elementwise op on every frame: `prepare(t, frame)` computes frame `t`'s per-voxel
/// function (statistics first), which is then applied in place when the volume is not shared
/// with another node (no allocation, no page faults), or into a new array otherwise.
pub(crate) fn map_image_voxels<F: Fn(f32) -> f32 + Sync>(
    volume: Arc<Volume>,
    prepare: impl Fn(usize, ArrayView3<'_, f32>) -> Result<F, IntensityError>,
) -> Result<Value, OpError> {
    map_image_slices(volume, |t, frame| {
        let f = prepare(t, frame)?;
        Ok(move |s: &mut [f32]| s.iter_mut().for_each(|v| *v = f(*v)))
    })
}

/// [`map_image_voxels`] for a function that transforms a slice of voxels in place.
pub(crate) fn map_image_slices<F: Fn(&mut [f32]) + Sync>(
    volume: Arc<Volume>,
    prepare: impl Fn(usize, ArrayView3<'_, f32>) -> Result<F, IntensityError>,
) -> Result<Value, OpError> {
    volume.image()?;
    match Arc::try_unwrap(volume) {
        Ok(mut owned) => {
            let Voxels::Image(data) = &mut owned.voxels else {
                return Err(OpError::Input { port: "volume".into(), message: "expected an image".into() });
            };
            for t in 0..data.shape()[3] {
                let f = prepare(t, data.index_axis(Axis(3), t))?;
                let mut frame = data.index_axis_mut(Axis(3), t);
                match frame.as_slice_memory_order_mut() {
                    Some(s) => s.par_chunks_mut(CHUNK).for_each(&f),
                    None => frame.par_map_inplace(|v| f(std::slice::from_mut(v))),
                }
            }
            owned.stored_dtype = voxflow_core::DType::F32;
            Ok(Value::Volume(Arc::new(owned)))
        }
        Err(shared) => map_image(&shared, |t, frame| Ok(map_voxel_slices(frame, prepare(t, frame)?))),
    }
}

/// The region of frame `t` for `over`, checking that a mask is connected exactly when
/// `over` is `mask`.
pub(crate) fn region_for(
    over: Over,
    mask: Option<&Array4<bool>>,
    t: usize,
) -> Result<Region<'_>, IntensityError> {
    match (over, mask_frame(mask, t)) {
        (Over::All, None) => Ok(Region::All),
        (Over::Nonzero, None) => Ok(Region::Nonzero),
        (Over::Mask, Some(m)) => Ok(Region::Mask(m)),
        (Over::Mask, None) => {
            Err(IntensityError::Mask("`over` is \"mask\" but no mask input is connected".into()))
        }
        (other, Some(_)) => Err(IntensityError::Mask(format!(
            "a mask is connected but `over` is \"{}\": set it to \"mask\"",
            other.name()
        ))),
    }
}
