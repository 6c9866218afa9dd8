//! Layering of settings: clap gives defaults, environment and flags; the TOML file slots in
//! between the defaults and those, and `<VAR>_FILE` contents in place of a hidden variable.
//! Generic over the options type, so it knows no setting by name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Settings of type `T` as clap parsed them (defaults, environment, flags), and which of them
/// came from a flag or the environment: the TOML file ranks between those and the defaults,
/// which clap alone does not tell apart.
#[derive(Clone, Debug)]
pub struct Layered<T> {
    parsed: T,
    explicit: BTreeSet<String>,
}

impl<T: Args> Args for Layered<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
    fn augment_args(cmd: Command) -> Command {
        T::augment_args(cmd)
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        T::augment_args_for_update(cmd)
    }
}

impl<T: Args + FromArgMatches> FromArgMatches for Layered<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            explicit: explicit::<T>(m),
            parsed: T::from_arg_matches(m)?,
        })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.explicit.extend(explicit::<T>(m));
        self.parsed.update_from_arg_matches(m)
    }
}

/// The arguments `T` declares.
pub fn args_of<T: Args>() -> Vec<Arg> {
    T::augment_args(Command::new("seecret"))
        .get_arguments()
        .cloned()
        .collect()
}

/// The settings of `T` given by a flag or an environment variable.
pub fn explicit<T: Args>(m: &ArgMatches) -> BTreeSet<String> {
    args_of::<T>()
        .iter()
        .map(|a| a.get_id().to_string())
        .filter(|id| {
            matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
        .collect()
}

/// `T` with nothing but its built-in defaults (no flag, no environment).
pub fn defaults<T: Args + FromArgMatches>() -> anyhow::Result<T> {
    let matches = T::augment_args(Command::new("seecret").no_binary_name(true))
        .mut_args(|a| a.env(None::<&'static str>))
        .try_get_matches_from(Vec::<String>::new())?;
    Ok(T::from_arg_matches(&matches)?)
}

pub fn to_map<T: Serialize>(value: &T) -> anyhow::Result<Map<String, Value>> {
    match serde_json::to_value(value)? {
        Value::Object(map) => Ok(map),
        _ => bail!("settings are not a table"),
    }
}

impl<T: Args + Serialize + DeserializeOwned> Layered<T> {
    /// The settings with the TOML file's values in place of defaults, and `<VAR>_FILE`
    /// contents in place of those.
    pub fn resolve(&self, file: &ConfigFile) -> anyhow::Result<T> {
        let mut merged = to_map(&self.parsed)?;
        let args = args_of::<T>();
        for (key, value) in &file.values {
            if !args.iter().any(|a| a.get_id() == key.as_str()) {
                continue;
            }
            // Checked one by one so that an error names its key, also when a flag overrides it.
            let mut probe = merged.clone();
            probe.insert(key.clone(), value.clone());
            serde_json::from_value::<T>(Value::Object(probe))
                .with_context(|| format!("config file {}: {key}", file.shown()))?;
            if !self.explicit.contains(key) {
                merged.insert(key.clone(), value.clone());
            }
        }
        for arg in args.iter().filter(|a| a.is_hide_env_values_set()) {
            let (id, Some(var)) = (arg.get_id().as_str(), arg.get_env()) else {
                continue;
            };
            if self.explicit.contains(id) {
                continue;
            }
            if let Some(text) = from_file_var(&var.to_string_lossy())? {
                merged.insert(id.to_string(), Value::String(text));
            }
        }
        Ok(serde_json::from_value(Value::Object(merged))?)
    }
}

/// One resolved setting, for `seecret check-config`: its id, its variable, its value (`None`:
/// unset; always `None` for a secret-bearing one, which is only said to be set) and where the
/// value came from.
#[derive(Debug)]
pub struct Resolved {
    pub id: String,
    pub var: Option<String>,
    pub value: Option<String>,
    pub secret_set: bool,
    pub source: String,
}

impl<T: Args + Serialize + DeserializeOwned> Layered<T> {
    /// Every setting of `T` as [`Layered::resolve`] resolves it, with its source. Secret-bearing
    /// values are never copied out.
    pub fn describe(&self, file: &ConfigFile) -> anyhow::Result<Vec<Resolved>> {
        let values = to_map(&self.resolve(file)?)?;
        let mut out = Vec::new();
        for arg in args_of::<T>() {
            let id = arg.get_id().to_string();
            let var = arg.get_env().map(|v| v.to_string_lossy().into_owned());
            let hidden = arg.is_hide_env_values_set();
            let from_env = var.as_deref().and_then(std::env::var_os).is_some();
            let source = if self.explicit.contains(&id) {
                match &var {
                    Some(v) if from_env => format!("env {v}"),
                    _ => "flag".to_string(),
                }
            } else if hidden
                && var
                    .as_deref()
                    .is_some_and(|v| std::env::var_os(format!("{v}_FILE")).is_some())
            {
                format!("file named by {}_FILE", var.as_deref().unwrap_or_default())
            } else if file.values.contains_key(&id) {
                format!("config file {}", file.shown())
            } else {
                "default".to_string()
            };
            let value = values.get(&id).filter(|v| !v.is_null());
            out.push(Resolved {
                secret_set: hidden && value.is_some(),
                value: match value {
                    _ if hidden => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(v) => Some(v.to_string()),
                    None => None,
                },
                id,
                var,
                source,
            });
        }
        Ok(out)
    }
}

/// The TOML file's settings by key, checked against the declared ones.
#[derive(Default)]
pub struct ConfigFile {
    path: Option<PathBuf>,
    values: Map<String, Value>,
}

impl ConfigFile {
    /// Reads the file at `path` (none: an empty file), refusing keys not in `known`.
    pub fn read(path: Option<&Path>, known: &BTreeSet<String>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("parsing config file {}", path.display()))?;
        let values = to_map(&table)?;
        if let Some(key) = values.keys().find(|k| !known.contains(*k)) {
            bail!(
                "parsing config file {}: unknown setting {key:?} (`seecret print-default-config` lists them)",
                path.display()
            );
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            values,
        })
    }

    /// A text setting as the file gives it, if it does.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(Value::as_str)
    }

    pub fn shown(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// Reads `<var>_FILE` if set: how container secrets are usually mounted.
pub fn from_file_var(var: &str) -> anyhow::Result<Option<String>> {
    match std::env::var_os(format!("{var}_FILE")) {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {var}_FILE ({})", Path::new(&path).display()))?;
            Ok(Some(text.trim().to_string()))
        }
    }
}
