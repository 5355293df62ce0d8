//! Random ops: a parameter struct with its check and its draw, made a graph node by
//! [`random_op_node!`](crate::random_op_node). Its output is the draw (`Value::Draw`), the
//! concrete op that every `apply` consuming it runs, so one draw transforms an image and its
//! label map alike.
//!
//! A draw that fits any grid (intensity draws, flips, rotations, elastic fields) needs nothing
//! but the node's generator (`type Like = ()`: the node has no inputs). A draw that depends on
//! the volume (a crop's corner needs the shape, a foreground crop the label map) takes it on a
//! `like` input, as a [`LikeShape`] or a [`LikeLabels`].

use crate::{Inputs, Kind, LabelArray, Op, OpError, Port, Value, Volume, seed::Rng};
use std::sync::Arc;

/// A random op: its parameters, their check, and how one draw is made.
pub trait RandomOp {
    /// The concrete op one draw is (or [`OneOf`] two ops, when the draw may be either).
    type Drawn: IntoDraw;
    /// What the draw needs of the volume on the `like` input (`()`: nothing, no input).
    type Like: Like;
    /// The kinds of volume a draw may be applied to (intensity draws: images only), checked
    /// when the graph is validated.
    const APPLIES_TO: &'static [Kind];
    /// Checks the parameters (the node's `validate`).
    fn check(&self) -> Result<(), OpError>;
    /// Draws the concrete op from the node's generator (an error when it cannot fit `like`).
    fn draw(&self, rng: &mut Rng, like: Self::Like) -> Result<Self::Drawn, OpError>;
    /// The grid shape every draw's op gives the volume it is applied to, when the parameters
    /// fix it (a crop's `size`); `None` (the default): the drawn op keeps the grid.
    fn drawn_shape(&self) -> Option<[usize; 3]> {
        None
    }
    /// Whether a drawn op may change the grid's shape in a way only the draw decides (see
    /// [`crate::Facts::reshapes`]); default false.
    const RESHAPES: bool = false;
}

/// A value uniform in `[low, high]` (`low` itself, drawing nothing, when `high <= low`).
pub fn uniform(rng: &mut impl rand::Rng, [low, high]: [f64; 2]) -> f64 {
    use rand::RngExt;
    if low < high { rng.random_range(low..=high) } else { low }
}

/// Whether a draw with probability `p` happens.
pub fn happens(rng: &mut impl rand::Rng, p: f64) -> bool {
    use rand::RngExt;
    rng.random_bool(p)
}

/// A drawn op as it travels on an edge ([`Value::Draw`]).
pub trait IntoDraw {
    fn into_draw(self) -> Arc<dyn Op>;
}

impl<T: Op + 'static> IntoDraw for T {
    fn into_draw(self) -> Arc<dyn Op> {
        Arc::new(self)
    }
}

/// A draw that is one of two ops (`random_rotate`: a `rotate`, or an `affine` for angles per
/// axis; `random_shift`: a `shift`, or an `integer_shift`).
#[derive(Debug, Clone, PartialEq)]
pub enum OneOf<A, B> {
    First(A),
    Second(B),
}

impl<A: Op + 'static, B: Op + 'static> IntoDraw for OneOf<A, B> {
    fn into_draw(self) -> Arc<dyn Op> {
        match self {
            OneOf::First(a) => Arc::new(a),
            OneOf::Second(b) => Arc::new(b),
        }
    }
}

/// What a random op's draw needs of the volume on its `like` input; it decides the node's
/// ports.
pub trait Like: Sized {
    /// The node's inputs: none, or `like`.
    const PORTS: &'static [Port];
    /// Whether `like` may arrive with its resample pending (only its grid is read, so the
    /// runner need not resample it for the draw).
    const ACCEPTS_DEFERRED: bool;
    /// Takes it from the node's inputs.
    fn take(inputs: &mut Inputs) -> Result<Self, OpError>;
}

/// Nothing: the draw fits any grid, and the node has no inputs.
impl Like for () {
    const PORTS: &'static [Port] = &[];
    const ACCEPTS_DEFERRED: bool = false;

    fn take(_inputs: &mut Inputs) -> Result<(), OpError> {
        Ok(())
    }
}

/// The grid shape `[x, y, z]` of the image or label map on `like` (a pending resample's output
/// shape: nothing is resampled for the draw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LikeShape(pub [usize; 3]);

impl Like for LikeShape {
    const PORTS: &'static [Port] =
        &[Port { name: "like", accepts: &[Kind::Image, Kind::Label], required: true }];
    const ACCEPTS_DEFERRED: bool = true;

    fn take(inputs: &mut Inputs) -> Result<Self, OpError> {
        match inputs.take("like")? {
            Value::Volume(v) => Ok(LikeShape(v.shape3())),
            Value::Deferred(d) => Ok(LikeShape(d.spec.shape)),
            Value::Draw(_) => {
                Err(OpError::Input { port: "like".into(), message: "expected a volume, got a draw".into() })
            }
        }
    }
}

/// The label map on `like`, in memory.
#[derive(Debug, Clone)]
pub struct LikeLabels(Arc<Volume>);

impl LikeLabels {
    /// The label map's voxels.
    #[must_use]
    pub fn labels(&self) -> &LabelArray {
        match &self.0.voxels {
            crate::Voxels::Label(l) => l,
            crate::Voxels::Image(_) => unreachable!("`LikeLabels::take` accepts label maps only"),
        }
    }
}

impl Like for LikeLabels {
    const PORTS: &'static [Port] = &[Port { name: "like", accepts: &[Kind::Label], required: true }];
    const ACCEPTS_DEFERRED: bool = false;

    fn take(inputs: &mut Inputs) -> Result<Self, OpError> {
        let volume = inputs.volume("like")?;
        volume.labels().map_err(|e| OpError::Input { port: "like".into(), message: e.to_string() })?;
        Ok(LikeLabels(volume))
    }
}

/// The body of a random op's `impl Op` (the type implements [`RandomOp`]):
///
/// ```ignore
/// #[typetag::serde(name = "random_gamma")]
/// impl Op for RandomGamma {
///     voxflow_core::random_op_node!(RandomGamma);
/// }
/// ```
#[macro_export]
macro_rules! random_op_node {
    ($ty:ty) => {
        fn ports(&self) -> &'static [$crate::Port] {
            <<$ty as $crate::random::RandomOp>::Like as $crate::random::Like>::PORTS
        }

        fn validate(&self) -> ::std::result::Result<(), $crate::OpError> {
            <$ty as $crate::random::RandomOp>::check(self)
        }

        fn output_kind(
            &self,
            _inputs: &::std::collections::BTreeMap<::std::string::String, $crate::Kind>,
        ) -> ::std::result::Result<$crate::Kind, $crate::OpError> {
            Ok($crate::Kind::Draw)
        }

        fn output_shape(
            &self,
            _inputs: &::std::collections::BTreeMap<::std::string::String, $crate::Facts>,
        ) -> ::std::result::Result<::std::option::Option<[usize; 3]>, $crate::OpError> {
            Ok(<$ty as $crate::random::RandomOp>::drawn_shape(self))
        }

        fn accepts_deferred(&self) -> bool {
            <<$ty as $crate::random::RandomOp>::Like as $crate::random::Like>::ACCEPTS_DEFERRED
        }

        fn draw_reshapes(&self) -> bool {
            <$ty as $crate::random::RandomOp>::RESHAPES
        }

        fn draw_applies_to(&self) -> &'static [$crate::Kind] {
            <$ty as $crate::random::RandomOp>::APPLIES_TO
        }

        fn run(
            &self,
            ctx: &mut $crate::RunContext<'_>,
            mut inputs: $crate::Inputs,
        ) -> ::std::result::Result<$crate::Value, $crate::OpError> {
            <$ty as $crate::random::RandomOp>::check(self)?;
            let like = <<$ty as $crate::random::RandomOp>::Like as $crate::random::Like>::take(&mut inputs)?;
            let drawn = <$ty as $crate::random::RandomOp>::draw(self, &mut ctx.rng, like)?;
            Ok($crate::Value::Draw($crate::random::IntoDraw::into_draw(drawn)))
        }
    };
}
