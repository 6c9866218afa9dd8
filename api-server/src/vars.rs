//! The `SEECRET_*` variables this binary reads, for the warning about those it does not (a
//! typo would otherwise be ignored silently).

use std::collections::BTreeSet;

use clap::{Args, Command, Subcommand};

use crate::cli::ClientCommand;
use crate::config::ServeArgs;

/// Every `SEECRET_*` variable the server and the CLI read: the variable of each flag, with
/// `<VAR>_FILE` for the secret-bearing ones, and the embedded bots' variables (each also with
/// `_FILE`).
pub fn known_env_vars() -> BTreeSet<String> {
    fn walk(cmd: &Command, known: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(var) = arg.get_env() {
                let var = var.to_string_lossy();
                if arg.is_hide_env_values_set() {
                    known.insert(format!("{var}_FILE"));
                }
                known.insert(var.into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, known);
        }
    }
    let mut known = BTreeSet::new();
    walk(&ServeArgs::augment_args(Command::new("serve")), &mut known);
    walk(
        &ClientCommand::augment_subcommands(Command::new("client")),
        &mut known,
    );
    for var in crate::bots::ENV_VARS.iter().flat_map(|vars| vars.iter()) {
        known.insert(var.to_string());
        known.insert(format!("{var}_FILE"));
    }
    known
}

/// Names of `SEECRET_*` variables in the environment that nothing reads.
pub fn unknown_env_vars() -> Vec<String> {
    let known = known_env_vars();
    std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("SEECRET_") && !known.contains(k))
        .collect()
}
