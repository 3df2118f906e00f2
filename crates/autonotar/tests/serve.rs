//! `autonotar serve` from nothing: no config file, a fresh directory, a free loopback port.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

#[test]
fn serve_starts_on_defaults_without_a_config_file_and_answers_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_autonotar"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("AUTONOTAR_MODELS_DIR", common::models_dir())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited before listening");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(addr.starts_with("127.0.0.1:"), "binds to loopback: {addr}");
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).unwrap();
        body
    };
    assert!(get("/healthz").ends_with("ok\n"));
    let metrics = get("/metrics");
    assert!(metrics.contains("autonotar_active_sessions 0"), "{metrics}");
    assert!(dir.path().join("autonotar-data").is_dir(), "the data directory is created on first start");
    child.kill().unwrap();
    child.wait().unwrap();
}
