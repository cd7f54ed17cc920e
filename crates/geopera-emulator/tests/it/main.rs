//! Integration tests: real HTTP on 127.0.0.1 against in-process emulators.

mod catalog;
mod common;
mod connections;
mod faults;
mod idempotency;
mod images;
mod keys;
mod limits;
mod oidc;
mod orders;
mod state;
mod webhooks;
mod wire;
