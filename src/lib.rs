//! prodready: a production-readiness auditor. `audit(root, config)` reads a repository against
//! the rule set in `rules/` and returns a scored pilot-to-production checklist.

pub mod baseline;
pub mod cache;
pub mod changes;
pub mod checks;
pub mod config;
pub mod engine;
pub mod facts;
pub mod finding;
pub mod fleet;
pub mod frontends;
pub mod project;
pub mod redact;
pub mod registry;
pub mod report;
pub mod roles;
pub mod score;
pub mod source;
pub mod suppress;
pub mod timings;
pub mod walk;
pub mod words;

pub use engine::{Report, audit};
