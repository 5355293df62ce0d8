//! Parameters given either once for all three axes or per axis (`7` or `[7, 7, 5]`).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum OneOrThree<T> {
    /// The same value for every axis.
    One(T),
    /// One value per axis `[x, y, z]`.
    Three([T; 3]),
}

impl<T: Copy> OneOrThree<T> {
    fn get(self) -> [T; 3] {
        match self {
            OneOrThree::One(v) => [v; 3],
            OneOrThree::Three(v) => v,
        }
    }
}

pub(crate) fn usize3<'de, D: Deserializer<'de>>(d: D) -> Result<[usize; 3], D::Error> {
    OneOrThree::<usize>::deserialize(d).map(OneOrThree::get)
}

pub(crate) fn f64x3<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 3], D::Error> {
    OneOrThree::<f64>::deserialize(d).map(OneOrThree::get)
}
