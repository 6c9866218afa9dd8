//! The reveal proof, the passphrase lockout under concurrency, Argon2 admission and owner races.
