//! User enumeration: a sign-in with an unknown username gets the same answer as one with a
//! wrong password, and takes as long (medians of 30 tries each within 20 %, measured in the
//! same run, interleaved). Each try comes from its own loopback address and names its own
//! account, so throttling never cuts a try short.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::manage::NewUser;

use crate::browser::Form;
use crate::helpers::{Reply, TestApp};

const TRIES: usize = 30;
const ROUNDS: usize = 3;
/// Accounts with a known password; each gets at most 3 failures (5 are free).
const USERS: usize = 30;
const FAILED: &str = "Incorrect username or password.";

/// A browser of its own, connecting from `127.0.{hi}.{lo}`.
fn browser_from(n: usize) -> reqwest::Client {
    let addr = Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8);
    reqwest::Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(addr))
        .build()
        .expect("client")
}

/// Signs in as `username` with a wrong password from address `n`: the answer and the time of
/// the POST alone.
async fn failed_sign_in(app: &TestApp, n: usize, username: &str) -> (Reply, Duration) {
    let http = browser_from(n);
    let page = Reply::read(http.get(app.url("/login")).send().await.expect("GET")).await;
    let form = Form::find(&page.body, "/login")
        .set("username", username)
        .set("password", "not-the-password-42");
    let start = Instant::now();
    let resp = http
        .post(app.url("/login"))
        .form(&form.fields)
        .send()
        .await
        .expect("POST");
    let reply = Reply::read(resp).await;
    let took = start.elapsed();
    let csrf = form.get("csrf_token").expect("csrf").to_string();
    let normalized = Reply {
        body: reply
            .body
            .replace(username, "USERNAME")
            .replace(&csrf, "CSRF"),
        ..reply
    };
    (normalized, took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2
}

#[tokio::test]
async fn unknown_user_and_wrong_password_answer_alike_and_take_as_long() {
    let app = TestApp::spawn().await;
    {
        let mut conn = app.db.conn().expect("db");
        for i in 0..USERS {
            let user = NewUser {
                username: format!("member{i}"),
                email: format!("member{i}@example.com"),
                password: format!("member-{i}-secret-password"),
                name: None,
                admin: false,
            };
            tessera::manage::create_user(&mut conn, user, tessera::clock::now())
                .expect("create a user");
        }
    }
    // One untimed try of each warms up the dummy hash and the connections.
    let _ = failed_sign_in(&app, 2 * ROUNDS * TRIES, "member-warm-up").await;
    let _ = failed_sign_in(&app, 2 * ROUNDS * TRIES + 1, "member-warm-up").await;

    let _quiet = super::HEAVY.lock().await;
    let mut bodies = std::collections::BTreeSet::new();
    let mut rounds = Vec::new();
    // A real difference (one argon2 verification skipped) shows in every round; noise from
    // other tests on a loaded machine does not, so up to three rounds are measured.
    for round in 0..ROUNDS {
        let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
        for i in 0..TRIES {
            let n = 2 * (round * TRIES + i);
            let (reply, took) = failed_sign_in(&app, n, &format!("nobody{round}x{i}")).await;
            assert_eq!(reply.status, 401, "unknown user {i}: {}", reply.body);
            assert!(reply.body.contains(FAILED));
            bodies.insert(reply.body);
            unknown.push(took);
            let member = format!("member{}", (round * TRIES + i) % USERS);
            let (reply, took) = failed_sign_in(&app, n + 1, &member).await;
            assert_eq!(reply.status, 401, "wrong password {i}: {}", reply.body);
            assert!(reply.body.contains(FAILED));
            bodies.insert(reply.body);
            wrong.push(took);
        }
        let (u, w) = (median(unknown), median(wrong));
        let ratio = u.as_secs_f64() / w.as_secs_f64();
        println!(
            "enumeration: round {round}: median sign-in failure {:.1} ms for an unknown user, {:.1} ms for a wrong password (ratio {ratio:.3}, {TRIES} tries each)",
            u.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3
        );
        rounds.push(ratio);
        if (1.0 / 1.2..=1.2).contains(&ratio) {
            break;
        }
    }

    assert_eq!(bodies.len(), 1, "one answer for both: {bodies:#?}");
    let last = rounds.last().copied().unwrap_or_default();
    assert!(
        (1.0 / 1.2..=1.2).contains(&last),
        "medians differ by more than 20 % in every round: ratios {rounds:?}"
    );
}
