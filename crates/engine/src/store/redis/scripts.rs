//! The Lua scripts that make each step atomic in Redis. Each is `common.lua` plus its
//! own file; they are loaded once per connection (SCRIPT LOAD) and called by hash
//! (EVALSHA), and loaded again when Redis answers NOSCRIPT (after a restart or a
//! SCRIPT FLUSH).

use redis::Script;

macro_rules! lua {
    ($file:literal) => {
        concat!(include_str!("lua/common.lua"), "\n", include_str!($file))
    };
}

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
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            insert: Script::new(lua!("lua/insert.lua")),
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
        }
    }

    pub fn all(&self) -> [&Script; 11] {
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
        ]
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
