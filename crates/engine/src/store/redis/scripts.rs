//! The Lua scripts that make each step atomic in Redis. Each is `common.lua` plus its
//! own file; they are loaded once per connection (SCRIPT LOAD) and called by hash
//! (EVALSHA), and loaded again when Redis answers NOSCRIPT (after a restart or a
//! SCRIPT FLUSH).

use redis::Script;

use crate::store::protocol::NewTask;

macro_rules! lua {
    ($file:literal) => {
        concat!(include_str!("lua/common.lua"), "\n", include_str!($file))
    };
}

/// The insert script's source, for `EVAL` inside a transaction (where a NOSCRIPT answer
/// would come only at EXEC, too late to load it).
const INSERT_SOURCE: &str = lua!("lua/insert.lua");
/// Run once per open (see `check_access`), so not kept loaded.
pub const UPGRADE_SOURCE: &str = lua!("lua/upgrade.lua");

pub struct Scripts {
    pub insert: Script,
    pub claim: Script,
    pub finish: Script,
    pub retry: Script,
    pub started: Script,
    pub release: Script,
    pub promote: Script,
    pub recover: Script,
    pub cancel: Script,
    pub outlook: Script,
    pub trim: Script,
    pub requeue: Script,
    pub artifact: Script,
    pub remove: Script,
    pub clean: Script,
    pub drain: Script,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts::new()
    }
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            insert: Script::new(INSERT_SOURCE),
            claim: Script::new(lua!("lua/claim.lua")),
            finish: Script::new(lua!("lua/finish.lua")),
            retry: Script::new(lua!("lua/retry.lua")),
            started: Script::new(lua!("lua/started.lua")),
            release: Script::new(lua!("lua/release.lua")),
            promote: Script::new(lua!("lua/promote.lua")),
            recover: Script::new(lua!("lua/recover.lua")),
            cancel: Script::new(lua!("lua/cancel.lua")),
            outlook: Script::new(lua!("lua/outlook.lua")),
            trim: Script::new(lua!("lua/trim.lua")),
            requeue: Script::new(lua!("lua/requeue.lua")),
            artifact: Script::new(lua!("lua/artifact.lua")),
            remove: Script::new(lua!("lua/remove.lua")),
            clean: Script::new(lua!("lua/clean.lua")),
            drain: Script::new(lua!("lua/drain.lua")),
        }
    }

    pub fn all(&self) -> [&Script; 16] {
        [
            &self.insert,
            &self.claim,
            &self.finish,
            &self.retry,
            &self.started,
            &self.release,
            &self.promote,
            &self.recover,
            &self.cancel,
            &self.outlook,
            &self.trim,
            &self.requeue,
            &self.artifact,
            &self.remove,
            &self.clean,
            &self.drain,
        ]
    }

    /// A call of `script` by hash: `EVALSHA <sha> 1 <prefix> <prefix>` — the prefix is the
    /// one key (so a cluster routes the call to the namespace's slot) and ARGV[1].
    pub fn call(&self, script: &Script, prefix: &str) -> redis::Cmd {
        let mut c = redis::cmd("EVALSHA");
        c.arg(script.get_hash()).arg(1).arg(prefix).arg(prefix);
        c
    }

    /// The insert script's call for `tasks` (one submit: they share name, queue,
    /// priority, attempts and times).
    pub fn insert_call(&self, prefix: &str, now: u64, tasks: &[NewTask]) -> redis::Cmd {
        insert_args(self.call(&self.insert, prefix), now, tasks)
    }

    /// The same call by source (`EVAL`), for a chunk of a batch sent as one transaction.
    pub fn insert_call_inline(&self, prefix: &str, now: u64, tasks: &[NewTask]) -> redis::Cmd {
        let mut c = redis::cmd("EVAL");
        c.arg(INSERT_SOURCE).arg(1).arg(prefix).arg(prefix);
        insert_args(c, now, tasks)
    }

    /// Loads every script on `con` (one round trip).
    pub fn load(&self, con: &mut redis::Connection) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        for s in self.all() {
            pipe.load_script(s);
        }
        pipe.query::<Vec<String>>(con).map(|_| ())
    }
}

/// The insert script's arguments after its key (see `lua/insert.lua`).
fn insert_args(mut c: redis::Cmd, now: u64, tasks: &[NewTask]) -> redis::Cmd {
    let t = &tasks[0];
    c.arg(now)
        .arg(&*t.name)
        .arg(&*t.queue)
        .arg(t.priority)
        .arg(t.max_attempts)
        .arg(t.created_at)
        .arg(t.run_at)
        .arg(t.trace.as_deref().unwrap_or(""))
        .arg(tasks.len());
    let mut buf = uuid::Uuid::encode_buffer();
    for task in tasks {
        c.arg(&*task.id.hyphenated().encode_lower(&mut buf))
            .arg(task.payload.as_str())
            .arg(task.key.as_deref().unwrap_or(""));
    }
    c
}
