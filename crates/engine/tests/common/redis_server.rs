//! A private `redis-server` for a test: started on a free loopback port (never the
//! standard one), with its data in a temporary directory, and stopped — by its own pid —
//! when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    aof: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the redis-server answering on `con` is the process `pid` (`INFO server`).
fn serves_pid(mut con: TcpStream, pid: u32) -> bool {
    use std::io::{Read, Write};
    let _ = con.set_read_timeout(Some(Duration::from_secs(2)));
    if con.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let wanted = format!("process_id:{pid}\r\n");
    while let Ok(n) = con.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if text.contains(&wanted) {
            return true;
        }
        if text.contains("process_id:") && text.contains("\r\n\r\n") {
            return false;
        }
    }
    false
}

fn binary() -> String {
    std::env::var("TASKLOOM_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(false)
    }

    /// With `aof`, every write is appended and fsynced: a restart loses nothing.
    pub fn start_with(aof: bool) -> RedisServer {
        for _ in 0..10 {
            let mut s = RedisServer {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().unwrap(),
                aof,
            };
            if s.spawn() {
                return s;
            }
        }
        panic!("could not start redis-server (is it installed? set TASKLOOM_REDIS_SERVER)");
    }

    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new(binary());
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--dir", self.dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if self.aof {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let Ok(mut child) = cmd.spawn() else {
            return false;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false; // the port was taken meanwhile
            }
            if let Ok(con) = TcpStream::connect(("127.0.0.1", self.port)) {
                // Two tests may pick the same free port: the one whose server lost the
                // race would be talking to the other's. Ours answers with our pid.
                if serves_pid(con, child.id()) {
                    self.child = Some(child);
                    return true;
                }
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL to its pid) and starts it again on the same port and
    /// directory.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "redis-server did not come back");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
