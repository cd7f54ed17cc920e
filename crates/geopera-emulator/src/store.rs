//! `--state FILE`: orders, keys and balances kept in SQLite across restarts.
//!
//! The whole durable part of the state is written after every request that executed an
//! operation which is not read-only; it is small (a few hundred rows per organization), and
//! one transaction per write keeps the file consistent if the process dies mid-way.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::state::{Credential, Inner, Order, OrderKind, Org};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    secret TEXT PRIMARY KEY, id TEXT NOT NULL, org TEXT NOT NULL, name TEXT NOT NULL,
    prefix TEXT NOT NULL, grants TEXT NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER, revoked INTEGER NOT NULL, session INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    org TEXT PRIMARY KEY, balance_credits INTEGER NOT NULL, orders TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, kind TEXT NOT NULL, display_name TEXT NOT NULL,
    created_at INTEGER NOT NULL, cancelled_at INTEGER, total_credits INTEGER NOT NULL,
    detail TEXT NOT NULL);
";

/// What a state file holds.
pub(crate) struct Snapshot {
    pub rng_state: u64,
    pub credentials: HashMap<String, Credential>,
    pub orgs: HashMap<String, Org>,
    pub orders: HashMap<String, Order>,
}

/// An open state file.
#[derive(Debug)]
pub(crate) struct Store {
    connection: Mutex<Connection>,
}

fn io_error(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(error)
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Opens (creating if needed) the file for an emulator with `seed`, and reads what an
    /// earlier run left, if anything.
    ///
    /// # Errors
    /// When the file cannot be opened or read, or was written by an emulator with another
    /// seed (whose catalog and ids would not match).
    pub(crate) fn open(path: &Path, seed: u64) -> io::Result<(Store, Option<Snapshot>)> {
        let connection = Connection::open(path).map_err(io_error)?;
        connection.execute_batch(SCHEMA).map_err(io_error)?;
        let meta = |key: &str| -> io::Result<Option<String>> {
            connection
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(io_error)
        };
        let snapshot = match meta("seed")? {
            None => None,
            Some(stored) if stored != seed.to_string() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} holds the state of an emulator with seed {stored}, not {seed}",
                        path.display()
                    ),
                ))
            }
            Some(_) => {
                let rng_state = meta("rng_state")?
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(seed);
                Some(read(&connection, rng_state).map_err(io_error)?)
            }
        };
        let store = Store {
            connection: Mutex::new(connection),
        };
        Ok((store, snapshot))
    }

    /// Replaces the file's contents with the durable part of `inner`.
    ///
    /// # Errors
    /// When SQLite cannot write the file.
    pub(crate) fn save(&self, seed: u64, inner: &Inner) -> rusqlite::Result<()> {
        let mut connection = match self.connection.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let tx = connection.transaction()?;
        tx.execute_batch(
            "DELETE FROM meta; DELETE FROM credentials; DELETE FROM orgs; DELETE FROM orders;",
        )?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('seed', ?1), ('rng_state', ?2)",
            params![seed.to_string(), inner.rng.state().to_string()],
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO credentials VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (secret, key) in &inner.credentials {
                insert.execute(params![
                    secret,
                    key.id,
                    key.org,
                    key.name,
                    key.prefix,
                    json_text(&key.grants),
                    key.created_at,
                    key.expires_at,
                    key.revoked,
                    key.session
                ])?;
            }
            let mut insert = tx.prepare("INSERT INTO orgs VALUES (?1, ?2, ?3)")?;
            for (name, org) in &inner.orgs {
                insert.execute(params![name, org.balance_credits, json_text(&org.orders)])?;
            }
            let mut insert =
                tx.prepare("INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
            for order in inner.orders.values() {
                insert.execute(params![
                    order.id,
                    order.org,
                    order.kind.name(),
                    order.display_name,
                    order.created_at,
                    order.cancelled_at,
                    order.total_credits,
                    json_text(&order.detail)
                ])?;
            }
        }
        tx.commit()
    }
}

fn read(connection: &Connection, rng_state: u64) -> rusqlite::Result<Snapshot> {
    let parse = |text: String| serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
    let strings = |value: Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect()
    };
    let mut credentials = HashMap::new();
    let mut query = connection.prepare("SELECT * FROM credentials")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let secret: String = row.get(0)?;
        let key = Credential {
            id: row.get(1)?,
            org: row.get(2)?,
            name: row.get(3)?,
            prefix: row.get(4)?,
            grants: strings(parse(row.get(5)?)),
            created_at: row.get(6)?,
            expires_at: row.get(7)?,
            revoked: row.get(8)?,
            session: row.get(9)?,
        };
        credentials.insert(secret, key);
    }
    let mut orgs = HashMap::new();
    let mut query = connection.prepare("SELECT * FROM orgs")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let org = Org {
            balance_credits: row.get(1)?,
            orders: strings(parse(row.get(2)?)),
        };
        orgs.insert(row.get(0)?, org);
    }
    let mut orders = HashMap::new();
    let mut query = connection.prepare("SELECT * FROM orders")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let kind: String = row.get(2)?;
        let order = Order {
            id: row.get(0)?,
            org: row.get(1)?,
            kind: OrderKind::from_name(&kind),
            display_name: row.get(3)?,
            created_at: row.get(4)?,
            cancelled_at: row.get(5)?,
            total_credits: row.get(6)?,
            detail: parse(row.get(7)?),
        };
        orders.insert(order.id.clone(), order);
    }
    Ok(Snapshot {
        rng_state,
        credentials,
        orgs,
        orders,
    })
}
