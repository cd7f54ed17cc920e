//! Integration tests: real HTTP on 127.0.0.1 against in-process emulators.

mod account;
mod activity;
mod catalog;
mod common;
mod connections;
mod derived;
mod faults;
mod hosts;
mod idempotency;
mod images;
mod item_search;
mod jobs;
mod keys;
mod limits;
mod oidc;
mod order_details;
mod orders;
mod request_ids;
mod resources;
mod state;
mod uploads;
mod webhooks;
mod wire;
