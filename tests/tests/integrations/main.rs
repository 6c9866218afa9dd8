//! The DevOps integrations of `integrations/`, each run for real against a server on loopback:
//! the GitHub Action and GitLab template's steps, the Ansible collection under `ansible-core`,
//! `seecret listen` rotating a PostgreSQL role, `seecret mcp` under the official MCP client, and
//! the Terraform and onboarding recipes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ansible;
mod ci;
mod listen;
mod mcp;
mod recipes;
