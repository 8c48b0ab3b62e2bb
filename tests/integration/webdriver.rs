//! Headless Chromium driven through WebDriver (chromedriver + fantoccini), for tests that need
//! a real browser.
//!
//! [`Chrome::start`] starts chromedriver on a free port and opens a session with a fresh
//! profile. When chromedriver is missing the test prints `skipped: …` and passes, unless
//! `TESSERA_REQUIRE_BROWSER=1` (CI) makes that a failure. [`Chrome::run`] runs the test body
//! and, if it panics, saves a screenshot of the current page under
//! `target/tmp/browser-screenshots/` before failing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// Where screenshots of failed browser tests go.
pub fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots")
}

fn find_program(env_var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates.iter().find_map(|name| {
        let direct = PathBuf::from(name);
        if direct.is_absolute() {
            return direct.is_file().then_some(direct);
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A browser session and the chromedriver process behind it.
pub struct Chrome {
    pub client: Client,
    test: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Starts chromedriver (`TESSERA_CHROMEDRIVER`, else `chromedriver` on the PATH or in
    /// /usr/bin) and a headless Chromium session (`TESSERA_CHROMIUM`, else /usr/bin/chromium)
    /// for the test `test`; `None` (after printing why) when chromedriver is not installed and
    /// the browser is not required.
    pub async fn start(test: &str) -> Option<Self> {
        let required = std::env::var("TESSERA_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let Some(driver_path) = find_program(
            "TESSERA_CHROMEDRIVER",
            &[
                "chromedriver",
                "/usr/bin/chromedriver",
                "/usr/lib/chromium/chromedriver",
            ],
        ) else {
            let why = "chromedriver not found (install Debian's chromium and chromium-driver)";
            assert!(!required, "{test}: {why}, and TESSERA_REQUIRE_BROWSER=1");
            println!("skipped: {test}: {why}");
            return None;
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("local address").port()
        };
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start {}: {e}", driver_path.display()));
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut driver = driver;
        let client = match connect(port, profile.path()).await {
            Ok(c) => c,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("{test}: {e}");
            }
        };
        let chrome = Self {
            client,
            test: test.to_string(),
            driver,
            _profile: profile,
        };
        chrome
            .client
            .set_window_size(1100, 900)
            .await
            .expect("window size");
        Some(chrome)
    }

    /// Runs `body` with the session; on a panic, saves a screenshot of the page the browser
    /// was on, then fails the test with the original message. The session is closed either way.
    pub async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(body(self.client.clone())).await;
        if let Err(e) = &outcome
            && e.is_panic()
        {
            self.screenshot_to(&output_dir().join(format!("{}.png", self.test)))
                .await;
        }
        let _ = self.client.clone().close().await;
        drop(self);
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("browser test task failed: {e}"),
            }
        }
    }

    /// Saves a PNG of the current page to `path` (creating its folder); reports, never fails.
    pub async fn screenshot_to(&self, path: &Path) {
        save_screenshot(&self.client, path).await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Saves a PNG of the page `client` shows to `path`; prints where, or why it could not.
pub async fn save_screenshot(client: &Client, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match client.screenshot().await {
        Ok(png) => match std::fs::write(path, png) {
            Ok(()) => eprintln!("screenshot saved to {}", path.display()),
            Err(e) => eprintln!("cannot write screenshot {}: {e}", path.display()),
        },
        Err(e) => eprintln!("cannot take a screenshot: {e}"),
    }
}

/// Opens a WebDriver session on the chromedriver at `port`, waiting for it to listen.
async fn connect(port: u16, profile: &Path) -> Result<Client, String> {
    let args = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = serde_json::json!({ "args": args });
    if let Some(binary) = find_program("TESSERA_CHROMIUM", &["/usr/bin/chromium", "chromium"]) {
        options["binary"] = binary.display().to_string().into();
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    caps.insert("pageLoadStrategy".into(), "normal".into());
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = String::new();
    for _ in 0..100 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return Ok(client),
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no WebDriver session at {url}: {last_error}"))
}

/// Helpers on a WebDriver client for form-based pages.
pub trait Page {
    /// Types `value` into the input with this id (clearing it first).
    fn fill(&self, id: &str, value: &str) -> impl Future<Output = ()> + Send;
    /// Clicks the element matched by a CSS selector and waits for the next page.
    fn click_css(&self, css: &str) -> impl Future<Output = ()> + Send;
    /// The text of the element matched by a CSS selector.
    fn text_of(&self, css: &str) -> impl Future<Output = String> + Send;
    /// The page's `<h1>`.
    fn heading(&self) -> impl Future<Output = String> + Send;
}

impl Page for Client {
    async fn fill(&self, id: &str, value: &str) {
        let input = self
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no input #{id}: {e}"));
        input.clear().await.expect("clear the input");
        input.send_keys(value).await.expect("type into the input");
    }

    async fn click_css(&self, css: &str) {
        let before = self.find(Locator::Css("html")).await.expect("the page");
        self.find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches `{css}`: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
        // Wait until the old document is gone (the click navigated).
        let _ = self
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("html"))
            .await;
        for _ in 0..100 {
            if before.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text_of(&self, css: &str) -> String {
        self.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches `{css}`: {e}"))
            .text()
            .await
            .expect("element text")
    }

    async fn heading(&self) -> String {
        self.text_of("h1").await
    }
}
