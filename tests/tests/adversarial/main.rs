//! Attacks, each reproduced through real HTTP against a real server (SQLite, and PostgreSQL when
//! `SEECRET_TEST_DATABASE=postgres`). Every test here was first seen to succeed as an attack on
//! the code before the fix; now each asserts that the attack fails, and that the legitimate user
//! it targeted is unharmed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clients;
mod http;
mod reveal;
mod storage;
mod webhooks;
