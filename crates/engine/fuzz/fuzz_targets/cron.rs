//! Cron expressions and time zones: parsing any text, then asking for ticks, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use taskloom_engine::schedule::CronSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (expr, tz) = match text.split_once('|') {
        Some((e, t)) => (e, Some(t)),
        None => (text, None),
    };
    if let Ok(spec) = CronSpec::parse(expr, tz) {
        for at in [0u64, 1_700_000_000_000, 4_102_444_800_000] {
            let _ = spec.next_after(at);
            let _ = spec.latest_until(at);
        }
    }
});
