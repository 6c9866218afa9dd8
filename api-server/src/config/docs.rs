//! What the declarations print: `seecret print-default-config` and the settings table of
//! `docs/configuration.md`.

use serde_json::Value;

use super::layered::{args_of, defaults, to_map};
use super::{ServeOptions, StorageArgs, StorageOptions, toml_keys};

/// One setting as declared, for the default configuration and the docs' table.
pub(super) struct Setting {
    /// The TOML key (none for `--config` itself).
    pub(super) key: Option<String>,
    pub(super) flag: String,
    pub(super) env: Option<String>,
    /// The built-in default (none: unset, or computed as the help says).
    pub(super) default: Option<Value>,
    pub(super) help: String,
    /// Whether `<VAR>_FILE` may hold the value.
    pub(super) from_file: bool,
}

/// Every setting of `seecret serve`, in declaration order.
pub(super) fn declared() -> anyhow::Result<Vec<Setting>> {
    let mut builtin = to_map(&defaults::<StorageOptions>()?)?;
    builtin.extend(to_map(&defaults::<ServeOptions>()?)?);
    let keys = toml_keys();
    Ok(args_of::<StorageArgs>()
        .into_iter()
        .chain(args_of::<ServeOptions>())
        .map(|arg| {
            let id = arg.get_id().to_string();
            Setting {
                default: builtin.get(&id).filter(|v| !v.is_null()).cloned(),
                key: keys.contains(&id).then(|| id.clone()),
                flag: format!("--{}", arg.get_long().unwrap_or(id.as_str())),
                env: arg.get_env().map(|v| v.to_string_lossy().into_owned()),
                help: arg
                    .get_help()
                    .map(|h| {
                        // clap drops the final period of a one-sentence help.
                        let h = h.to_string();
                        if h.ends_with('.') { h } else { format!("{h}.") }
                    })
                    .unwrap_or_default(),
                from_file: arg.is_hide_env_values_set(),
            }
        })
        .collect())
}

/// A JSON value of the settings as a TOML value.
fn toml_literal(value: &Value) -> String {
    toml::Value::try_from(value)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| value.to_string())
}

/// The default configuration as a TOML file, for `seecret print-default-config`.
pub fn default_toml() -> String {
    let mut out = String::from(
        "# Seecret server configuration. Precedence: defaults < this file < SEECRET_* env < flags.\n\
         # Each key is also a flag (max_views: --max-views) and a variable (SEECRET_MAX_VIEWS).\n",
    );
    for s in declared().unwrap_or_default() {
        let Some(key) = &s.key else { continue };
        out.push_str(&format!("\n# {}\n", s.help.replace('\n', "\n# ")));
        match &s.default {
            Some(v) => out.push_str(&format!("{key} = {}\n", toml_literal(v))),
            None => out.push_str(&format!("# {key} =\n")),
        }
    }
    out
}

/// The settings table of `docs/configuration.md`, for `seecret print-settings-table`.
pub fn settings_table() -> String {
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('\n', " ")
    };
    let mut out = String::from(
        "| TOML key | flag | environment variable | default | meaning |\n|---|---|---|---|---|\n",
    );
    for s in declared().unwrap_or_default() {
        let key = s.key.as_deref().map_or("—".into(), |k| format!("`{k}`"));
        let env = s.env.as_deref().map_or("—".into(), |e| format!("`{e}`"));
        let default = match &s.default {
            None => "—".to_string(),
            Some(Value::String(text)) => format!("`{text}`"),
            Some(v) => format!("`{v}`"),
        };
        let mut help = cell(&s.help);
        if let (true, Some(var)) = (s.from_file, &s.env) {
            help.push_str(&format!(" Also read from the file named by `{var}_FILE`."));
        }
        out.push_str(&format!(
            "| {key} | `{}` | {env} | {default} | {help} |\n",
            s.flag
        ));
    }
    out
}
