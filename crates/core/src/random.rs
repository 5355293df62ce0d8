//! Random ops: a parameter struct with its check and its `sample`, made a graph node by
//! [`random_op_node!`](crate::random_op_node). Its output is the draw (`Value::Draw`), the
//! concrete op that every `apply` consuming it runs, so one draw transforms an image and its
//! label map alike.

use crate::{Kind, Op, OpError, seed::Rng};

/// A random op whose draw needs only its generator (the node has no inputs).
pub trait RandomOp {
    /// The concrete op one draw is.
    type Drawn: Op + 'static;
    /// The kinds of volume a draw may be applied to (intensity draws: images only), checked
    /// when the graph is validated.
    const APPLIES_TO: &'static [Kind];
    /// Checks the parameters (the node's `validate`).
    fn check(&self) -> Result<(), OpError>;
    /// Draws the concrete op from the node's generator.
    fn draw(&self, rng: &mut Rng) -> Self::Drawn;
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
            &[]
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

        fn draw_applies_to(&self) -> &'static [$crate::Kind] {
            <$ty as $crate::random::RandomOp>::APPLIES_TO
        }

        fn run(
            &self,
            ctx: &mut $crate::RunContext<'_>,
            _inputs: $crate::Inputs,
        ) -> ::std::result::Result<$crate::Value, $crate::OpError> {
            <$ty as $crate::random::RandomOp>::check(self)?;
            let drawn = <$ty as $crate::random::RandomOp>::draw(self, &mut ctx.rng);
            Ok($crate::Value::Draw(::std::sync::Arc::new(drawn)))
        }
    };
}
