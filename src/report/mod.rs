//! Output formats. Every format reads the same `Report` and the same registry.

pub mod human;
pub mod json;
pub mod rules;
