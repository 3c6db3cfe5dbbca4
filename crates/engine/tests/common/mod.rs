//! Helpers shared by the engine's integration tests: an engine on a manual clock, and
//! claims decoded from the engine's batch format.
#![allow(dead_code)] // each test file uses its own subset

pub mod redis_server;

use std::sync::Arc;

use taskloom_engine::engine::EngineConfig;
use taskloom_engine::{Engine, ManualClock, SubmitOptions, TaskDef};

pub const T0: u64 = 1_700_000_000_000;

/// An engine configured by `cfg_json`, on a manual clock starting at `T0`.
pub fn engine(cfg_json: &str) -> (Engine, ManualClock) {
    let clock = ManualClock::new(T0);
    let cfg = EngineConfig::from_json(cfg_json).unwrap();
    (Engine::with_clock(cfg, Arc::new(clock.clone())), clock)
}

pub fn register(e: &mut Engine, name: &str, opts: &str) -> u32 {
    e.register(TaskDef::from_json(name, opts).unwrap()).unwrap()
}

/// Submits one task; returns its id.
pub fn submit(e: &mut Engine, def: u32, payload: &str, opts: &str) -> String {
    let now = e.now();
    let o = SubmitOptions::from_json(opts, now).unwrap();
    e.submit(def, [payload], &o).unwrap()[0].to_string()
}

/// Submits `n` tasks with payloads 0..n; returns their ids.
pub fn submit_n(e: &mut Engine, def: u32, n: usize) -> Vec<String> {
    let now = e.now();
    let payloads: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let ids = e
        .submit(
            def,
            payloads.iter().map(|s| s.as_str()),
            &SubmitOptions::from_json("", now).unwrap(),
        )
        .unwrap();
    ids.into_iter().map(|i| i.to_string()).collect()
}

/// A task as `claim` hands it out.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub slot: u32,
    pub id: String,
    pub def: u32,
    pub attempt: u32,
    pub payload: serde_json::Value,
}

/// Claims up to `n` tasks.
pub fn claim(e: &mut Engine, n: usize) -> Vec<Claimed> {
    let mut out = String::from("[");
    e.claim(n, &mut out);
    out.push(']');
    let flat: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    flat.chunks(5)
        .map(|c| Claimed {
            slot: c[0].as_u64().unwrap() as u32,
            id: c[1].as_str().unwrap().to_string(),
            def: c[2].as_u64().unwrap() as u32,
            attempt: c[3].as_u64().unwrap() as u32,
            payload: c[4].clone(),
        })
        .collect()
}

/// The events waiting in the engine, as JSON values.
pub fn events(e: &mut Engine) -> Vec<serde_json::Value> {
    let mut out = String::from("[");
    e.drain_events(&mut out);
    out.push(']');
    serde_json::from_str(&out).unwrap()
}

/// A task's `result` as info shows it (its JSON text), parsed.
#[allow(dead_code)]
pub fn result_of(info: &serde_json::Value) -> serde_json::Value {
    let text = info["result"].as_str().expect("the result is a JSON text");
    serde_json::from_str(text).expect("the result text is JSON")
}
