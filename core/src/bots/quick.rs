//! `/share-secret <text>` quick mode: the secret on the command line, with optional flags.

use std::fmt;

use zeroize::Zeroizing;

use crate::model::Expiration;

/// Parsed `/share-secret <text>` quick mode.
#[derive(PartialEq, Eq)]
pub struct Quick {
    /// The secret, flags removed.
    pub secret: Zeroizing<String>,
    /// `--views N`.
    pub views: Option<u32>,
    /// `--expires 1h`.
    pub expiration: Option<Expiration>,
}

impl fmt::Debug for Quick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quick")
            .field("views", &self.views)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Parses quick-mode text: `--views N` and `--expires D` (also `--expiration`, `--views=N`) at
/// the start or the end; everything between is the secret, inner spacing kept. `--` ends the
/// leading flags, for a secret that itself starts with `--`.
pub fn parse_quick(text: &str) -> Result<Quick, String> {
    let mut rest = text.trim();
    let mut views = None;
    let mut expiration = None;
    let mut apply = |flag: &str, value: &str| -> Result<(), String> {
        match flag {
            "--views" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| format!("--views takes a number, not {value:?}"))?;
                views = Some(n);
            }
            _ => {
                expiration = Some(value.parse::<Expiration>().map_err(|_| {
                    format!("--expires takes a duration like 30m, 1h, 7d, not {value:?}")
                })?);
            }
        }
        Ok(())
    };
    // Leading flags.
    loop {
        if let Some(r) = rest
            .strip_prefix("--")
            .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        {
            rest = r.trim_start();
            break;
        }
        let Some((flag, value, after)) = leading_flag(rest)? else {
            break;
        };
        apply(flag, value)?;
        rest = after;
    }
    // Trailing flags.
    while let Some((flag, value, before)) = trailing_flag(rest) {
        apply(flag, value)?;
        rest = before;
    }
    if rest.is_empty() {
        return Err("nothing to share: put the secret after the command".into());
    }
    Ok(Quick {
        secret: Zeroizing::new(rest.to_string()),
        views,
        expiration,
    })
}

const FLAGS: &[&str] = &["--views", "--expires", "--expiration"];

fn canonical(flag: &str) -> Option<&'static str> {
    match flag {
        "--views" => Some("--views"),
        "--expires" | "--expiration" => Some("--expires"),
        _ => None,
    }
}

/// `--flag value rest` or `--flag=value rest` at the start of `s`.
#[allow(clippy::type_complexity)]
fn leading_flag(s: &str) -> Result<Option<(&'static str, &str, &str)>, String> {
    if !s.starts_with("--") {
        return Ok(None);
    }
    let (word, after) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    let after = after.trim_start();
    if let Some((flag, value)) = word.split_once('=') {
        return match canonical(flag) {
            Some(f) => Ok(Some((f, value, after))),
            None => Err(unknown(flag)),
        };
    }
    let Some(flag) = canonical(word) else {
        return Err(unknown(word));
    };
    let (value, after) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
    if value.is_empty() {
        return Err(format!("{word} needs a value"));
    }
    Ok(Some((flag, value, after.trim_start())))
}

/// `rest --flag value` or `rest --flag=value` at the end of `s`.
fn trailing_flag(s: &str) -> Option<(&'static str, &str, &str)> {
    let (before, last) = s.rsplit_once(char::is_whitespace)?;
    if let Some((flag, value)) = last.split_once('=') {
        return canonical(flag).map(|f| (f, value, before.trim_end()));
    }
    let (before2, flag) = before.trim_end().rsplit_once(char::is_whitespace)?;
    canonical(flag).map(|f| (f, last, before2.trim_end()))
}

fn unknown(flag: &str) -> String {
    format!(
        "unknown option {flag:?}: use {} (or put `--` before a secret that starts with --)",
        FLAGS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quick {
        parse_quick(s).unwrap()
    }

    #[test]
    fn quick_mode_flags_at_either_end_and_the_secret_kept_verbatim() {
        let a = q("--views 3 --expires 1h hunter2  with  spaces");
        assert_eq!(a.secret.as_str(), "hunter2  with  spaces");
        assert_eq!(a.views, Some(3));
        assert_eq!(a.expiration, Some("1h".parse().unwrap()));
        let b = q("s3cr3t --views=2 --expiration 7d");
        assert_eq!(b.secret.as_str(), "s3cr3t");
        assert_eq!(b.views, Some(2));
        assert_eq!(b.expiration, Some("7d".parse().unwrap()));
        let c = q("-- --views 3");
        assert_eq!(c.secret.as_str(), "--views 3");
        assert_eq!(c.views, None);
        assert_eq!(q("plain").secret.as_str(), "plain");
    }

    #[test]
    fn quick_mode_refuses_bad_flags_without_echoing_the_secret() {
        for bad in [
            "--views many hunter2",
            "--expires soon hunter2",
            "--color red hunter2",
            "--views 3",
            "",
            "hunter2 --views x",
        ] {
            let err = parse_quick(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
