//! The browser login driver: each flow is a new browser (its own cookie jar) that goes
//! GET /authorize → the login form → POST /login (argon2 on the server) → the consent form when
//! asked → the code at the redirect URI → POST /token with PKCE, and counts as one flow.
//! N flows run concurrently for a fixed time; `--once` runs one and prints its tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;
use tessera::crypto::random;
use url::Url;

use crate::stats::{self, Load};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The server's base URL (its issuer).
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
    #[arg(long, env = "BENCH_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[arg(long)]
    redirect_uri: String,
    #[arg(long)]
    username: String,
    #[arg(long, env = "BENCH_PASSWORD", hide_env_values = true)]
    password: String,
    #[arg(long, default_value = "openid profile email")]
    scope: String,
    /// Flows in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Run one flow and print its token response instead of measuring.
    #[arg(long)]
    once: bool,
}

/// Steps of one flow before it is abandoned as a loop.
const MAX_STEPS: usize = 12;

/// What the driver does with an HTML page: the form to submit, filled in.
struct FormSubmission {
    action: String,
    fields: Vec<(String, String)>,
}

/// Finds the login form (a password input) or the consent form (an allow button) and fills it.
fn form_to_submit(html: &str, args: &Args) -> anyhow::Result<FormSubmission> {
    let doc = Html::parse_document(html);
    let forms = Selector::parse("form").map_err(|e| anyhow!("selector: {e}"))?;
    let inputs = Selector::parse("input").map_err(|e| anyhow!("selector: {e}"))?;
    let allow = Selector::parse(r#"button[name="decision"][value="allow"]"#)
        .map_err(|e| anyhow!("selector: {e}"))?;
    for form in doc.select(&forms) {
        let action = form.value().attr("action").unwrap_or_default().to_string();
        let mut fields = Vec::new();
        let mut has_password = false;
        for input in form.select(&inputs) {
            let Some(name) = input.value().attr("name") else {
                continue;
            };
            let value = match input.value().attr("type").unwrap_or("text") {
                "password" => {
                    has_password = true;
                    args.password.clone()
                }
                "hidden" => input.value().attr("value").unwrap_or_default().to_string(),
                _ if name == "username" => args.username.clone(),
                _ => continue,
            };
            fields.push((name.to_string(), value));
        }
        if has_password {
            return Ok(FormSubmission { action, fields });
        }
        if form.select(&allow).next().is_some() {
            fields.push(("decision".into(), "allow".into()));
            return Ok(FormSubmission { action, fields });
        }
    }
    bail!("the page has neither a login nor a consent form")
}

/// One browser: a shared HTTP client and this flow's own cookie jar.
struct Browser<'a> {
    client: &'a Client,
    jar: Jar,
}

impl Browser<'_> {
    async fn send(
        &self,
        method: Method,
        url: &Url,
        form: Option<&[(String, String)]>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.client.request(method, url.clone());
        if let Some(cookies) = self.jar.cookies(url) {
            request = request.header(COOKIE, cookies);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await?;
        let mut set = response.headers().get_all(SET_COOKIE).iter();
        self.jar.set_cookies(&mut set, url);
        Ok(response)
    }
}

/// Runs one complete flow; answers the token response.
async fn flow(client: &Client, args: &Args, base: &Url) -> anyhow::Result<Value> {
    let browser = Browser {
        client,
        jar: Jar::default(),
    };
    let verifier = random::token();
    let state = random::id();
    let mut url = base.join("/authorize")?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &args.client_id)
        .append_pair("redirect_uri", &args.redirect_uri)
        .append_pair("scope", &args.scope)
        .append_pair("state", &state)
        .append_pair("nonce", &random::id())
        .append_pair("code_challenge", &random::pkce_s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let mut response = browser.send(Method::GET, &url, None).await?;
    let mut code = None;
    for _ in 0..MAX_STEPS {
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| anyhow!("a {status} without Location"))?;
            let next = url.join(location)?;
            if next.as_str().starts_with(&args.redirect_uri) {
                let params: std::collections::HashMap<_, _> = next.query_pairs().collect();
                if params.get("state").map(|s| s.as_ref()) != Some(state.as_str()) {
                    bail!("the redirect carries another state");
                }
                code = Some(
                    params
                        .get("code")
                        .ok_or_else(|| anyhow!("redirected without a code: {next}"))?
                        .to_string(),
                );
                break;
            }
            url = next;
            response = browser.send(Method::GET, &url, None).await?;
        } else if status == StatusCode::OK {
            let page = response.text().await?;
            let form = form_to_submit(&page, args)?;
            url = url.join(&form.action)?;
            response = browser.send(Method::POST, &url, Some(&form.fields)).await?;
        } else {
            bail!("{} answered {status}", url.path());
        }
    }
    let code = code.ok_or_else(|| anyhow!("no code after {MAX_STEPS} steps"))?;
    let response = client
        .post(base.join("/token")?)
        .basic_auth(&args.client_id, Some(&args.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", args.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the token response is not JSON")?;
    if status != StatusCode::OK || body.get("access_token").is_none() {
        bail!("POST /token answered {status}: {}", body["error"]);
    }
    Ok(body)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(drive(args))
}

async fn drive(args: &Args) -> anyhow::Result<()> {
    let base = Url::parse(&args.issuer).context("--issuer is not a URL")?;
    let client = Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    if args.once {
        let tokens = flow(&client, args, &base).await?;
        println!("{}", serde_json::to_string(&tokens)?);
        return Ok(());
    }
    let run_for = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let shared = Arc::new((client, args.clone(), base));
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let (client, args, base) = &*shared;
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                while started.elapsed() < run_for {
                    let begin = Instant::now();
                    match flow(client, args, base).await {
                        Ok(_) => latencies.push(begin.elapsed()),
                        Err(error) => errors.push(format!("{error:#}")),
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for worker in workers {
        let (l, e) = worker.await?;
        latencies.extend(l);
        errors.extend(e);
    }
    let duration_s = started.elapsed().as_secs_f64();
    latencies.sort();
    let error_count = errors.len() as u64;
    errors.sort();
    errors.dedup();
    errors.truncate(3);
    let load = Load {
        requests: latencies.len() as u64 + error_count,
        duration_s,
        p50_ms: stats::millis(stats::quantile(&latencies, 0.5)),
        p99_ms: stats::millis(stats::quantile(&latencies, 0.99)),
        errors: error_count,
        error_samples: errors,
    };
    println!("{}", serde_json::to_string(&load)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            issuer: "http://127.0.0.1:1".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_uri: "http://127.0.0.1:2/cb".into(),
            username: "alice".into(),
            password: "pw".into(),
            scope: "openid".into(),
            concurrency: 1,
            seconds: 1.0,
            once: true,
        }
    }

    #[test]
    fn fills_the_login_form_and_keeps_hidden_fields() {
        let page = r#"<form method="post" action="/login">
            <input type="hidden" name="csrf_token" value="abc">
            <input type="hidden" name="return_to" value="/authorize?x=1">
            <input id="username" name="username" type="text" value="">
            <input id="password" name="password" type="password">
            <button type="submit">Sign in</button></form>"#;
        let form = form_to_submit(page, &args()).expect("a login form");
        assert_eq!(form.action, "/login");
        assert_eq!(
            form.fields,
            vec![
                ("csrf_token".to_string(), "abc".to_string()),
                ("return_to".to_string(), "/authorize?x=1".to_string()),
                ("username".to_string(), "alice".to_string()),
                ("password".to_string(), "pw".to_string()),
            ]
        );
    }

    #[test]
    fn allows_on_the_consent_form_and_rejects_other_pages() {
        let page = r#"<form method="post" action="/consent">
            <input type="hidden" name="csrf_token" value="t">
            <button type="submit" name="decision" value="allow">Allow</button>
            <button type="submit" name="decision" value="deny">Deny</button></form>"#;
        let form = form_to_submit(page, &args()).expect("a consent form");
        assert_eq!(form.action, "/consent");
        assert!(form.fields.contains(&("decision".into(), "allow".into())));
        assert!(form_to_submit("<p>Something went wrong</p>", &args()).is_err());
    }
}
