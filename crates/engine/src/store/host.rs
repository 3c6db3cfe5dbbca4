//! Which workers share this machine, and whether a worker's process still lives.
//!
//! A worker records its pid and a host key naming its machine and pid namespace. Another
//! worker with the same key can then ask the kernel whether that pid still exists: a
//! worker killed with `kill -9` has its tasks recovered within a second instead of after
//! its whole lease. Where no key can be formed (systems other than Linux), recovery
//! stays lease-only, which is always correct, only slower.

use std::sync::OnceLock;

/// This process's machine and pid namespace, or None where they cannot be told.
///
/// Linux: the boot id (new at every boot, so a pid from before a reboot never matches)
/// and the inode of the pid namespace (containers on one kernel have their own pids).
pub fn host_key() -> Option<&'static str> {
    static KEY: OnceLock<Option<String>> = OnceLock::new();
    KEY.get_or_init(read_host_key).as_deref()
}

#[cfg(target_os = "linux")]
fn read_host_key() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

#[cfg(not(target_os = "linux"))]
fn read_host_key() -> Option<String> {
    None
}

/// Whether the process `pid` of this host (same key) is certainly gone: no such process,
/// or a zombie that is only waiting to be reaped. A pid that exists but belongs to
/// another user counts as alive. Errs on the side of alive: the lease still covers it.
#[cfg(target_os = "linux")]
pub fn process_is_gone(pid: u32) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    if !exists {
        return true;
    }
    // "pid (comm) S …": the state follows the last ')' (comm may hold any byte).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(not(target_os = "linux"))]
pub fn process_is_gone(_pid: u32) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_host_key_names_boot_and_pid_namespace() {
        let key = host_key().expect("Linux has a host key");
        assert!(key.contains("pid:["), "{key}");
        assert_eq!(host_key(), Some(key), "the same for the life of the process");
    }

    #[test]
    fn a_live_process_is_not_gone_and_a_killed_one_is() {
        assert!(!process_is_gone(std::process::id()));
        assert!(!process_is_gone(1), "init lives (and may belong to another user)");
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(!process_is_gone(pid));
        child.kill().unwrap();
        // Killed but not reaped yet: a zombie, which is gone for this purpose.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !process_is_gone(pid) {
            assert!(std::time::Instant::now() < deadline, "the killed child never read as gone");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.wait().unwrap();
        assert!(process_is_gone(pid), "reaped: no such process");
    }

    #[test]
    fn impossible_pids_are_not_called_gone() {
        assert!(!process_is_gone(0));
        assert!(!process_is_gone(u32::MAX));
    }
}
