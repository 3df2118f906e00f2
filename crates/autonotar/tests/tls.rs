//! `serve` with `[server] tls_cert` / `tls_key`: a self-signed certificate made here, a real
//! HTTPS request checked against it, and a review session cookie marked `Secure`.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};

/// A GET over TLS to `addr`, trusting only `certificate`: the whole response as text.
fn https_get(addr: &str, path: &str, certificate: &CertificateDer<'static>) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = ServerName::try_from(addr.split(':').next().unwrap().to_string()).unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), host).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, std::net::TcpStream::connect(addr).unwrap());
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    // The server may close without a TLS goodbye once HTTP/1.0 is answered; what came is whole.
    let _ = stream.read_to_end(&mut response);
    String::from_utf8(response).unwrap()
}

#[test]
fn with_a_certificate_serve_speaks_https_and_the_review_cookie_is_secure() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    let config = dir.path().join("autonotar.toml");
    std::fs::write(&config, "[server]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n").unwrap();
    let data = dir.path().join("data");
    let serve =
        common::Serve::start(dir.path(), &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    let addr = serve.addr.clone();

    let health = https_get(&addr, "/healthz", made.cert.der());
    assert!(health.starts_with("HTTP/1.") && health.contains(" 200 ") && health.ends_with("ok\n"), "{health}");
    // Plain HTTP gets no HTTP answer.
    let plain = common::http_get(&addr, "/healthz", None);
    assert!(!plain.contains("ok\n"), "answered over plain HTTP: {plain}");

    // The link names the HTTPS address (public_url follows TLS), and the session cookie is Secure.
    let link = common::autonotar(
        &["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "link", "--doctor", "laege-01"],
        dir.path(),
    );
    let link = String::from_utf8(link.stdout).unwrap();
    assert!(link.starts_with("https://127.0.0.1:8470/review/login?t="), "{link}");
    let login = https_get(&addr, link.trim().trim_start_matches("https://127.0.0.1:8470"), made.cert.der());
    let cookie = login
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {login}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    let logs = serve.stop();
    assert!(logs.contains(&format!("wss://{addr}/v1/ingest")), "{logs}");
}

#[test]
fn half_a_tls_configuration_or_an_http_address_with_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (config, says) in [
        ("[server]\ntls_cert = \"cert.pem\"\n", "tls_cert and tls_key go together"),
        (
            "[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\npublic_url = \"http://x\"\n",
            "must start with https://",
        ),
    ] {
        std::fs::write(dir.path().join("autonotar.toml"), config).unwrap();
        let out = common::autonotar(&["--config", "autonotar.toml", "link", "--doctor", "laege-01"], dir.path());
        assert!(!out.status.success() && common::stderr(&out).contains(says), "{config}: {}", common::stderr(&out));
    }
}
