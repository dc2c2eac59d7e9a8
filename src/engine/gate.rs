//! Stage eight: the gate, from the configuration's floor and severity.

use crate::config::Gate;
use crate::finding::{Disposition, Finding};
use crate::score::{Scorecard, fails_item};

#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub passed: bool,
    /// Why the gate failed (empty when it passed).
    pub reasons: Vec<String>,
}

pub fn evaluate(gate: &Gate, scorecard: &Scorecard, findings: &[Finding]) -> GateOutcome {
    let mut reasons = Vec::new();
    if let (Some(floor), Some(score)) = (gate.fail_under, scorecard.score)
        && score < floor
    {
        reasons.push(format!("score {score} is below {floor}"));
    }
    if let Some(floor) = gate.fail_on {
        let count = findings
            .iter()
            .filter(|f| f.disposition == Disposition::Open && fails_item(f) && f.severity >= floor)
            .count();
        if count > 0 {
            reasons.push(format!("{count} finding(s) at {floor} severity or above"));
        }
    }
    GateOutcome {
        passed: reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::exit_code;

    #[test]
    fn a_failed_gate_wins_over_an_incomplete_report() {
        assert_eq!(exit_code(true, false), 0);
        assert_eq!(exit_code(false, false), 1);
        assert_eq!(exit_code(true, true), 3);
        assert_eq!(exit_code(false, true), 1);
    }
}
