//! Connected components of a label map, per label, as `scipy.ndimage.label` finds them: the
//! kernel behind `keep_largest_component` and `remove_small_components`.
//!
//! One union-find over the frame's Fortran-order buffer joins neighbouring voxels that hold the
//! same (selected) label, so every label's components come out of one pass; two `u32` buffers
//! of the frame's size, no per-voxel allocation. A component's root is its first voxel in C
//! order (x slowest), which is the order `scipy.ndimage.label` numbers components in, so "the
//! first of two equally large components" means what it means for `np.argmax` over scipy's
//! sizes. Deterministic: nothing depends on threads or hashing.

use crate::LabelsError;
use ndarray::{Array3, ArrayView3, ShapeBuilder};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use voxflow_core::LabelType;

/// Which neighbours touch: scipy's `generate_binary_structure(3, 1 | 2 | 3)`. In parameters,
/// the neighbour count: 6, 18 or 26.
///
/// ```
/// use voxflow_labels::{Connectivity, Keep, filter_components};
/// // Two voxels of label 1 that share only a corner.
/// let frame = ndarray::Array3::<u8>::from_shape_fn((2, 2, 2), |(x, y, z)| u8::from(x == y && y == z));
/// let kept = |c| filter_components(frame.view(), c, None, Keep::Largest, 0).map(|a| a.sum());
/// assert_eq!(kept(Connectivity::Corners)?, 2); // one component
/// assert_eq!(kept(Connectivity::Faces)?, 1); // two of one voxel: the first is kept
/// assert_eq!(serde_json::from_str::<Connectivity>("6")?, Connectivity::Faces);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum Connectivity {
    /// 6 neighbours: shared faces (`generate_binary_structure(3, 1)`).
    Faces,
    /// 18 neighbours: shared faces or edges (`generate_binary_structure(3, 2)`).
    Edges,
    /// 26 neighbours: shared faces, edges or corners (`generate_binary_structure(3, 3)`).
    #[default]
    Corners,
}

impl TryFrom<u32> for Connectivity {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        match n {
            6 => Ok(Connectivity::Faces),
            18 => Ok(Connectivity::Edges),
            26 => Ok(Connectivity::Corners),
            other => Err(format!("connectivity must be 6, 18 or 26, got {other}")),
        }
    }
}

impl From<Connectivity> for u32 {
    fn from(c: Connectivity) -> u32 {
        match c {
            Connectivity::Faces => 6,
            Connectivity::Edges => 18,
            Connectivity::Corners => 26,
        }
    }
}

impl Connectivity {
    /// The neighbours already visited in a Fortran-order scan (z, then y, then x outermost
    /// last): `(dx, dy, dz)` before `(0, 0, 0)` in that order, within the connectivity.
    fn backward(self) -> Vec<[isize; 3]> {
        let max_l1 = match self {
            Connectivity::Faces => 1,
            Connectivity::Edges => 2,
            Connectivity::Corners => 3,
        };
        let mut out = Vec::with_capacity(13);
        for dz in -1isize..=1 {
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let before = (dz, dy, dx) < (0, 0, 0);
                    if before && dx.abs() + dy.abs() + dz.abs() <= max_l1 {
                        out.push([dx, dy, dz]);
                    }
                }
            }
        }
        out
    }
}

/// Which components a filter keeps.
///
/// ```
/// use voxflow_labels::{Connectivity, Keep, filter_components};
/// // Label 3 in a row of 5 voxels: a component of 2 voxels and one of 1.
/// let frame = ndarray::Array3::<u8>::from_shape_vec((5, 1, 1), vec![3, 3, 0, 3, 0])?;
/// let big = filter_components(frame.view(), Connectivity::Faces, None, Keep::AtLeast(2), 0)?;
/// assert_eq!(big.iter().copied().collect::<Vec<u8>>(), [3, 3, 0, 0, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Per label, the largest component (ties: the first in C order, as `np.argmax`).
    Largest,
    /// Components of at least this many voxels.
    AtLeast(u64),
}

/// The union-find over one frame.
struct Forest {
    parent: Vec<u32>,
    shape: [usize; 3],
}

impl Forest {
    #[inline]
    fn find(&mut self, mut i: u32) -> u32 {
        // Path halving.
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            let gp = self.parent[p as usize];
            self.parent[i as usize] = gp;
            i = gp;
        }
        i
    }

    /// The C-order position of Fortran-order index `i`.
    #[inline]
    fn c_order(&self, i: u32) -> u64 {
        let [nx, ny, nz] = self.shape;
        let i = i as usize;
        let (x, rest) = (i % nx, i / nx);
        let (y, z) = (rest % ny, rest / ny);
        ((x * ny + y) * nz + z) as u64
    }

    /// Joins the trees of `a` and `b`; the root is the one first in C order.
    #[inline]
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            if self.c_order(ra) < self.c_order(rb) {
                self.parent[rb as usize] = ra;
            } else {
                self.parent[ra as usize] = rb;
            }
        }
    }
}

/// The frame's voxels in Fortran order (borrowed when the view already is).
fn fortran<T: Copy>(frame: ArrayView3<'_, T>) -> Cow<'_, [T]> {
    let reversed = frame.reversed_axes();
    match reversed.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(reversed.iter().copied().collect()),
    }
}

/// Removes components of the selected labels (`labels`; `None` = every non-zero label) that
/// `keep` rejects, writing `fill` in their place. Other voxels are copied. Each label's
/// components are separate even where two labels touch.
///
/// ```
/// use voxflow_labels::{Connectivity, Keep, filter_components};
/// // Labels 1 and 2 touch, each in one piece; a stray voxel of 1 at the far end.
/// let frame = ndarray::Array3::<i32>::from_shape_vec((6, 1, 1), vec![1, 1, 2, 2, 0, 1])?;
/// let out = filter_components(frame.view(), Connectivity::Corners, Some(&[1]), Keep::Largest, -1)?;
/// assert_eq!(out.iter().copied().collect::<Vec<i32>>(), [1, 1, 2, 2, 0, -1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn filter_components<T: LabelType>(
    frame: ArrayView3<'_, T>,
    connectivity: Connectivity,
    labels: Option<&[i64]>,
    keep: Keep,
    fill: T,
) -> Result<Array3<T>, LabelsError> {
    let (nx, ny, nz) = frame.dim();
    let n = nx * ny * nz;
    if u32::try_from(n).is_err() {
        return Err(LabelsError::Input(format!(
            "a frame of {n} voxels is too large for connected components (at most {} voxels)",
            u32::MAX
        )));
    }
    let buf = fortran(frame);
    let selected = |v: T| match labels {
        None => v != T::default(),
        Some(ls) => ls.iter().any(|&l| i128::from(l) == v.to_i128()),
    };
    // Selection per distinct value, cached: label maps are long runs of one value.
    let mut last: Option<(T, bool)> = None;
    let mut is_selected = |v: T| match last {
        Some((lv, s)) if lv == v => s,
        _ => {
            let s = selected(v);
            last = Some((v, s));
            s
        }
    };

    let mut forest = Forest { parent: (0..n as u32).collect(), shape: [nx, ny, nz] };
    let neighbours = connectivity.backward();
    let (sy, sz) = (nx as isize, (nx * ny) as isize);
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let i = x + nx * (y + ny * z);
                let v = buf[i];
                if !is_selected(v) {
                    continue;
                }
                for &[dx, dy, dz] in &neighbours {
                    let (qx, qy, qz) = (x as isize + dx, y as isize + dy, z as isize + dz);
                    if qx < 0 || qy < 0 || qz < 0 || qx >= nx as isize || qy >= ny as isize {
                        continue;
                    }
                    let q = (i as isize + dx + dy * sy + dz * sz) as usize;
                    if buf[q] == v {
                        forest.union(i as u32, q as u32);
                    }
                }
            }
        }
    }

    // Roots and sizes. `size` is indexed by root; afterwards it marks the kept roots.
    let mut size = vec![0u32; n];
    for i in 0..n {
        if is_selected(buf[i]) {
            let r = forest.find(i as u32);
            forest.parent[i] = r;
            size[r as usize] += 1;
        }
    }
    match keep {
        Keep::AtLeast(min) => {
            for s in &mut size {
                *s = u32::from(u64::from(*s) >= min);
            }
        }
        Keep::Largest => {
            // Per label: (size, C-order position of the root, root) of the best component.
            let mut best: BTreeMap<T, (u32, u64, u32)> = BTreeMap::new();
            for i in 0..n {
                let s = size[i];
                if s == 0 {
                    continue;
                }
                let c = forest.c_order(i as u32);
                let entry = best.entry(buf[i]).or_insert((s, c, i as u32));
                if s > entry.0 || (s == entry.0 && c < entry.1) {
                    *entry = (s, c, i as u32);
                }
            }
            size.fill(0);
            for &(_, _, root) in best.values() {
                size[root as usize] = 1;
            }
        }
    }

    let mut out = buf.into_owned();
    for (i, o) in out.iter_mut().enumerate() {
        if is_selected(*o) && size[forest.parent[i] as usize] == 0 {
            *o = fill;
        }
    }
    Array3::from_shape_vec((nx, ny, nz).f(), out).map_err(|e| LabelsError::Input(e.to_string()))
}

/// What a component op does: the parameters both share (`connectivity`, `labels`, `fill`) and
/// which components it keeps.
pub(crate) struct Filter<'a> {
    pub connectivity: Connectivity,
    pub labels: Option<&'a [i64]>,
    pub keep: Keep,
    pub fill: i64,
}

/// A component op (`keep_largest_component`, `remove_small_components`): its parameters, their
/// check and its [`Filter`]. [`component_op_node!`](crate::components::component_op_node) is its
/// whole `Op` impl.
pub(crate) trait ComponentOp {
    /// What the op does with the components.
    fn filter(&self) -> Filter<'_>;
    /// Checks the op's own parameters (the shared ones are [`Filter::check`]ed after).
    fn check(&self) -> Result<(), voxflow_core::OpError> {
        Ok(())
    }
}

/// The body of a [`ComponentOp`]'s `impl Op`: a label map in, filtered.
macro_rules! component_op_node {
    () => {
        fn ports(&self) -> &'static [::voxflow_core::Port] {
            $crate::common::LABEL_PORTS
        }

        fn validate(&self) -> ::std::result::Result<(), ::voxflow_core::OpError> {
            $crate::components::ComponentOp::check(self)?;
            $crate::components::ComponentOp::filter(self).check()
        }

        fn run(
            &self,
            _ctx: &mut ::voxflow_core::RunContext<'_>,
            mut inputs: ::voxflow_core::Inputs,
        ) -> ::std::result::Result<::voxflow_core::Value, ::voxflow_core::OpError> {
            ::voxflow_core::Op::validate(self)?;
            $crate::components::ComponentOp::filter(self).run(&mut inputs)
        }
    };
}
pub(crate) use component_op_node;

impl Filter<'_> {
    /// Checks the shared parameters (`labels` without repeats).
    pub fn check(&self) -> Result<(), voxflow_core::OpError> {
        if let Some(labels) = self.labels {
            crate::common::check_unique("labels", labels)?;
        }
        Ok(())
    }

    /// The node's `run` once its parameters are checked: the label map on `volume`, filtered
    /// (dtype and affine kept).
    pub fn run(
        &self,
        inputs: &mut voxflow_core::Inputs,
    ) -> Result<voxflow_core::Value, voxflow_core::OpError> {
        let volume = crate::common::take_labels(inputs)?;
        let out = run_filter(&volume, self.connectivity, self.labels, self.keep, self.fill)?;
        Ok(crate::common::label_value(out, &volume))
    }
}

/// The parameters both component ops share, checked and turned into a kernel call.
pub(crate) fn run_filter(
    volume: &voxflow_core::Volume,
    connectivity: Connectivity,
    labels: Option<&[i64]>,
    keep: Keep,
    fill: i64,
) -> Result<voxflow_core::LabelArray, LabelsError> {
    let labels_array = volume.labels().map_err(|e| LabelsError::Input(e.to_string()))?;
    Ok(voxflow_core::map_labels!(labels_array, |a: T| {
        let fill = crate::common::to_label::<T>("fill", i128::from(fill))?;
        crate::common::map_label_frames(a, |f| filter_components::<T>(f, connectivity, labels, keep, fill))?
    }))
}

impl schemars::JsonSchema for Connectivity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Connectivity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Neighbours that connect: 6 (faces), 18 (and edges) or 26 (and corners).",
            "type": "integer",
            "enum": [6, 18, 26]
        })
    }
}
