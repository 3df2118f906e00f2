//! What the command-line tests share: running the real binary against the real models.
// Each test binary compiles this module and uses only a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// Whisper's worker threads spin: two decodes on two cores slow each other badly, so the tests
/// of one binary run the command one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub use fixtures::models_dir;

/// Runs `autonotar ARGS` with the test models and no config file from the working directory.
pub fn autonotar(args: &[&str], cwd: &Path) -> Output {
    autonotar_with(args, cwd, &[])
}

/// As [`autonotar`], with `env` set (an ingest key, say).
pub fn autonotar_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(args)
        .current_dir(cwd)
        .env("AUTONOTAR_MODELS_DIR", models_dir())
        .env_remove("AUTONOTAR_INGEST_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("the autonotar binary runs")
}

/// `autonotar ARGS ingest-key create NAME`: the new key, the last line it printed.
pub fn ingest_key(cwd: &Path, args: &[&str], name: &str) -> String {
    let mut all = args.to_vec();
    all.extend(["ingest-key", "create", name]);
    let output = autonotar(&all, cwd);
    assert!(output.status.success(), "ingest-key create failed: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).lines().last().expect("the key is printed").to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `autonotar serve` on a free loopback port with debug logs, killed when dropped.
pub struct Serve {
    child: std::process::Child,
    /// `127.0.0.1:PORT` as the service printed it.
    pub addr: String,
    /// An ingest key made for this service before it started.
    pub key: String,
    logs: String,
    rest: Option<std::thread::JoinHandle<String>>,
}

impl Serve {
    /// Starts `autonotar ARGS serve --listen 127.0.0.1:0` in `cwd` and waits until it listens.
    pub fn start(cwd: &Path, args: &[&str]) -> Serve {
        Serve::start_with(cwd, args, &[])
    }

    /// As [`Serve::start`], with `serve_args` after `serve` (`--nats URL`, say).
    pub fn start_with(cwd: &Path, args: &[&str], serve_args: &[&str]) -> Serve {
        use std::io::{BufRead, Read};
        let key = ingest_key(cwd, args, "tests");
        let mut child = Command::new(env!("CARGO_BIN_EXE_autonotar"))
            .args(args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(serve_args)
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
        Serve { child, addr, key, logs, rest: Some(rest) }
    }

    /// `autonotar replay ARGS` against this service with its ingest key.
    pub fn replay(&self, cwd: &Path, args: &[&str]) -> Output {
        let server = format!("ws://{}", self.addr);
        let mut all = vec!["replay", "--server", server.as_str()];
        all.extend_from_slice(args);
        autonotar_with(&all, cwd, &[("AUTONOTAR_INGEST_KEY", &self.key)])
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status and everything it logged.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        let rest = self.rest.take().map(|r| r.join().unwrap()).unwrap_or_default();
        (status, std::mem::take(&mut self.logs) + &rest)
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

/// A signed link for `doctor` into the service at `addr`, as the practice system's button gets it.
pub fn link(dir: &Path, data: &Path, addr: &str, doctor: &str) -> String {
    let config = dir.join(format!("link-{doctor}.toml"));
    std::fs::write(&config, format!("[server]\npublic_url = \"http://{addr}\"\n")).unwrap();
    let out = autonotar(
        &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "link", "--doctor", doctor],
        dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The session cookie a doctor gets from `link`, for plain HTTP requests.
pub fn session_cookie(addr: &str, link: &str) -> String {
    let path = link.split_once(addr).unwrap().1;
    let response = http_get(addr, path, None);
    let cookie = response.lines().find_map(|l| l.strip_prefix("set-cookie: ")).expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// Every audit record written so far, as text (the records are JSON lines; no words of a call).
pub fn audit_text(data: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(data.join("audit")).unwrap() {
        text.push_str(&String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()));
    }
    text
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(path);
        }
    }
    files
}
