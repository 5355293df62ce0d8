//! `apply`: runs a drawn op on a volume. This is how one random draw feeds several branches:
//! the random node draws once, and every `apply` that names it applies the identical op.

use crate::{Facts, Inputs, Kind, Op, OpError, Port, RunContext, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Applies the op drawn by a random node (input `draw`) to a volume (input `volume`).
///
/// ```json
/// {"name": "flip", "op": "random_flip", "params": {"axes": [0, 1, 2]}},
/// {"name": "image_flipped", "op": "apply", "inputs": {"volume": "image", "draw": "flip"}},
/// {"name": "label_flipped", "op": "apply", "inputs": {"volume": "label", "draw": "flip"}}
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {}

const PORTS: &[Port] = &[Port::VOLUME, Port { name: "draw", accepts: &[Kind::Draw], required: true }];

crate::op_doc!(
    "apply",
    Apply,
    "Applies the op drawn by a random node (input `draw`) to a volume (input `volume`), so one draw transforms an image and its label map identically.",
    "{}"
);

#[typetag::serde(name = "apply")]
impl Op for Apply {
    fn ports(&self) -> &'static [Port] {
        PORTS
    }

    fn accepts_deferred(&self) -> bool {
        // Whether the drawn op fuses is known only once it is drawn: see `run`.
        true
    }

    fn output_kind(&self, inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        inputs
            .get("volume")
            .copied()
            .ok_or_else(|| OpError::Input { port: "volume".into(), message: "not connected".into() })
    }

    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        // A draw's facts say the shape its op makes (a crop's size), that only the draw decides
        // it (a quarter turn), or nothing: it keeps the grid.
        if inputs.get("draw").is_some_and(|d| d.reshapes) {
            return Ok(None);
        }
        let drawn = inputs.get("draw").and_then(|d| d.shape);
        Ok(drawn.or_else(|| inputs.get("volume").and_then(|v| v.shape)))
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let draw = inputs.draw("draw")?;
        let mut volume = inputs.take("volume")?;
        if let Value::Deferred(pending) = &volume
            && !draw.accepts_deferred()
        {
            volume = Value::Volume(Arc::new((ctx.materialize)(pending)?));
        }
        let mut drawn_inputs = Inputs::default();
        drawn_inputs.0.insert("volume".to_owned(), volume);
        draw.run(ctx, drawn_inputs)
    }
}
