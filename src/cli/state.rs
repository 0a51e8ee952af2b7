//! `payrun state ...`: pull, push, mv, history, rollback, migrate, unlock.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use crate::address::Address;
use crate::error::Error;
use crate::state::{Intent, Purpose, ResourceState, State, StateStore};

use super::args::{Global, StateCommand};
use super::commands::{local_store, lock, migration_source, sealer, store, store_of};
use super::config::{Backend, LocalBackend, Project, Resolved};

pub(super) fn state_command(
    project: &Project,
    g: &Global,
    r: &Resolved,
    command: &StateCommand,
) -> Result<i32, Error> {
    let st = store(r);
    match command {
        StateCommand::List => {
            let state = st.load()?;
            for (a, res) in &state.resources {
                println!("{a}\t{}\t{}", res.name, res.id);
            }
            for a in state.intents.keys() {
                println!("{a}\t(interrupted create: adopted or created by the next apply)");
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let state = st.load()?;
            let a: Address = address.parse().map_err(Error::Config)?;
            let res = state.resources.get(&a).ok_or_else(|| {
                Error::Config(format!(
                    "{address} is not in stack `{}`\n  fix: `payrun state list {}` shows what is",
                    r.stack, r.stack_flags
                ))
            })?;
            println!(
                "{}",
                serde_json::to_string_pretty(res).expect("state serializes")
            );
            Ok(0)
        }
        StateCommand::Rm { addresses } => {
            let _lock = lock(r, &st, "payrun state rm")?;
            let mut state = st.load()?;
            for address in addresses {
                let a = address.parse().map_err(Error::Config)?;
                if take_record(&mut state, &a).is_none() {
                    return Err(Error::Config(format!(
                        "{address} is not in stack `{}`; nothing was removed\n  fix: `payrun state list {}` shows what is",
                        r.stack, r.stack_flags
                    )));
                }
            }
            st.save(&mut state)?;
            for a in addresses {
                println!("Removed {a} from state (the resource itself was not touched).");
            }
            Ok(0)
        }
        StateCommand::Unlock { force } => unlock(r, &st, *force),
        StateCommand::Pull => {
            let state = st.load()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&state).expect("state serializes")
            );
            Ok(0)
        }
        StateCommand::Push { file, force } => push(r, &st, file, *force),
        StateCommand::Mv {
            address,
            new_address,
        } => mv(r, &st, address, new_address),
        StateCommand::History => {
            let versions = st.history()?;
            if versions.is_empty() {
                println!(
                    "Stack `{}` has no recorded versions in {}.",
                    r.stack,
                    st.location()
                );
                return Ok(0);
            }
            println!("SERIAL\tWRITTEN\tBY\tCOMMAND");
            for v in versions {
                let at = v
                    .written_at
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_else(|| "-".into());
                let dash = |s: &str| {
                    if s.is_empty() {
                        "-".to_string()
                    } else {
                        s.to_string()
                    }
                };
                println!("{}\t{at}\t{}\t{}", v.serial, dash(&v.by), dash(&v.command));
            }
            Ok(0)
        }
        StateCommand::Rollback {
            serial,
            auto_approve,
        } => rollback(r, &st, *serial, *auto_approve),
        StateCommand::Migrate { to } => migrate(project, g, r, &migration_source(r), to),
    }
}

/// Read 'yes' from standard input.
fn ask(question: &str, refusal: String) -> Result<(), Error> {
    eprint!("{question} Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() != "yes" {
        return Err(Error::Refused(refusal));
    }
    Ok(())
}

fn push(r: &Resolved, st: &Arc<dyn StateStore>, file: &Path, force: bool) -> Result<i32, Error> {
    let _lock = lock(r, st, "payrun state push")?;
    let shown = file.display().to_string();
    let bytes =
        std::fs::read(file).map_err(|e| Error::Config(format!("cannot read {shown}: {e}")))?;
    let bytes = st.open_file(Purpose::State, file, bytes)?;
    let mut pushed = crate::state::parse_state(&shown, &bytes)?;
    let current = st.load()?;
    if !force {
        if pushed.stack != r.stack {
            return Err(Error::Refused(format!(
                "{shown} is the state of stack `{}`, not of `{}`; nothing was written\n  fix: push it to its own stack, or pass --force to write it here anyway",
                pushed.stack, r.stack
            )));
        }
        if st.exists()? && pushed.lineage != current.lineage {
            return Err(Error::Refused(format!(
                "{shown} is of lineage {}, but stack `{}` is of lineage {}: it is another stack's history; nothing was written\n  fix: pass --force to replace the stack's state with it",
                pushed.lineage, r.stack, current.lineage
            )));
        }
        if pushed.serial < current.serial {
            return Err(Error::Refused(format!(
                "{shown} is serial {}, older than the stored serial {} of stack `{}`: writing it would undo what ran since; nothing was written\n  fix: `payrun state pull {}` shows the stored state; pass --force to write the older one anyway",
                pushed.serial, current.serial, r.stack, r.stack_flags
            )));
        }
    }
    pushed.stack = r.stack.clone();
    pushed.serial = current.serial;
    st.save(&mut pushed)?;
    println!(
        "Wrote {shown} as serial {} of stack `{}` ({}).",
        pushed.serial,
        r.stack,
        st.location()
    );
    Ok(0)
}

fn mv(r: &Resolved, st: &Arc<dyn StateStore>, from: &str, to: &str) -> Result<i32, Error> {
    let _lock = lock(r, st, "payrun state mv")?;
    let mut state = st.load()?;
    let a: crate::address::Address = from.parse().map_err(Error::Config)?;
    let b: crate::address::Address = to.parse().map_err(Error::Config)?;
    if a.kind() != b.kind() {
        return Err(Error::Refused(format!(
            "{from} is a {} and {to} a {}: a move keeps the kind; nothing was moved\n  fix: give {to} the kind {}",
            a.kind(),
            b.kind(),
            a.kind()
        )));
    }
    if state.resources.contains_key(&b) || state.intents.contains_key(&b) {
        return Err(Error::Refused(format!(
            "{to} is already in stack `{}`; nothing was moved\n  fix: pick another address, or `payrun state rm {to} {}` first",
            r.stack, r.stack_flags
        )));
    }
    let Some((resource, intent)) = take_record(&mut state, &a) else {
        return Err(Error::Config(format!(
            "{from} is not in stack `{}`; nothing was moved\n  fix: `payrun state list {}` shows what is",
            r.stack, r.stack_flags
        )));
    };
    if let Some(res) = resource {
        state.resources.insert(b.clone(), res);
    }
    if let Some(i) = intent {
        state.intents.insert(b.clone(), i);
    }
    let rename = |deps: &mut Vec<crate::address::Address>| {
        for d in deps.iter_mut().filter(|d| **d == a) {
            *d = b.clone();
        }
    };
    for res in state.resources.values_mut() {
        rename(&mut res.deps);
    }
    for i in state.intents.values_mut() {
        rename(&mut i.deps);
    }
    st.save(&mut state)?;
    println!(
        "Moved {from} to {to} in stack `{}` (nothing in the cloud was touched).",
        r.stack
    );
    Ok(0)
}

fn rollback(
    r: &Resolved,
    st: &Arc<dyn StateStore>,
    serial: u64,
    auto_approve: bool,
) -> Result<i32, Error> {
    let _lock = lock(r, st, "payrun state rollback")?;
    let current = st.load()?;
    let mut old = st.version(serial)?;
    if old.lineage != current.lineage {
        return Err(Error::Refused(format!(
            "serial {serial} is of lineage {}, the stack now of {}; nothing was written",
            old.lineage, current.lineage
        )));
    }
    println!(
        "Serial {serial} of stack `{}` records {} resources; the current serial {} records {}.",
        r.stack,
        old.resources.len(),
        current.serial,
        current.resources.len()
    );
    if !auto_approve {
        ask(
            &format!(
                "Write serial {serial} again as serial {}? The cloud is not touched; the next plan compares it with what is live.",
                current.serial + 1
            ),
            "nothing was written\n  fix: answer `yes`, or pass --auto-approve".to_string(),
        )?;
    }
    old.serial = current.serial;
    st.save(&mut old)?;
    println!(
        "Rolled stack `{}` back to serial {serial}, written as serial {}.",
        r.stack, old.serial
    );
    Ok(0)
}

fn migrate(
    project: &Project,
    g: &Global,
    r: &Resolved,
    from: &Arc<dyn StateStore>,
    to: &str,
) -> Result<i32, Error> {
    let target = super::config::backend_for(project, g, to)?;
    if let (Backend::Local(l), Backend::Local(_)) = (&target, &r.backend) {
        return reseal_local(r, l);
    }
    if target == r.backend {
        return Err(Error::Refused(format!(
            "stack `{}` is kept in {} already",
            r.stack,
            r.backend.describe(&r.state_dir)
        )));
    }
    let dest = store_of(r, &target, &r.stack);
    let _from_lock = lock(r, from, "payrun state migrate")?;
    let _to_lock = lock(r, &dest, "payrun state migrate")?;
    if !from.exists()? {
        return Err(Error::Refused(format!(
            "stack `{}` has no state in {}; nothing to move",
            r.stack,
            from.location()
        )));
    }
    if dest.exists()? {
        return Err(Error::Refused(format!(
            "stack `{}` has state in {} already; nothing was moved\n  fix: compare the two with `payrun state pull`; remove the one that is not wanted",
            r.stack,
            dest.location()
        )));
    }
    let mut state = from.load()?;
    dest.adopt_key(&from.existing_key()?)?;
    let serial = state.serial;
    dest.save(&mut state)?;
    let retired = from.retire()?;
    println!(
        "Moved stack `{}` (serial {serial}, {} resources) from {} to {}; {retired}.",
        r.stack,
        state.resources.len(),
        from.location(),
        dest.location()
    );
    match &target {
        Backend::S3(b) => println!(
            "Keep using it with [state] in payrun.toml: backend = \"s3\", bucket = \"{}\", key_prefix = \"{}\", kms_key = \"{}\" (or --state {}).",
            b.bucket,
            b.prefix,
            b.kms_key,
            target.describe(&r.state_dir)
        ),
        Backend::Local(l) => println!(
            "Keep using it without --state, and without [state] backend = \"s3\" in payrun.toml{}.",
            match &l.kms_key {
                Some(k) => format!(", with kms_key = \"{k}\" under [state] (its files are sealed)"),
                None => String::new(),
            }
        ),
    }
    Ok(0)
}

/// `state migrate --to local` of a local stack: its files are rewritten
/// in place, sealed under the local KMS key when one is set and plain
/// when none is, under the stack's lock.
fn reseal_local(r: &Resolved, target: &LocalBackend) -> Result<i32, Error> {
    let from = local_store(r, &r.stack).reading_either(sealer(
        r,
        target,
        target.kms_key.as_deref().unwrap_or_default(),
        &r.stack,
    ));
    let to = match &target.kms_key {
        Some(k) => local_store(r, &r.stack).sealed_by(sealer(r, target, k, &r.stack)),
        None => local_store(r, &r.stack),
    };
    let _lock = from.lock("payrun state migrate", r.lock_timeout, &|m| {
        eprintln!("{m}")
    })?;
    let how = match &target.kms_key {
        Some(k) => format!("sealed with KMS key {k}"),
        None => "plain (no kms_key is set for local state)".to_string(),
    };
    match from.files_sealed()? {
        None => {
            return Err(Error::Refused(format!(
                "stack `{}` has no state in {}; nothing to move",
                r.stack,
                r.state_dir.display()
            )));
        }
        Some(sealed) if sealed == target.kms_key.is_some() => {
            return Err(Error::Refused(format!(
                "the local files of stack `{}` are {how} already",
                r.stack
            )));
        }
        Some(_) => {}
    }
    let done = from.rewrite_as(&to)?;
    // Read back as the stack will be read from now on.
    let state = to.load()?;
    to.existing_key()?;
    println!(
        "Rewrote the local files of stack `{}` (serial {}, {} resources), now {how}: {}.",
        r.stack,
        state.serial,
        state.resources.len(),
        done.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(0)
}

/// Remove the stack's lock after showing its holder and asking, unless
/// `force`. A lock a running payrun holds (a file lock on this host, a
/// lease not run out) stays, unless forced.
fn unlock(r: &Resolved, st: &Arc<dyn StateStore>, force: bool) -> Result<i32, Error> {
    let Some(info) = st.lock_info()? else {
        println!("Stack `{}` is not locked.", r.stack);
        return Ok(0);
    };
    let holder = &info.holder;
    match info.lease_until {
        Some(until) => println!(
            "The lock of stack `{}` is held by {holder}; its lease runs until {}.",
            r.stack,
            humantime::format_rfc3339_seconds(until)
        ),
        None => println!("The lock of stack `{}` is held by {holder}.", r.stack),
    }
    if info.live && !force {
        return Err(Error::Refused(match info.lease_until {
            Some(_) => format!(
                "its lease is still being renewed: that payrun is running; the lock stays\n  fix: wait for it to finish; if it is gone, its lease runs out by itself, or run `payrun state unlock {} --force`",
                r.stack_flags
            ),
            None => format!(
                "that payrun is running on this host; the lock stays\n  fix: wait for it to finish, or stop it (kill {})",
                holder.pid
            ),
        }));
    }
    if !force {
        ask(
            "Remove it?",
            format!(
                "the lock stays\n  fix: answer `yes`, or run `payrun state unlock {} --force`",
                r.stack_flags
            ),
        )?;
    }
    st.force_unlock()?;
    println!("Removed the lock of stack `{}`.", r.stack);
    Ok(0)
}

/// Takes what the state records of `a` out of it: the resource and an
/// interrupted create; `None` when it records neither.
fn take_record(state: &mut State, a: &Address) -> Option<(Option<ResourceState>, Option<Intent>)> {
    let resource = state.resources.remove(a);
    let intent = state.intents.remove(a);
    (resource.is_some() || intent.is_some()).then_some((resource, intent))
}
