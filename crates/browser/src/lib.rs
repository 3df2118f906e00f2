//! A real headless browser for the end-to-end tests: Chromium through Debian's chromedriver, or
//! Firefox ESR through geckodriver (built from crates.io by scripts/setup.sh), each on a free
//! loopback port with a fresh profile. The same test code drives either.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub use fantoccini;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Chromium,
    Firefox,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FIREFOX: &str = "/usr/bin/firefox-esr";

/// Two browsers at once on two cores only make each other time out: one at a time per process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A WebDriver server, killed when dropped.
pub struct Driver {
    pub kind: Kind,
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
    /// Fake media devices granted without a prompt; Chromium plays this WAV file as the
    /// microphone and as a shared tab's sound (Firefox has its own fake microphone, no file).
    fake_audio: Option<PathBuf>,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` on PATH, or where `cargo install` puts it.
fn installed(name: &str) -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain(cargo_home.map(|home| home.join("bin")))
        .map(|dir| dir.join(name))
        .find(|file| file.is_file())
}

impl Driver {
    /// Starts the driver for `kind`; panics with what to install when it is missing.
    pub fn start(kind: Kind) -> Driver {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (program, browser) = match kind {
            Kind::Chromium => (Some(PathBuf::from(CHROMEDRIVER)).filter(|p| p.exists()), CHROMIUM),
            Kind::Firefox => (installed("geckodriver"), FIREFOX),
        };
        let program = match program {
            Some(program) if Path::new(browser).exists() => program,
            _ => panic!(
                "the {kind:?} tests need {browser} and its WebDriver (chromium-driver from apt, geckodriver from \
                 `cargo install geckodriver --locked`): run scripts/setup.sh"
            ),
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new(program);
        match kind {
            Kind::Chromium => command.arg(format!("--port={port}")),
            Kind::Firefox => command.args(["--host", "127.0.0.1", "--port", &port.to_string()]),
        };
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the WebDriver server");
        Driver { kind, child, port, profile: tempfile::tempdir().unwrap(), fake_audio: None, _turn: turn }
    }

    /// The browser's own media capture with fake devices, granted without a prompt. Chromium's
    /// microphone plays `wav` (looped) and its screen sharing offers a tab with that sound;
    /// Firefox's fake microphone plays a tone, and headless it has no screen to share.
    pub fn with_fake_media(kind: Kind, wav: &Path) -> Driver {
        let mut driver = Driver::start(kind);
        driver.fake_audio = Some(wav.to_path_buf());
        driver
    }

    fn capabilities(&self) -> Value {
        match self.kind {
            Kind::Chromium => {
                let mut args: Vec<String> = [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1400,1000",
                ]
                .map(String::from)
                .into();
                args.push(format!("--user-data-dir={}", self.profile.path().display()));
                if let Some(wav) = &self.fake_audio {
                    args.extend(
                        [
                            "--use-fake-ui-for-media-stream",
                            "--use-fake-device-for-media-stream",
                            "--auto-accept-this-tab-capture",
                        ]
                        .map(String::from),
                    );
                    args.push(format!("--use-file-for-fake-audio-capture={}", wav.display()));
                }
                json!({ "browserName": "chrome", "goog:chromeOptions": { "binary": CHROMIUM, "args": args } })
            }
            Kind::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": FIREFOX,
                    "args": ["-headless", "--width=1400", "--height=1000", "-profile", self.profile.path()],
                    // Lets the page read the clipboard back without Firefox's paste prompt.
                    "prefs": {
                        "dom.events.testing.asyncClipboard": true,
                        "media.navigator.streams.fake": self.fake_audio.is_some(),
                        "media.navigator.permission.disabled": self.fake_audio.is_some(),
                    },
                },
            }),
        }
    }

    /// A browser session; retries while the driver is still starting.
    pub async fn browser(&self) -> Client {
        let Value::Object(capabilities) = self.capabilities() else { unreachable!() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(client) => return client,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => panic!("the {:?} WebDriver did not start a browser: {e}", self.kind),
            }
        }
    }

    /// Lets pages from `origin` use the clipboard. Chromium asks for a permission, granted here
    /// through its DevTools; Firefox allows a page to write after a click, and reading is
    /// allowed by the profile's preference.
    pub async fn allow_clipboard(&self, client: &Client, origin: &str) {
        if self.kind == Kind::Chromium {
            let grant = json!({
                "cmd": "Browser.grantPermissions",
                "params": { "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] },
            });
            client.issue_cmd(Cdp(grant)).await.unwrap();
        }
    }

    /// Saves the page as `<name>.png` in `AUTONOTAR_SCREENSHOTS`, when set. Only Chromium's
    /// pictures are kept, so the committed set does not change with the browser that ran last.
    pub async fn screenshot(&self, client: &Client, name: &str) {
        if let (Some(dir), Kind::Chromium) = (std::env::var_os("AUTONOTAR_SCREENSHOTS"), self.kind) {
            std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), client.screenshot().await.unwrap()).unwrap();
        }
    }
}

/// A Chrome DevTools command through chromedriver.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

pub async fn press(client: &Client, key: char) {
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.unwrap();
}

/// The text of the first element matching `css`, waiting up to 10 s for it.
pub async fn text_of(client: &Client, css: &str) -> String {
    let element = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
    let element = element.unwrap_or_else(|e| panic!("no {css} on the page within 10 s: {e}"));
    element.text().await.unwrap()
}

/// Waits up to `within` until `script` (a JS expression) is true; on timeout says what the page shows.
pub async fn until_within(client: &Client, within: Duration, what: &str, script: &str) {
    let deadline = Instant::now() + within;
    loop {
        if client.execute(&format!("return !!({script});"), vec![]).await.unwrap() == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let said = client
                .execute("return (document.getElementById('msg')?.textContent ?? '') + ' | ' + document.querySelector('main')?.innerText;", vec![])
                .await
                .unwrap();
            panic!("timed out waiting for {what} ({script}); the page says {said}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`until_within`] 10 s.
pub async fn until(client: &Client, what: &str, script: &str) {
    until_within(client, Duration::from_secs(10), what, script).await
}
