//! Protection: a resource declared `protect: true` is never deleted or
//! replaced by accident. A plan that would (a change that forces a
//! replacement, the declaration removed, a destroy) is an error naming the
//! resource and what causes it, before any change to the cloud; the
//! person running payrun lifts it for one run with `--allow-destroy
//! ADDRESS`, and the plan says so. A program cannot lift it, and neither
//! can `--acknowledge`: protection is not a finding to accept but a
//! decision to take again.

use crate::address::Address;
use crate::finding::Finding;

use super::{Action, Mode, Plan, ResourceChange};

/// The code of the error a protected resource's deletion raises.
pub const CODE: &str = "protected";

/// Does `pattern` (an address, `*` standing for any run of characters)
/// name `address`?
pub fn address_matches(pattern: &str, address: &Address) -> bool {
    glob(pattern.as_bytes(), address.to_string().as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// What deletes the resource, in words.
fn cause(plan: &Plan, c: &ResourceChange) -> String {
    match (plan.mode, c.action) {
        (Mode::Destroy, _) => "`payrun destroy` deletes everything in the stack".to_string(),
        (_, Action::Replace) => format!(
            "this plan replaces it ({}), deleting the object it is now",
            c.replace_because.join(", ")
        ),
        (_, _) if c.declared_at.is_none() => {
            "the program no longer declares it, so this plan deletes it".to_string()
        }
        _ => "this plan deletes it".to_string(),
    }
}

/// Judges `plan`: an error for each protected resource it deletes or
/// replaces that `allowed` (the `--allow-destroy` patterns) does not name;
/// those it names are listed in `plan.protection_lifted`. A pattern that
/// names no protected resource the plan deletes is an error of its own:
/// a typo must not look like a lifted protection (the error ends with
/// its `fix:` line).
pub fn judge(plan: &mut Plan, allowed: &[String]) -> Result<(), String> {
    let doomed: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.protect && matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    if let Some(unused) = allowed
        .iter()
        .find(|p| !doomed.iter().any(|c| address_matches(p, &c.address)))
    {
        let protected: Vec<String> = doomed.iter().map(|c| c.address.to_string()).collect();
        let fix = match protected.first() {
            None => {
                "leave --allow-destroy out: this plan deletes or replaces no protected resource"
                    .to_string()
            }
            Some(first) => format!(
                "name one it does, e.g. `--allow-destroy {first}`, or leave --allow-destroy out"
            ),
        };
        return Err(format!(
            "--allow-destroy {unused}: no protected resource this plan deletes or replaces is named so{}\n  fix: {fix}",
            if protected.is_empty() {
                String::new()
            } else {
                format!(" (it would delete or replace: {})", protected.join(", "))
            }
        ));
    }
    let mut lifted = Vec::new();
    let mut findings = Vec::new();
    for c in doomed {
        if allowed.iter().any(|p| address_matches(p, &c.address)) {
            lifted.push(c.address.clone());
            continue;
        }
        let declared = match &c.declared_at {
            Some(_) => "`protect: true`",
            None if c.protected_before => "recorded as protected when last applied",
            None => "`protect: true` in the program",
        };
        let address = &c.address;
        let remedy = match plan.mode {
            Mode::Destroy => format!(
                "nothing to do to keep it: the destroy stops here; to delete it knowingly, for this run only: `payrun destroy --allow-destroy {address}`"
            ),
            Mode::Apply if c.action == Action::Replace => format!(
                "to keep it, change back what forces the replacement; to replace it knowingly, for this run only: `payrun apply --allow-destroy {address}`"
            ),
            Mode::Apply => format!(
                "to keep it, declare it again; to delete it knowingly, for this run only: `payrun apply --allow-destroy {address}`"
            ),
        };
        let mut f = Finding::error(
            CODE,
            format!("{address}: protected ({declared}), and {}", cause(plan, c)),
        )
        .at(address)
        .remedy(remedy);
        if let Some(at) = &c.declared_at {
            f = f.line(at.clone());
        }
        findings.push(f);
    }
    plan.protection_lifted = lifted;
    plan.findings.extend(findings);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_names_addresses_with_stars_for_any_run() {
        let a: Address = "aws.ec2.subnet.public-a".parse().unwrap();
        for yes in [
            "aws.ec2.subnet.public-a",
            "aws.ec2.subnet.*",
            "*",
            "aws.*.public-*",
        ] {
            assert!(address_matches(yes, &a), "{yes}");
        }
        for no in ["aws.ec2.subnet.public", "aws.ec2.vpc.*", "*.private-a", ""] {
            assert!(!address_matches(no, &a), "{no}");
        }
    }
}
