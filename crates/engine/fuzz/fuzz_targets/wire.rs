//! The completion wire format (`<slot>S<json>` / `<slot>F<error json>` lines) as the JS
//! layer sends it: any text parses or is refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = taskloom_engine::wire::parse_completions(text);
    let _ = taskloom_engine::wire::split_payloads(text).count();
});
