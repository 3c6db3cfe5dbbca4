//! Option decoding: executor options, submit options, task options and store URLs come
//! from users as JSON text; any text gives a value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use taskloom_engine::engine::{EngineConfig, StoreKind};
use taskloom_engine::{SubmitOptions, TaskDef};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = EngineConfig::from_json(text);
    let _ = SubmitOptions::from_json(text, 1_700_000_000_000);
    let (name, options) = text.split_once('\n').unwrap_or(("task", text));
    let _ = TaskDef::from_json(name, options);
    let _ = StoreKind::parse(name);
});
