//! The SDK over real HTTP on 127.0.0.1 against the emulator: parsing of every kind of answer,
//! what goes on the wire, client configuration, the fluent client and fan-out. Faults come from
//! the emulator (`x-emulator-fault`), never from mocks of our own code.

mod answers;
mod auth;
mod binary;
#[path = "../support/captured.rs"]
mod captured;
mod clients;
mod edges;
mod error_answers;
mod faces;
mod fanout;
mod fluent;
mod hostile;
mod paging;
mod proxies;
mod request_ids;
mod resilience;
mod support;
mod tls;
mod tls_support;
mod uploads;
mod waiters;
mod webhooks;
mod wire;
mod workflows;
