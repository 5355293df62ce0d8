//! Composition of draws: `one_of` (weighted), `some_of` (k of n, in list or random order),
//! `random_order` (all, shuffled), and `chain`, the drawn op they output when several draws
//! are applied as one.
//!
//! A composition is itself a random op: its node outputs one draw, which `apply` nodes apply to
//! every volume alike, and the manifest records what was drawn (the chosen op, or a `chain` of
//! the chosen ops with their drawn parameters), so `replay` gives the same bytes. Its choices are
//! random ops written inline as `{"op": ..., "params": ...}` (TorchIO's `OneOf({RandomAffine():
//! 0.8, RandomElasticDeformation(): 0.2})`, MONAI's `OneOf` / `SomeOf` / `RandomOrder`):
//!
//! ```json
//! {"name": "spatial", "op": "one_of", "params": {"choices": [
//!   {"weight": 0.8, "draw": {"op": "random_affine", "params": {"degrees": [-10, 10]}}},
//!   {"weight": 0.2, "draw": {"op": "random_elastic"}}]}}
//! ```
//!
//! The choices draw from the composition node's own generator (seeded by graph seed, case,
//! output and node name), in a fixed order, so a draw depends on nothing else.

use crate::seed::Rng;
use crate::{Inputs, Kind, Op, OpError, Port, RunContext, Value};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

fn one() -> f64 {
    1.0
}

/// An inline op, `{"op": ..., "params": ...}`, where missing or null `params` mean all
/// defaults (as in a graph node).
fn inline_op(mut value: serde_json::Value) -> Result<Box<dyn Op>, serde_json::Error> {
    if let Some(object) = value.as_object_mut()
        && object.get("params").is_none_or(serde_json::Value::is_null)
    {
        object.insert("params".to_owned(), serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_value(value)
}

fn de_op<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<dyn Op>, D::Error> {
    inline_op(serde_json::Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn de_ops<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Box<dyn Op>>, D::Error> {
    Vec::<serde_json::Value>::deserialize(d)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| inline_op(v).map_err(|e| serde::de::Error::custom(format!("op {i}: {e}"))))
        .collect()
}

/// One choice: a random op and its weight.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Relative weight (finite, > 0). Default 1.
    #[serde(default = "one")]
    pub weight: f64,
    /// A random op, as a node writes it: `{"op": "random_flip", "params": {...}}`.
    #[schemars(with = "serde_json::Value")]
    #[serde(deserialize_with = "de_op")]
    pub draw: Box<dyn Op>,
}

/// Checks the choices: at least one, weights finite and > 0, each a valid random op that needs
/// no inputs.
fn check_choices(choices: &[Choice]) -> Result<(), OpError> {
    if choices.is_empty() {
        return Err(OpError::param("choices", "needs at least one choice"));
    }
    for (i, choice) in choices.iter().enumerate() {
        let at = |message: String| OpError::param("choices", format!("choice {i}: {message}"));
        if !(choice.weight.is_finite() && choice.weight > 0.0) {
            return Err(at(format!("`weight` must be finite and > 0, got {}", choice.weight)));
        }
        choice.draw.validate().map_err(|e| at(e.to_string()))?;
        let kind = choice.draw.output_kind(&BTreeMap::new()).unwrap_or(Kind::Image);
        if kind != Kind::Draw {
            return Err(at(format!(
                "`{}` is not a random op (it outputs {kind})",
                choice.draw.typetag_name()
            )));
        }
        if let Some(port) = choice.draw.ports().iter().find(|p| p.required) {
            return Err(at(format!(
                "`{}` needs an input (`{}`), which a choice cannot have; give it its own node",
                choice.draw.typetag_name(),
                port.name
            )));
        }
    }
    Ok(())
}

/// The kinds every choice's draw applies to (an intensity choice makes the whole composition
/// apply to images only).
fn applies_to(choices: &[Choice]) -> &'static [Kind] {
    if choices.iter().all(|c| c.draw.draw_applies_to().contains(&Kind::Label)) {
        &[Kind::Image, Kind::Label]
    } else {
        &[Kind::Image]
    }
}

/// Picks an index with probability proportional to its weight, among `remaining`.
fn pick(rng: &mut Rng, choices: &[Choice], remaining: &[usize]) -> usize {
    let total: f64 = remaining.iter().map(|&i| choices[i].weight).sum();
    let mut u = rng.random::<f64>() * total;
    for (k, &i) in remaining.iter().enumerate() {
        u -= choices[i].weight;
        if u < 0.0 {
            return k;
        }
    }
    remaining.len() - 1
}

/// Runs one choice's random op: its draw.
fn draw_of(ctx: &mut RunContext<'_>, choice: &Choice) -> Result<Arc<dyn Op>, OpError> {
    match choice.draw.run(ctx, Inputs::default())? {
        Value::Draw(op) => Ok(op),
        _ => Err(OpError::param("choices", format!("`{}` did not draw an op", choice.draw.typetag_name()))),
    }
}

/// Draws the chosen choices in order and outputs them as one draw (the op itself when one).
fn draw_all(ctx: &mut RunContext<'_>, choices: &[Choice], chosen: &[usize]) -> Result<Value, OpError> {
    let mut ops = Vec::with_capacity(chosen.len());
    for &i in chosen {
        ops.push(draw_of(ctx, &choices[i])?);
    }
    if ops.len() == 1 {
        return Ok(Value::Draw(ops.remove(0)));
    }
    Ok(Value::Draw(Arc::new(Chain::from_drawn(&ops)?)))
}

/// The `Op` items every composition shares: no inputs, a draw out, applying to the kinds all
/// its choices apply to.
macro_rules! composition_node {
    () => {
        fn ports(&self) -> &'static [Port] {
            &[]
        }

        fn output_kind(&self, _inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
            Ok(Kind::Draw)
        }

        fn draw_applies_to(&self) -> &'static [Kind] {
            applies_to(&self.choices)
        }

        // Which choice is drawn is known only once drawn: any choice that changes the shape
        // (by its parameters or by its draw) makes the composition's shape unknown.
        fn draw_reshapes(&self) -> bool {
            self.choices.iter().any(|c| {
                c.draw.draw_reshapes() || c.draw.output_shape(&BTreeMap::new()).ok().flatten().is_some()
            })
        }
    };
}

/// Draws one of its choices, with probability proportional to the weights.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneOf {
    /// The random ops to choose from, with weights. Required.
    pub choices: Vec<Choice>,
}

crate::op_doc!(
    "one_of",
    OneOf,
    "Draws one of its random ops, chosen by weight (TorchIO's and MONAI's OneOf); the manifest records the chosen op's draw.",
    r#"{"choices": [{"weight": 0.8, "draw": {"op": "random_rotate"}}, {"weight": 0.2, "draw": {"op": "random_elastic"}}]}"#
);

#[typetag::serde(name = "one_of")]
impl Op for OneOf {
    composition_node!();

    fn validate(&self) -> Result<(), OpError> {
        check_choices(&self.choices)
    }

    fn run(&self, ctx: &mut RunContext<'_>, _inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let chosen = choose(&mut ctx.rng, &self.choices, 1, Order::Given);
        draw_all(ctx, &self.choices, &chosen)
    }
}

/// In which order `some_of` applies what it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// The order of `choices` (the default).
    #[default]
    Given,
    /// A random order.
    Random,
}

/// Draws `k` of its choices (without replacement, by weight) and applies them as one draw.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SomeOf {
    /// The random ops to choose from, with weights. Required.
    pub choices: Vec<Choice>,
    /// `[min, max]` of how many to choose, drawn uniformly (MONAI's `num_transforms`). Default
    /// `[1, n]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<[usize; 2]>,
    /// `given` (the list's order, default) or `random`.
    #[serde(default)]
    pub order: Order,
}

impl SomeOf {
    fn k_range(&self) -> [usize; 2] {
        self.k.unwrap_or([1, self.choices.len()])
    }
}

/// Draws `k` indices without replacement (by weight), in `order`.
fn choose(rng: &mut Rng, choices: &[Choice], k: usize, order: Order) -> Vec<usize> {
    let mut remaining: Vec<usize> = (0..choices.len()).collect();
    let mut chosen = Vec::with_capacity(k);
    for _ in 0..k {
        let at = pick(rng, choices, &remaining);
        chosen.push(remaining.remove(at));
    }
    if order == Order::Given {
        chosen.sort_unstable();
    }
    chosen
}

crate::op_doc!(
    "some_of",
    SomeOf,
    "Draws k of its random ops (k uniform in `k`, chosen by weight without replacement) and applies them as one draw, in the list's or a random order (MONAI's SomeOf).",
    r#"{"choices": [{"draw": {"op": "random_flip"}}, {"draw": {"op": "random_rotate"}}, {"draw": {"op": "random_scale"}}], "k": [1, 2]}"#
);

#[typetag::serde(name = "some_of")]
impl Op for SomeOf {
    composition_node!();

    fn validate(&self) -> Result<(), OpError> {
        check_choices(&self.choices)?;
        let [lo, hi] = self.k_range();
        if lo > hi || hi > self.choices.len() {
            return Err(OpError::param(
                "k",
                format!(
                    "must be [min, max] with min <= max <= {} (the number of choices), got [{lo}, {hi}]",
                    self.choices.len()
                ),
            ));
        }
        Ok(())
    }

    fn run(&self, ctx: &mut RunContext<'_>, _inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let [lo, hi] = self.k_range();
        let k = ctx.rng.random_range(lo..=hi);
        let chosen = choose(&mut ctx.rng, &self.choices, k, self.order);
        draw_all(ctx, &self.choices, &chosen)
    }
}

/// Draws all of its choices and applies them in a random order (MONAI's `RandomOrder`).
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomOrder {
    /// The random ops, all applied. Required. (Weights only bias which comes first.)
    pub choices: Vec<Choice>,
}

crate::op_doc!(
    "random_order",
    RandomOrder,
    "Draws all of its random ops and applies them as one draw in a random order (MONAI's RandomOrder).",
    r#"{"choices": [{"draw": {"op": "random_gamma"}}, {"draw": {"op": "random_noise"}}]}"#
);

#[typetag::serde(name = "random_order")]
impl Op for RandomOrder {
    composition_node!();

    fn validate(&self) -> Result<(), OpError> {
        check_choices(&self.choices)
    }

    fn run(&self, ctx: &mut RunContext<'_>, _inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let chosen = choose(&mut ctx.rng, &self.choices, self.choices.len(), Order::Random);
        draw_all(ctx, &self.choices, &chosen)
    }
}

/// Applies ops in order, as one op: what `some_of` and `random_order` draw, and a way to
/// write a fixed sequence as one node. Spatial ops in a chain still fuse into one resample.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// The ops, applied first to last, each as `{"op": ..., "params": ...}`.
    #[schemars(with = "Vec<serde_json::Value>")]
    #[serde(deserialize_with = "de_ops")]
    pub ops: Vec<Box<dyn Op>>,
}

impl Chain {
    /// A chain of drawn ops (their parameters carried over through their JSON form, which is
    /// also how the manifest records them).
    pub fn from_drawn(ops: &[Arc<dyn Op>]) -> Result<Chain, OpError> {
        let ops = ops
            .iter()
            .map(|op| {
                serde_json::to_value(&**op)
                    .and_then(serde_json::from_value::<Box<dyn Op>>)
                    .map_err(|e| OpError::param("choices", format!("cannot carry a draw over: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Chain { ops })
    }
}

crate::op_doc!(
    "chain",
    Chain,
    "Applies ops in order as one op (what some_of and random_order draw); spatial ops in it still fuse into one resample.",
    r#"{"ops": [{"op": "flip", "params": {"axis": [0]}}, {"op": "gamma", "params": {"gamma": 1.2}}]}"#
);

#[typetag::serde(name = "chain")]
impl Op for Chain {
    fn validate(&self) -> Result<(), OpError> {
        for (i, op) in self.ops.iter().enumerate() {
            op.validate().map_err(|e| OpError::param("ops", format!("op {i}: {e}")))?;
            if let Some(port) = op.ports().iter().find(|p| p.required && p.name != "volume") {
                return Err(OpError::param(
                    "ops",
                    format!(
                        "op {i} (`{}`) needs an input `{}`, which a chain cannot give",
                        op.typetag_name(),
                        port.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn accepts_deferred(&self) -> bool {
        // Each op gets a resampled volume where it needs one: see `run`.
        true
    }

    fn output_kind(&self, inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        let mut kind = inputs
            .get("volume")
            .copied()
            .ok_or_else(|| OpError::Input { port: "volume".into(), message: "not connected".into() })?;
        for op in &self.ops {
            kind = op.output_kind(&BTreeMap::from([("volume".to_owned(), kind)]))?;
        }
        Ok(kind)
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let mut value = inputs.take("volume")?;
        for op in &self.ops {
            if let Value::Deferred(pending) = &value
                && !op.accepts_deferred()
            {
                value = Value::Volume(Arc::new((ctx.materialize)(pending)?));
            }
            let mut step = Inputs::default();
            step.0.insert("volume".to_owned(), value);
            value = op.run(ctx, step)?;
        }
        Ok(value)
    }
}
