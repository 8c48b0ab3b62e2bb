//! Listings a page at a time: the admin API's users, clients and sessions answer a page of a
//! JSON array with `X-Total-Count` and `Link`, the console shows fifty rows with a search box and
//! a pager, and the search text is matched literally.

use serde_json::Value;
use tessera::db::users::User;

use crate::admin_support::{admin_browser, assert_problem, call, service_token};
use crate::helpers::{ALICE, PORTAL, TestApp};

/// Adds `n` people named `pager-00`, `pager-01`… (disabled, with an unusable password hash:
/// only the listings see them).
fn add_people(app: &TestApp, n: usize) {
    let mut conn = app.db.conn().expect("db connection");
    for i in 0..n {
        let user = User {
            id: format!("pager-id-{i:02}"),
            username: format!("pager-{i:02}"),
            email: format!("pager{i:02}@example.com"),
            email_verified: false,
            name: None,
            password_hash: "not a hash".into(),
            is_admin: false,
            disabled: true,
            created_at: tessera::clock::now(),
            mfa_required: false,
        };
        tessera::db::users::insert(&mut conn, &user).expect("insert a user");
    }
}

fn usernames(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("a JSON array")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect()
}

#[tokio::test]
async fn the_api_lists_a_page_at_a_time_with_the_total_and_links() {
    let app = TestApp::spawn().await;
    add_people(&app, 7);
    let t = service_token(&app).await;
    let t = Some(t.as_str());

    let second = call(
        &app,
        "get",
        "/admin/api/v1/users?q=pager&per_page=3&page=2",
        t,
        None,
    )
    .await;

    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        usernames(&second.json()),
        ["pager-03", "pager-04", "pager-05"]
    );
    assert_eq!(second.header("x-total-count"), Some("7"));
    let link = second.header("link").expect("a Link header");
    for expected in [
        "</admin/api/v1/users?q=pager&page=1&per_page=3>; rel=\"first\"",
        "</admin/api/v1/users?q=pager&page=1&per_page=3>; rel=\"prev\"",
        "</admin/api/v1/users?q=pager&page=3&per_page=3>; rel=\"next\"",
        "</admin/api/v1/users?q=pager&page=3&per_page=3>; rel=\"last\"",
    ] {
        assert!(link.contains(expected), "{expected} in {link}");
    }
    let last = call(
        &app,
        "get",
        "/admin/api/v1/users?q=pager&per_page=3&page=3",
        t,
        None,
    )
    .await;
    assert_eq!(usernames(&last.json()), ["pager-06"]);
    assert!(!last.header("link").expect("link").contains("rel=\"next\""));

    // Every user without a query, searched by email, and a wildcard taken literally.
    let all = call(&app, "get", "/admin/api/v1/users", t, None).await;
    assert_eq!(all.header("x-total-count"), Some("9"), "7 + alice + admin");
    let by_email = call(&app, "get", "/admin/api/v1/users?q=pager05%40", t, None).await;
    assert_eq!(usernames(&by_email.json()), ["pager-05"]);
    for literal in ["%25", "_", "pager_0"] {
        let reply = call(
            &app,
            "get",
            &format!("/admin/api/v1/users?q={literal}"),
            t,
            None,
        )
        .await;
        assert_eq!(
            reply.header("x-total-count"),
            Some("0"),
            "{literal} is literal"
        );
    }

    let clients = call(
        &app,
        "get",
        &format!("/admin/api/v1/clients?q={PORTAL}"),
        t,
        None,
    )
    .await;
    assert_eq!(clients.status, 200, "{}", clients.body);
    let listed = clients.json();
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert!(ids.contains(&PORTAL), "{ids:?}");
    assert!(ids.iter().all(|id| id.contains(PORTAL)), "{ids:?}");
    let total = ids.len().to_string();
    assert_eq!(clients.header("x-total-count"), Some(total.as_str()));

    let browser = app.browser();
    assert_eq!(
        browser
            .sign_in(ALICE, crate::helpers::ALICE_PASSWORD)
            .await
            .status,
        303
    );
    let sessions = call(
        &app,
        "get",
        &format!("/admin/api/v1/sessions?q={ALICE}"),
        t,
        None,
    )
    .await;
    assert_eq!(
        sessions.header("x-total-count"),
        Some("1"),
        "{}",
        sessions.body
    );
    let nobody = call(&app, "get", "/admin/api/v1/sessions?q=pager", t, None).await;
    assert_eq!(nobody.body, "[]");

    for bad in [
        "page=0",
        "per_page=0",
        "per_page=501",
        "page=x",
        "unknown=1",
    ] {
        for list in ["users", "clients", "sessions"] {
            let reply = call(&app, "get", &format!("/admin/api/v1/{list}?{bad}"), t, None).await;
            assert_problem(&reply, 400, &format!("{list}?{bad}"));
        }
    }
    let long = format!("/admin/api/v1/users?q={}", "a".repeat(201));
    assert_problem(&call(&app, "get", &long, t, None).await, 400, "q too long");
    // Without a token the query is not even read.
    assert_eq!(
        call(&app, "get", "/admin/api/v1/users?page=0", None, None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_console_shows_fifty_rows_with_search_and_a_pager() {
    let app = TestApp::spawn().await;
    add_people(&app, 55);
    let browser = admin_browser(&app).await;

    let first = browser.get("/admin/users").await;
    let second = browser.get("/admin/users?page=2").await;
    let searched = browser.get("/admin/users?q=pager-5").await;
    let odd = browser.get("/admin/users?page=nonsense&q=%25").await;

    assert_eq!(first.status, 200);
    assert!(first.body.contains("57 users"), "55 + alice + admin");
    assert!(first.body.contains("Page 1 of 2"));
    assert!(
        first.body.contains("href=\"/admin/users?page=2\""),
        "a link to page 2"
    );
    assert!(first.body.contains(">admin<") && first.body.contains(">pager-47<"));
    assert!(!first.body.contains(">pager-48<"), "fifty rows on page 1");
    assert!(second.body.contains(">pager-48<") && second.body.contains(">pager-54<"));
    assert!(second.body.contains("Page 2 of 2") && second.body.contains("rel=\"prev\""));
    assert!(
        searched.body.contains("5 users matching"),
        "pager-50 to pager-54"
    );
    assert!(searched.body.contains(">pager-54<") && !searched.body.contains(">pager-49<"));
    assert!(
        !searched.body.contains("Page 1 of"),
        "no pager for one page"
    );
    assert_eq!(odd.status, 200, "a bad page number is page 1");
    assert!(odd.body.contains("0 users matching"), "% is literal");

    for (path, noun) in [
        ("/admin/clients?q=zzz-nothing", "0 clients matching"),
        ("/admin/sessions", "1 live session"),
        ("/admin/audit?q=zzz-nothing", "0 events matching"),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(noun), "{path}: {noun}");
    }
}
