//! Which rules an audit runs: the stable set, preview rules for those who opt in, then the
//! configuration's `select` and `ignore`.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::registry::{Code, Rule, RuleStatus, registry};

/// Whether a rule belongs to the rule set of an audit: stable rules always, preview rules only
/// when the user opted in.
pub fn offered(rule: &Rule, config: &Config) -> bool {
    rule.status == RuleStatus::Stable || config.preview
}

/// Which rules run and which are skipped, from `select` and `ignore`, among the rules offered.
pub fn selected_rules(config: &Config) -> Result<Vec<&'static Rule>, String> {
    let mut selected: BTreeSet<Code> = BTreeSet::new();
    match &config.select {
        None => selected.extend(
            registry()
                .rules()
                .iter()
                .filter(|r| offered(r, config))
                .map(|r| r.code),
        ),
        Some(selectors) => {
            for selector in selectors {
                let matched = registry().matching(selector);
                if matched.is_empty() {
                    return Err(format!("`{selector}` in select matches no rule"));
                }
                let offered: Vec<&Rule> =
                    matched.into_iter().filter(|r| offered(r, config)).collect();
                if offered.is_empty() {
                    return Err(format!(
                        "`{selector}` in select matches only preview rules: run with --preview (or `preview = true`) to opt in"
                    ));
                }
                selected.extend(offered.into_iter().map(|r| r.code));
            }
        }
    }
    for selector in &config.ignore {
        let matched = registry().matching(selector);
        if matched.is_empty() {
            return Err(format!("`{selector}` in ignore matches no rule"));
        }
        for rule in matched {
            selected.remove(&rule.code);
        }
    }
    Ok(selected.into_iter().map(Code::rule).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_rules_are_offered_only_to_those_who_opt_in() {
        let stable = Code::OPS001.rule();
        let mut preview = stable.clone();
        preview.status = RuleStatus::Preview;
        let opted_in = Config {
            preview: true,
            ..Config::default()
        };
        assert!(offered(stable, &Config::default()) && offered(stable, &opted_in));
        assert!(!offered(&preview, &Config::default()) && offered(&preview, &opted_in));
    }
}
