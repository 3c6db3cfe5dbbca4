//! SQLite errors as users read them: the message with the SQLite result code's name
//! (`SQLITE_FULL`, `SQLITE_CORRUPT`…), which is what a search or a runbook knows.

use rusqlite::ErrorCode;

/// The SQLite name of a primary result code, if the error carries one.
pub fn code_name(e: &rusqlite::Error) -> Option<&'static str> {
    let rusqlite::Error::SqliteFailure(f, _) = e else {
        return None;
    };
    Some(match f.code {
        ErrorCode::DiskFull => "SQLITE_FULL",
        ErrorCode::DatabaseCorrupt => "SQLITE_CORRUPT",
        ErrorCode::NotADatabase => "SQLITE_NOTADB",
        ErrorCode::SystemIoFailure => "SQLITE_IOERR",
        ErrorCode::ReadOnly => "SQLITE_READONLY",
        ErrorCode::CannotOpen => "SQLITE_CANTOPEN",
        ErrorCode::DatabaseBusy => "SQLITE_BUSY",
        ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
        ErrorCode::OutOfMemory => "SQLITE_NOMEM",
        ErrorCode::PermissionDenied => "SQLITE_PERM",
        ErrorCode::TooBig => "SQLITE_TOOBIG",
        ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
        ErrorCode::SchemaChanged => "SQLITE_SCHEMA",
        ErrorCode::FileLockingProtocolFailed => "SQLITE_PROTOCOL",
        _ => "SQLITE_ERROR",
    })
}

/// `message (SQLITE_CODE)`, or the plain message for errors that are not SQLite's.
pub fn describe(e: &rusqlite::Error) -> String {
    match code_name(e) {
        Some(code) => format!("{e} ({code})"),
        None => e.to_string(),
    }
}

/// Whether the file itself is damaged: retrying cannot help until someone repairs it.
pub fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(code_name(e), Some("SQLITE_CORRUPT" | "SQLITE_NOTADB"))
}

/// Another connection holds the lock: the same statement may succeed in a moment.
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(code_name(e), Some("SQLITE_BUSY" | "SQLITE_LOCKED"))
}
