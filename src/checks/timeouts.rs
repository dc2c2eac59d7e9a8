//! RES: timeouts. (Rules arrive with their issue; see CONTRIBUTING.md.)

use super::{FileContext, Parsed, ProjectContext};
use crate::finding::Finding;

pub fn check_file(_ctx: &FileContext<'_>, _parsed: &Parsed<'_>, _out: &mut Vec<Finding>) {}

pub fn check_project(_ctx: &ProjectContext<'_>, _out: &mut Vec<Finding>) {}
