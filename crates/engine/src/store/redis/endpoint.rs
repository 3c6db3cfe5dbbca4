//! Where the Redis store connects: one server, or the node of a Redis Cluster that owns
//! the namespace's slot.
//!
//! Every key of a namespace carries the hash tag `{ns}`, so all of them live in one slot
//! of a cluster, on one node. In cluster mode (`redis+cluster://` or `rediss+cluster://`)
//! the store asks the node it is given — any node — which node owns that slot (`CLUSTER
//! KEYSLOT`, `CLUSTER SLOTS`) and talks to it directly; when Redis answers MOVED or ASK
//! (a failover, a resharding) the connection is dropped and the owner looked up again.
//! A plain `redis://` URL that points at a cluster node is refused at construction,
//! since its commands would be redirected away from it.

use std::time::Duration;

use redis::{Client, ConnectionAddr, ErrorKind, RedisResult, ServerErrorKind, Value};

use super::scripts::Scripts;

pub struct Endpoint {
    /// The server (or, in cluster mode, the node first asked).
    seed: Client,
    cluster: bool,
    /// The namespace's hash-tagged prefix, whose slot decides the node.
    prefix: String,
}

/// The scheme suffix that asks for cluster mode.
const CLUSTER_SCHEME: &str = "+cluster://";

/// Splits `redis+cluster://…` into the plain URL and whether cluster mode was asked.
pub fn cluster_url(url: &str) -> (String, bool) {
    match url.split_once(CLUSTER_SCHEME) {
        Some((scheme, rest)) if scheme == "redis" || scheme == "rediss" => (format!("{scheme}://{rest}"), true),
        _ => (url.to_string(), false),
    }
}

/// Whether an error is a cluster redirection or a transient cluster state: the command did
/// not run on this node, and the owner of the slot is to be looked up again.
pub fn is_redirect(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(
            ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::TryAgain | ServerErrorKind::ClusterDown
        )
    )
}

impl Endpoint {
    pub fn new(seed: Client, cluster: bool, prefix: String) -> Endpoint {
        Endpoint { seed, cluster, prefix }
    }

    /// The client for connections that may go to any node (the subscriber: in a cluster,
    /// a PUBLISH reaches the subscribers of every node).
    pub fn seed(&self) -> &Client {
        &self.seed
    }

    /// A connection to the server, or to the owner of the namespace's slot, with the
    /// scripts loaded.
    pub fn connect(&self, scripts: &Scripts) -> RedisResult<redis::Connection> {
        let client = if self.cluster { self.owner()? } else { self.seed.clone() };
        let mut c = client.get_connection_with_timeout(Duration::from_secs(2))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        scripts.load(&mut c)?;
        Ok(c)
    }

    /// At construction: a plain URL must not point at a cluster node, and a cluster URL
    /// must point at one (each mistake would otherwise show up as errors on every command).
    pub fn check_mode(&self, con: &mut redis::Connection) -> Result<(), String> {
        let info: String = redis::cmd("INFO").arg("cluster").query(con).map_err(|e| e.to_string())?;
        let enabled = info.lines().any(|l| l.trim() == "cluster_enabled:1");
        match (enabled, self.cluster) {
            (true, false) => Err(
                "it is a Redis Cluster node: use a redis+cluster:// (or rediss+cluster://) URL, and the store will talk to the node that owns its namespace".into(),
            ),
            (false, true) => Err("a redis+cluster:// URL was given, but the server is not a Redis Cluster node".into()),
            _ => Ok(()),
        }
    }

    /// The node that owns the namespace's slot, as a client with the seed's settings
    /// (credentials, TLS) and that node's address.
    fn owner(&self) -> RedisResult<Client> {
        let mut con = self.seed.get_connection_with_timeout(Duration::from_secs(2))?;
        con.set_read_timeout(Some(Duration::from_secs(5)))?;
        let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(&self.prefix).query(&mut con)?;
        let slots: Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con)?;
        let (host, port) = slot_owner(&slots, slot).ok_or_else(|| {
            redis::RedisError::from((ErrorKind::Server(ServerErrorKind::ClusterDown), "no node owns the namespace's slot", format!("slot {slot}")))
        })?;
        let info = self.seed.get_connection_info().clone();
        let addr = match info.addr() {
            ConnectionAddr::TcpTls { insecure, tls_params, .. } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        Client::open(info.set_addr(addr))
    }
}

/// The master of `slot` in a `CLUSTER SLOTS` answer: `[[start, end, [host, port, id…], replicas…], …]`.
fn slot_owner(slots: &Value, slot: i64) -> Option<(String, u16)> {
    let Value::Array(ranges) = slots else { return None };
    for range in ranges {
        let Value::Array(r) = range else { continue };
        let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) = (r.first(), r.get(1), r.get(2)) else {
            continue;
        };
        if !(*start..=*end).contains(&slot) {
            continue;
        }
        let host = match master.first()? {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            _ => return None,
        };
        let Value::Int(port) = master.get(1)? else { return None };
        return Some((host, u16::try_from(*port).ok()?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_recognised_and_made_plain() {
        assert_eq!(cluster_url("redis+cluster://h:1/"), ("redis://h:1/".to_string(), true));
        assert_eq!(cluster_url("rediss+cluster://u:p@h:1"), ("rediss://u:p@h:1".to_string(), true));
        assert_eq!(cluster_url("redis://h:1"), ("redis://h:1".to_string(), false));
    }

    #[test]
    fn the_master_of_a_slot_is_found_in_cluster_slots() {
        let node = |host: &str, port: i64| Value::Array(vec![Value::BulkString(host.into()), Value::Int(port), Value::BulkString(b"id".to_vec())]);
        let slots = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(5460), node("10.0.0.1", 7000), node("10.0.0.9", 7009)]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node("10.0.0.2", 7001)]),
        ]);
        assert_eq!(slot_owner(&slots, 0), Some(("10.0.0.1".into(), 7000)));
        assert_eq!(slot_owner(&slots, 9000), Some(("10.0.0.2".into(), 7001)));
        assert_eq!(slot_owner(&Value::Array(vec![]), 1), None);
    }
}
