//! The admin API's users, sessions, keys, dashboard and audit log over HTTP.

use serde_json::json;

use crate::admin_support::*;
use crate::helpers::{ALICE, ALICE_PASSWORD, Table, TestApp, str_field};

#[tokio::test]
async fn users_are_created_changed_disabled_and_their_passwords_reset() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());

    let created = call(
        &app,
        "post",
        "/admin/api/v1/users",
        t,
        Some(json!({
            "username": "carol", "email": "carol@example.com", "name": "Carol",
            "roles": ["editor", "viewer"], "groups": ["staff"]
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    let password = str_field(&body, "password");
    let id = str_field(&body["user"], "id");
    assert_eq!(body["user"]["roles"], json!(["editor", "viewer"]));
    assert_eq!(body["user"]["groups"], json!(["staff"]));
    let browser = app.browser();
    assert_eq!(
        browser.sign_in("carol", &password).await.status,
        303,
        "generated password signs in"
    );

    let one = call(&app, "get", &format!("/admin/api/v1/users/{id}"), t, None).await;
    assert_eq!(one.json()["username"], "carol");
    let list = call(&app, "get", "/admin/api/v1/users", t, None).await;
    assert_eq!(
        list.json().as_array().expect("list").len(),
        3,
        "admin, alice, carol"
    );

    let patched = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{id}"),
        t,
        Some(json!({"roles": ["viewer"], "groups": ["staff", "berlin"]})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["roles"], json!(["viewer"]));
    assert_eq!(patched.json()["groups"], json!(["berlin", "staff"]));

    let disabled = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{id}"),
        t,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(disabled.json()["disabled"], true);
    assert_eq!(
        browser.get("/admin").await.status,
        303,
        "the disabled user's session ended"
    );
    assert_eq!(
        app.browser().sign_in("carol", &password).await.status,
        401,
        "disabled users cannot sign in"
    );
    let enabled = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{id}"),
        t,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(enabled.json()["disabled"], false);

    let reset = call(
        &app,
        "post",
        &format!("/admin/api/v1/users/{id}/password"),
        t,
        Some(json!({"password": "a brand new password"})),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert!(reset.json()["password"].is_null());
    assert_eq!(
        app.browser().sign_in("carol", &password).await.status,
        401,
        "old password"
    );
    assert_eq!(
        app.browser()
            .sign_in("carol", "a brand new password")
            .await
            .status,
        303,
        "new password"
    );
    let generated = call(
        &app,
        "post",
        &format!("/admin/api/v1/users/{id}/password"),
        t,
        Some(json!({})),
    )
    .await;
    let new_password = str_field(&generated.json(), "password");
    assert_eq!(
        app.browser().sign_in("carol", &new_password).await.status,
        303,
        "generated password"
    );
}

#[tokio::test]
async fn bad_user_input_gets_problem_details_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());
    let before = call(&app, "get", "/admin/api/v1/users", t, None).await.body;
    let alice = format!("/admin/api/v1/users/{}", app.alice_id);

    for (body, status) in [
        (
            json!({"username": "bad name", "email": "x@example.com"}),
            422,
        ),
        (json!({"username": "dave", "email": "not-an-email"}), 422),
        (
            json!({"username": "dave", "email": "d@example.com", "password": "short"}),
            422,
        ),
        (
            json!({"username": "dave", "email": "d@example.com", "roles": ["no spaces allowed"]}),
            422,
        ),
        (json!({"username": ALICE, "email": "a2@example.com"}), 409),
        (
            json!({"username": "dave", "email": "d@example.com", "is_admin": true}),
            400,
        ),
        (json!({"username": "dave"}), 400),
    ] {
        let reply = call(&app, "post", "/admin/api/v1/users", t, Some(body.clone())).await;
        assert_problem(&reply, status, &format!("create {body}"));
    }
    for (body, status) in [
        (json!({"groups": ["bad/group"]}), 422),
        (json!({"roles": "admin"}), 400),
        (json!({"disabled": "no"}), 400),
    ] {
        let reply = call(&app, "patch", &alice, t, Some(body.clone())).await;
        assert_problem(&reply, status, &format!("patch {body}"));
    }
    let short = call(
        &app,
        "post",
        &format!("{alice}/password"),
        t,
        Some(json!({"password": "short"})),
    )
    .await;
    assert_problem(&short, 422, "short password");
    assert_problem(
        &call(&app, "get", "/admin/api/v1/users/nobody", t, None).await,
        404,
        "unknown user",
    );
    assert_problem(
        &call(
            &app,
            "patch",
            "/admin/api/v1/users/nobody",
            t,
            Some(json!({})),
        )
        .await,
        404,
        "patch unknown",
    );

    // The last enabled admin can be neither demoted nor disabled.
    let admin_id = {
        let mut conn = app.db.conn().expect("db");
        tessera::db::users::find_by_username(&mut conn, "admin")
            .expect("q")
            .expect("admin")
            .id
    };
    for body in [json!({"roles": []}), json!({"disabled": true})] {
        let reply = call(
            &app,
            "patch",
            &format!("/admin/api/v1/users/{admin_id}"),
            t,
            Some(body.clone()),
        )
        .await;
        assert_problem(&reply, 422, &format!("last admin {body}"));
    }
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        303,
        "alice's password unchanged"
    );
    let after = call(&app, "get", "/admin/api/v1/users", t, None).await.body;
    assert_eq!(before, after, "a refused request changed the users");
}

#[tokio::test]
async fn sessions_are_listed_and_ended() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());
    let browser = app.browser();
    assert_eq!(browser.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);

    let list = call(&app, "get", "/admin/api/v1/sessions", t, None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let sessions = list.json();
    let mine = sessions
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["username"] == ALICE)
        .expect("alice's session")
        .clone();
    assert_eq!(mine["user_id"], app.alice_id.as_str());
    assert_eq!(mine["amr"], json!(["pwd"]));
    let sid = str_field(&mine, "sid");

    let ended = call(
        &app,
        "delete",
        &format!("/admin/api/v1/sessions/{sid}"),
        t,
        None,
    )
    .await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    assert_eq!(app.count(Table::Sessions), 0);
    assert_problem(
        &call(
            &app,
            "delete",
            &format!("/admin/api/v1/sessions/{sid}"),
            t,
            None,
        )
        .await,
        404,
        "ended twice",
    );
}

#[tokio::test]
async fn keys_are_listed_rotated_and_retired() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());
    let first = call(&app, "get", "/admin/api/v1/keys", t, None)
        .await
        .json();
    let first = first
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["alg"] == "RS256")
        .expect("an RS256 key")
        .clone();
    let first_kid = str_field(&first, "kid");
    assert_eq!(first["signing"], true);
    assert!(first["age_seconds"].as_i64().expect("age") >= 0);

    let only = call(
        &app,
        "post",
        &format!("/admin/api/v1/keys/{first_kid}/retire"),
        t,
        None,
    )
    .await;
    assert_problem(&only, 422, "retiring the only active key");

    let rotated = call(&app, "post", "/admin/api/v1/keys?alg=RS256", t, None).await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_kid = str_field(&rotated.json(), "kid");
    let keys = call(&app, "get", "/admin/api/v1/keys", t, None)
        .await
        .json();
    let state_of = |keys: &serde_json::Value, kid: &str| {
        let list = keys.as_array().expect("list");
        list.iter().find(|k| k["kid"] == kid).expect("key")["state"].clone()
    };
    // The new key is published first and signs later; the old one signs until then.
    assert_eq!(state_of(&keys, &new_kid), "pre-published");
    assert_eq!(state_of(&keys, &first_kid), "signing");

    let retired = call(
        &app,
        "post",
        &format!("/admin/api/v1/keys/{first_kid}/retire"),
        t,
        None,
    )
    .await;
    assert_eq!(retired.status, 204, "{}", retired.body);
    let keys = call(&app, "get", "/admin/api/v1/keys", t, None)
        .await
        .json();
    assert_eq!(state_of(&keys, &first_kid), "retired");
    assert_eq!(
        state_of(&keys, &new_kid),
        "signing",
        "the only active key signs at once"
    );

    let again = call(
        &app,
        "post",
        &format!("/admin/api/v1/keys/{first_kid}/retire"),
        t,
        None,
    )
    .await;
    assert_problem(&again, 422, "retiring a retired key");
    let last = call(
        &app,
        "post",
        &format!("/admin/api/v1/keys/{new_kid}/retire"),
        t,
        None,
    )
    .await;
    assert_problem(&last, 422, "retiring the last active key");
    let unknown = call(&app, "post", "/admin/api/v1/keys/nokey/retire", t, None).await;
    assert_problem(&unknown, 422, "unknown kid");
}

#[tokio::test]
async fn dashboard_counts_and_the_audit_log_is_paged_and_searchable() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());
    assert_eq!(
        app.browser().sign_in(ALICE, "wrong password!").await.status,
        401
    );
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        303
    );
    call(
        &app,
        "post",
        "/admin/api/v1/users",
        t,
        Some(json!({"username": "erin", "email": "e@example.com"})),
    )
    .await;

    let dash = call(&app, "get", "/admin/api/v1/dashboard", t, None).await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    let d = dash.json();
    assert_eq!(
        (
            d["users"].clone(),
            d["admins"].clone(),
            d["live_sessions"].clone()
        ),
        (json!(3), json!(1), json!(1))
    );
    assert_eq!(
        d["clients"],
        json!(7),
        "six fixtures and the automation client"
    );
    // One key per algorithm: RS256, ES256, EdDSA.
    assert_eq!(d["keys"].as_array().expect("keys").len(), 3);

    let created = call(&app, "get", "/admin/api/v1/audit?q=user.created", t, None).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let page = created.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["events"][0]["actor"], "client:automation");
    let failed = call(&app, "get", "/admin/api/v1/audit?q=sign_in_failed", t, None)
        .await
        .json();
    assert_eq!(failed["events"][0]["detail"], format!("username {ALICE}"));
    let signed_in = call(
        &app,
        "get",
        &format!("/admin/api/v1/audit?q={}", app.alice_id),
        t,
        None,
    )
    .await
    .json();
    assert!(
        signed_in["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "user.signed_in")
    );

    let all = call(&app, "get", "/admin/api/v1/audit", t, None)
        .await
        .json();
    let total = all["total"].as_i64().expect("total");
    assert!(total >= 3, "{all}");
    let second = call(
        &app,
        "get",
        "/admin/api/v1/audit?per_page=1&page=2",
        t,
        None,
    )
    .await
    .json();
    assert_eq!(second["events"].as_array().expect("events").len(), 1);
    assert_eq!(second["events"][0], all["events"][1]);
    assert_eq!(
        call(&app, "get", "/admin/api/v1/audit?q=%25", t, None)
            .await
            .json()["total"],
        0,
        "% is literal"
    );

    for bad in ["page=0", "per_page=500", "page=x", "unknown=1"] {
        let reply = call(&app, "get", &format!("/admin/api/v1/audit?{bad}"), t, None).await;
        assert_problem(&reply, 400, bad);
    }
    // No secret or password appears in any event.
    let everything = call(&app, "get", "/admin/api/v1/audit?per_page=200", t, None)
        .await
        .body;
    assert!(!everything.contains(ALICE_PASSWORD) && !everything.contains("wrong password!"));
}

#[tokio::test]
async fn a_second_factor_is_required_and_reset_for_a_user() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());
    let alice = format!("/admin/api/v1/users/{}", app.alice_id);

    let required = call(
        &app,
        "patch",
        &alice,
        t,
        Some(json!({"mfa_required": true})),
    )
    .await;
    assert_eq!(required.status, 200, "{}", required.body);
    assert_eq!(required.json()["mfa_required"], true);
    let signed_in = app.browser().sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert!(
        signed_in.location().path().starts_with("/mfa"),
        "a second factor is asked for"
    );

    {
        let mut conn = app.db.conn().expect("db");
        let now = tessera::clock::now();
        tessera::db::mfa::put_unconfirmed(&mut conn, &app.alice_id, "JBSWY3DPEHPK3PXP", now)
            .expect("a TOTP key");
    }
    let reset = call(&app, "post", &format!("{alice}/mfa/reset"), t, None).await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    let mut conn = app.db.conn().expect("db");
    let left = tessera::db::mfa::credential(&mut conn, &app.alice_id).expect("query");
    assert!(left.is_none(), "the TOTP key was removed");
    drop(conn);
    let unknown = call(
        &app,
        "post",
        "/admin/api/v1/users/nobody/mfa/reset",
        t,
        None,
    )
    .await;
    assert_problem(&unknown, 404, "reset for an unknown user");
    let events = call(&app, "get", "/admin/api/v1/audit?q=user.mfa_reset", t, None).await;
    assert_eq!(events.json()["total"], 1);
}
