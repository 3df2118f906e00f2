//! What the command-line tests share: running the real binary against the real models.
// Each test binary compiles this module and uses only a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

/// Whisper's worker threads spin: two decodes on two cores slow each other badly, so the tests
/// of one binary run the command one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub use fixtures::models_dir;

/// Runs `autonotar ARGS` with the test models and no config file from the working directory.
pub fn autonotar(args: &[&str], cwd: &Path) -> Output {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(args)
        .current_dir(cwd)
        .env("AUTONOTAR_MODELS_DIR", models_dir())
        .output()
        .expect("the autonotar binary runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `autonotar serve` on a free loopback port with debug logs, killed when dropped.
pub struct Serve {
    child: std::process::Child,
    /// `127.0.0.1:PORT` as the service printed it.
    pub addr: String,
    logs: String,
    rest: Option<std::thread::JoinHandle<String>>,
}

impl Serve {
    /// Starts `autonotar ARGS serve --listen 127.0.0.1:0` in `cwd` and waits until it listens.
    pub fn start(cwd: &Path, args: &[&str]) -> Serve {
        use std::io::{BufRead, Read};
        let mut child = Command::new(env!("CARGO_BIN_EXE_autonotar"))
            .args(args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(cwd)
            .env("AUTONOTAR_MODELS_DIR", models_dir())
            .env("AUTONOTAR_LOG", "debug")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the autonotar binary runs");
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut logs = String::new();
        let addr = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited before listening: {logs}");
            logs.push_str(&line);
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        let rest = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            rest
        });
        Serve { child, addr, logs, rest: Some(rest) }
    }

    /// Stops the service; returns everything it logged.
    pub fn stop(mut self) -> String {
        self.kill();
        let rest = self.rest.take().map(|r| r.join().unwrap()).unwrap_or_default();
        std::mem::take(&mut self.logs) + &rest
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.0 GET: the whole response, head and body, as text.
pub fn http_get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{cookie}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
