//! The bots' settings reader: each `NAME` may instead come from a file named by `NAME_FILE` (how
//! container secrets are mounted). `get` is the process environment in production and a table in
//! tests. Errors are sentences naming the variable.

/// `name`'s value, trimmed; else the trimmed content of the file named by `name_FILE`; else
/// `None`. A blank value counts as unset.
pub fn read(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<String>, String> {
    if let Some(v) = get(name).filter(|v| !v.trim().is_empty()) {
        return Ok(Some(v.trim().to_string()));
    }
    match get(&format!("{name}_FILE")) {
        Some(path) => std::fs::read_to_string(&path)
            .map(|v| Some(v.trim().to_string()))
            .map_err(|e| format!("{name}_FILE ({path}): {e}")),
        None => Ok(None),
    }
}

/// A whole number, `default` when unset.
pub fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u32,
) -> Result<u32, String> {
    match read(get, name)? {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a number, not {v:?}")),
    }
}

/// A yes/no setting (`true`/`false`, `1`/`0`, `on`/`off`, `yes`/`no`), `default` when unset.
pub fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> Result<bool, String> {
    match read(get, name)? {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" => Ok(false),
            _ => Err(format!("{name} must be true or false, not {v:?}")),
        },
    }
}

/// An http(s) base URL, `default` when unset, without a trailing `/`.
pub fn base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: &str,
) -> Result<String, String> {
    let url = read(get, name)?.unwrap_or_else(|| default.into());
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{name} must be an http(s) URL, not {url:?}"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_or_its_file_trimmed_numbers_and_urls_checked() {
        let dir = std::env::temp_dir().join(format!("seecret-set-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let file = file.display().to_string();
        let get = |k: &str| match k {
            "A" => Some(" a ".to_string()),
            "B" => Some("  ".to_string()),
            "B_FILE" => Some(file.clone()),
            "C_FILE" => Some("/nonexistent/seecret".to_string()),
            "N" => Some("x".to_string()),
            "U" => Some("ftp://x".to_string()),
            "F" => Some("Off".to_string()),
            _ => None,
        };
        assert_eq!(read(&get, "A").unwrap().as_deref(), Some("a"));
        assert_eq!(read(&get, "B").unwrap().as_deref(), Some("from-file"));
        assert!(read(&get, "C").unwrap_err().starts_with("C_FILE"));
        assert_eq!(read(&get, "D").unwrap(), None);
        assert_eq!(number(&get, "D", 7).unwrap(), 7);
        assert!(
            number(&get, "N", 7)
                .unwrap_err()
                .contains("must be a number")
        );
        assert_eq!(base_url(&get, "D", "https://x/").unwrap(), "https://x");
        assert!(!flag(&get, "F", true).unwrap());
        assert!(flag(&get, "D", true).unwrap());
        assert!(flag(&get, "N", true).unwrap_err().contains("true or false"));
        assert!(base_url(&get, "U", "https://x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
