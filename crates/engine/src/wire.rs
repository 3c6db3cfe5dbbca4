//! The compact text formats that cross between the engine and its JS host in batches:
//! one string per batch instead of one value (and one boundary crossing) per task.
//!
//! - payload lists: JSON texts separated by '\n' (JSON.stringify never emits a raw newline);
//! - completions: one line per finished run, `<slot>S<result json>` (`<slot>H<result json>`
//!   when the host settles its waiters itself) or `<slot>F<error json>`;
//! - claimed tasks: five JSON values per task, `slot,"id",def,attempt,payload` (see `Engine::claim`).

use crate::error::{EngineError, Result};
use crate::task::{Completion, TaskError};

/// Splits a '\n'-separated list of JSON texts.
pub fn split_payloads(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
}

/// Parses completion lines; a malformed line is an error naming it.
pub fn parse_completions(text: &str) -> Result<Vec<(u32, Completion)>> {
    let mut out = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let bad = || EngineError::invalid(format!("malformed completion line '{line}'"));
        let mut slot: u32 = 0;
        let mut digits = 0;
        for b in line.bytes().take_while(u8::is_ascii_digit) {
            slot = slot
                .checked_mul(10)
                .and_then(|s| s.checked_add((b - b'0') as u32))
                .ok_or_else(bad)?;
            digits += 1;
        }
        if digits == 0 {
            return Err(bad());
        }
        let rest = &line[digits..];
        let completion = match rest.as_bytes().first() {
            Some(b'S') => Completion::Success(rest[1..].into()),
            Some(b'H') => Completion::SuccessSettledByHost(rest[1..].into()),
            Some(b'F') => {
                let err: TaskError = serde_json::from_str(&rest[1..]).map_err(|_| bad())?;
                Completion::Failure(err)
            }
            _ => return Err(bad()),
        };
        out.push((slot, completion));
    }
    Ok(out)
}

/// Appends `s` to `out` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_parse() {
        let c = parse_completions(
            "3S{\"a\":1}\n12F{\"type\":\"Error\",\"message\":\"boom\",\"stack\":null}\n",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert!(matches!(&c[0], (3, Completion::Success(r)) if &**r == "{\"a\":1}"));
        assert!(
            matches!(&c[1], (12, Completion::Failure(e)) if e.message == "boom" && e.kind == "Error")
        );
        assert!(parse_completions("x").is_err());
        assert!(parse_completions("3Q").is_err());
        assert!(parse_completions("").unwrap().is_empty());
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}");
    }
}
