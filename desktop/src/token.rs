//! Where the API token lives: the OS keyring (Keychain, Credential Manager, Secret Service), behind
//! a trait so tests use memory. The token is never written to a plain file or a log.

use std::sync::Mutex;

use zeroize::Zeroizing;

/// A place to keep the API token.
pub trait TokenStore: Send + Sync {
    /// The stored token, if any.
    fn get(&self) -> Result<Option<Zeroizing<String>>, String>;
    /// Stores (replaces) the token.
    fn set(&self, token: &str) -> Result<(), String>;
    /// Forgets the token.
    fn clear(&self) -> Result<(), String>;
    /// Where it is kept, for the settings page.
    fn kind(&self) -> &'static str;
}

/// The OS keyring, service `seecret-desktop`, entry `api-token`.
#[derive(Debug, Default)]
pub struct KeyringTokenStore;

const SERVICE: &str = "seecret-desktop";
const ENTRY: &str = "api-token";

impl KeyringTokenStore {
    fn entry() -> Result<keyring::Entry, String> {
        keyring::Entry::new(SERVICE, ENTRY).map_err(|e| e.to_string())
    }
}

impl TokenStore for KeyringTokenStore {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        match Self::entry()?.get_password() {
            Ok(t) => Ok(Some(Zeroizing::new(t))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, token: &str) -> Result<(), String> {
        Self::entry()?
            .set_password(token)
            .map_err(|e| e.to_string())
    }

    fn clear(&self) -> Result<(), String> {
        match Self::entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn kind(&self) -> &'static str {
        "OS keyring"
    }
}

/// Memory only: for tests, and the session fallback when there is no OS keyring.
#[derive(Default)]
pub struct MemoryTokenStore(Mutex<Option<Zeroizing<String>>>);

impl std::fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryTokenStore(<redacted>)")
    }
}

impl TokenStore for MemoryTokenStore {
    fn get(&self) -> Result<Option<Zeroizing<String>>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.clone())
    }

    fn set(&self, token: &str) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = Some(Zeroizing::new(token.to_string()));
        Ok(())
    }

    fn clear(&self) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = None;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_keeps_and_forgets_and_never_prints() {
        let s = MemoryTokenStore::default();
        assert!(s.get().unwrap().is_none());
        s.set("tok-123").unwrap();
        assert_eq!(s.get().unwrap().unwrap().as_str(), "tok-123");
        assert!(!format!("{s:?}").contains("tok-123"));
        s.clear().unwrap();
        assert!(s.get().unwrap().is_none());
    }
}
