//! Ownership of ids and blobs, text hygiene, remanence.
