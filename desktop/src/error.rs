//! The errors a user sees in the window: each says what happened and what to do about it. They
//! never carry a token or secret content (messages are built from server codes, sizes and paths).

use seecret_core::client::ClientError;
use serde::Serialize;

/// What a desktop action can fail with.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DesktopError {
    /// No server URL or token yet.
    #[error("Set the server URL and API token in Settings first.")]
    NotConfigured,
    /// The server could not be reached (down, wrong URL, offline).
    #[error(
        "Cannot reach the Seecret server at {server}. Check the server URL in Settings and your network connection. ({detail})"
    )]
    Unreachable {
        /// The server URL tried.
        server: String,
        /// The transport error.
        detail: String,
    },
    /// The server refused the token (`unauthorized`): wrong, revoked or rotated.
    #[error("The server rejected the API token. Paste a valid token in Settings.")]
    TokenRejected,
    /// A file (or the zip of several) is over the server's limit; checked before uploading.
    #[error(
        "{name} is {size} but this server accepts files up to {limit}. Share a smaller file or ask the server's admin to raise SEECRET_MAX_FILE_SIZE."
    )]
    TooLarge {
        /// The file's name.
        name: String,
        /// Its size, human-readable.
        size: String,
        /// The server's limit, human-readable.
        limit: String,
    },
    /// The user canceled the upload.
    #[error("Upload canceled: nothing was shared.")]
    Canceled,
    /// Another upload is running.
    #[error("Another upload is in progress: wait for it or cancel it.")]
    Busy,
    /// Nothing to share.
    #[error("Nothing to share: paste some text or drop a file first.")]
    Empty,
    /// A setting or option is not valid.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The server refused the request for another reason.
    #[error("The server refused: {0}")]
    Server(String),
    /// A local file could not be read.
    #[error("Cannot read {path}: {message}")]
    File {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
    /// The OS keyring failed.
    #[error("The OS keyring failed: {0}")]
    Keyring(String),
    /// The settings file could not be read or written.
    #[error("Cannot save the settings: {0}")]
    Settings(String),
    /// No recent link with this id in this session.
    #[error(
        "This link was made before the app was restarted; only its owner's status is kept, not the link itself. Share again to get a new link."
    )]
    LinkUnknown,
    /// Anything else (clipboard, window).
    #[error("{0}")]
    Other(String),
}

impl DesktopError {
    /// A stable code the front end can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Unreachable { .. } => "unreachable",
            Self::TokenRejected => "token_rejected",
            Self::TooLarge { .. } => "too_large",
            Self::Canceled => "canceled",
            Self::Busy => "busy",
            Self::Empty => "empty",
            Self::Invalid { .. } => "invalid",
            Self::Server(_) => "server",
            Self::File { .. } => "file",
            Self::Keyring(_) => "keyring",
            Self::Settings(_) => "settings",
            Self::LinkUnknown => "link_unknown",
            Self::Other(_) => "other",
        }
    }

    /// An invalid-field error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Maps a client error from a call to `server`.
    pub fn from_client(server: &str, e: ClientError) -> Self {
        match e {
            ClientError::Transport(detail) => Self::Unreachable {
                server: server.to_string(),
                detail,
            },
            ClientError::Api { code, .. } if code == "unauthorized" => Self::TokenRejected,
            ClientError::Api { message, .. } => Self::Server(message),
            ClientError::Local(e) => Self::Other(e.to_string()),
        }
    }
}

/// The shape the front end receives: `{code, message}`.
impl Serialize for DesktopError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DesktopError", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// Sizes as people read them: `1.5 MB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(1_500_000), "1.5 MB");
        assert_eq!(human_size(100 * 1024 * 1024), "104.9 MB");
    }

    #[test]
    fn errors_serialize_as_code_and_message() {
        let e = DesktopError::from_client(
            "http://127.0.0.1:1",
            ClientError::Api {
                status: 401,
                code: "unauthorized".into(),
                message: "bad token".into(),
                field: None,
                retry_after: None,
            },
        );
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["code"], "token_rejected");
        assert!(v["message"].as_str().unwrap_or("").contains("Settings"));
    }
}
