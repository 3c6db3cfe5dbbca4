//! Workflow specs and coordinator outcomes: any text parses or is refused, and a parsed
//! workflow plans from any outcomes without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use taskloom_engine::workflow::{parse_outcomes, Workflow};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (spec, outcomes) = text.split_once('\n').unwrap_or((text, "[]"));
    if let Ok(wf) = Workflow::parse(spec) {
        let _ = wf.members().len();
        if let Ok(o) = parse_outcomes(outcomes) {
            let _ = wf.plan(&o);
        }
    }
});
