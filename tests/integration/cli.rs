//! The `tessera` command line: JSON output, exit codes (0, 1, 2) and the key lifecycle.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::backend::TestDatabase;

/// A database and keys folder of its own for CLI runs.
struct Cli {
    database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            database: TestDatabase::create(dir.path()),
            dir,
        }
    }

    fn db_path(&self) -> String {
        self.database.url().to_string()
    }

    fn keys_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("keys")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TESSERA_DATABASE_URL", self.db_path())
            .env("TESSERA_KEYS_DIR", self.keys_dir())
            .env("RUST_LOG", "warn")
            .env("TESSERA_KEY_PREPUBLISH", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run tessera");
        crate::audit::command(&out, None);
        out
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn tessera");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait for tessera");
        crate::audit::command(&out, Some(input));
        out
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit code")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Exit 1 with a single line on stderr.
fn assert_failure(out: &Output, what: &str) {
    assert_eq!(code(out), 1, "{what}: stderr {}", stderr(out));
    let err = stderr(out);
    assert_eq!(
        err.lines().count(),
        1,
        "{what}: one line on stderr, got:\n{err}"
    );
}

#[tokio::test]
async fn client_create_json_prints_the_id_and_a_working_secret() {
    let cli = Cli::new();

    let out = cli.run(&[
        "client",
        "create",
        "--client-id",
        "backend",
        "--name",
        "Backend",
        "--grant-type",
        "client_credentials",
        "--json",
    ]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed = stdout_json(&out);
    assert_eq!(printed["client_id"], json!("backend"));
    let secret = printed["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_string();
    assert!(secret.len() >= 43, "256-bit secret");

    // A server on the same database accepts the printed secret.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut env = std::collections::HashMap::new();
    env.insert(
        "TESSERA_ISSUER".to_string(),
        format!("http://127.0.0.1:{port}"),
    );
    env.insert("TESSERA_DATABASE_URL".to_string(), cli.db_path());
    env.insert(
        "TESSERA_KEYS_DIR".to_string(),
        cli.keys_dir().display().to_string(),
    );
    env.insert(
        "TESSERA_ADMIN_PASSWORD".to_string(),
        "admin-password-123".into(),
    );
    let config = tessera::config::Config::from_sources(&env, None).expect("config");
    let app = tessera::startup::Application::build(config, Some(listener)).expect("build");
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let reply = http
        .post(format!("http://127.0.0.1:{port}/token"))
        .basic_auth("backend", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("POST /token");
    assert_eq!(reply.status().as_u16(), 200);
}

#[test]
fn duplicate_client_exits_1_with_one_line() {
    let cli = Cli::new();
    let args = [
        "client",
        "create",
        "--client-id",
        "dup",
        "--name",
        "Dup",
        "--redirect-uri",
        "https://dup.example/cb",
        "--json",
    ];
    assert_eq!(code(&cli.run(&args)), 0);

    let again = cli.run(&args);

    assert_failure(&again, "duplicate client");
    assert!(again.stdout.is_empty(), "no secret printed on failure");
}

#[test]
fn invalid_client_registrations_exit_1() {
    let cli = Cli::new();

    for (what, args) in [
        (
            "http redirect to a remote host",
            vec!["--redirect-uri", "http://rp.example/cb"],
        ),
        (
            "redirect with a fragment",
            vec!["--redirect-uri", "https://rp.example/cb#x"],
        ),
        (
            "unknown grant",
            vec![
                "--redirect-uri",
                "https://rp.example/cb",
                "--grant-type",
                "password",
            ],
        ),
        (
            "public client_credentials",
            vec!["--public", "--grant-type", "client_credentials"],
        ),
    ] {
        let mut all = vec!["client", "create", "--client-id", "c1", "--name", "C"];
        all.extend(args);
        assert_failure(&cli.run(&all), what);
    }
}

#[test]
fn user_create_reads_the_password_from_stdin() {
    let cli = Cli::new();

    let out = cli.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
            "--json",
        ],
        "a long enough password\n",
    );

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed = stdout_json(&out);
    assert_eq!(printed["username"], json!("carol"));
    assert!(
        printed.get("password").is_none(),
        "a given password is never echoed"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("a long enough password"));
}

#[test]
fn usage_errors_exit_2() {
    let cli = Cli::new();

    for (what, args) in [
        (
            "missing --username",
            vec![
                "user",
                "create",
                "--email",
                "a@example.com",
                "--password-stdin",
            ],
        ),
        (
            "no password source",
            vec![
                "user",
                "create",
                "--username",
                "a",
                "--email",
                "a@example.com",
            ],
        ),
        ("unknown subcommand", vec!["frobnicate"]),
        ("unknown flag", vec!["keys", "list", "--colour"]),
        ("missing kid", vec!["keys", "retire"]),
    ] {
        let out = cli.run(&args);
        assert_eq!(code(&out), 2, "{what}: {}", stderr(&out));
    }
}

#[test]
fn invalid_configuration_exits_1_naming_the_variable() {
    let cli = Cli::new();

    let out = cli
        .command(&["keys", "list"])
        .env("TESSERA_BIND", "nonsense")
        .output()
        .expect("run");
    let ttl = cli
        .command(&["keys", "list"])
        .env("TESSERA_ACCESS_TOKEN_TTL", "soon")
        .output()
        .expect("run");

    assert_failure(&out, "bad TESSERA_BIND");
    assert!(stderr(&out).contains("TESSERA_BIND"), "{}", stderr(&out));
    assert_failure(&ttl, "bad TESSERA_ACCESS_TOKEN_TTL");
    assert!(stderr(&ttl).contains("TESSERA_ACCESS_TOKEN_TTL"));
}

fn keys(cli: &Cli) -> Vec<Value> {
    let out = cli.run(&["keys", "list", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout_json(&out).as_array().expect("an array").clone()
}

#[test]
fn keys_rotate_list_and_retire() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    assert_eq!(code(&cli.run(&["keys", "rotate"])), 0);
    let first = keys(&cli);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["state"], json!("signing"));
    let old_kid = first[0]["kid"].as_str().expect("kid").to_string();
    let mode = std::fs::metadata(cli.keys_dir().join(format!("{old_kid}.pem")))
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "private key file mode");

    assert_eq!(code(&cli.run(&["keys", "rotate"])), 0);
    let second = keys(&cli);

    assert_eq!(second.len(), 2);
    let state = |kid: &str| {
        second
            .iter()
            .find(|k| k["kid"] == json!(kid))
            .map(|k| k["state"].clone())
    };
    assert_eq!(state(&old_kid), Some(json!("retired (published)")));
    let new_kid = second
        .iter()
        .find(|k| k["kid"] != json!(old_kid))
        .and_then(|k| k["kid"].as_str())
        .expect("new kid")
        .to_string();
    assert_eq!(state(&new_kid), Some(json!("signing")));
    assert_failure(
        &cli.run(&["keys", "retire", &new_kid]),
        "retire the only active key",
    );
    assert_failure(
        &cli.run(&["keys", "retire", &old_kid]),
        "retire a retired key",
    );
    assert_failure(
        &cli.run(&["keys", "retire", "no-such-kid"]),
        "retire an unknown key",
    );
}

#[test]
fn an_unreachable_postgres_server_is_one_clear_line_without_the_password() {
    let cli = Cli::new();
    let out = cli
        .command(&["migrate"])
        .env(
            "TESSERA_DATABASE_URL",
            "postgres://tessera:pw-not-shown@127.0.0.1:1/tessera",
        )
        .output()
        .expect("run tessera");
    assert_failure(&out, "unreachable PostgreSQL");
    let err = stderr(&out);
    assert!(err.contains("127.0.0.1:1/tessera"), "{err}");
    assert!(!err.contains("pw-not-shown"), "{err}");
}

#[test]
fn keys_in_the_database_are_pre_published_before_they_sign() {
    let cli = Cli::new();
    let kek = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
    let run = |args: &[&str]| {
        cli.command(args)
            .env("TESSERA_KEY_ENCRYPTION_KEY", kek)
            .env("TESSERA_KEY_PREPUBLISH", "1h")
            .output()
            .expect("run tessera")
    };
    assert_eq!(code(&run(&["keys", "rotate"])), 0);
    assert_eq!(code(&run(&["keys", "rotate"])), 0);

    let out = run(&["keys", "list", "--json"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let list = stdout_json(&out);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|k| k["stored"] == json!("database")));
    assert_eq!(list[0]["state"], json!("signing"), "{list:?}");
    assert_eq!(list[1]["state"], json!("published (pre-publication)"));
    assert_eq!(
        list[1]["signs_from"].as_i64().expect("signs_from")
            - list[1]["created_at"].as_i64().expect("created_at"),
        3600
    );
    assert!(!cli.keys_dir().exists(), "no key file is written");
    let without = cli.run(&["keys", "list"]);
    assert_eq!(code(&without), 0, "listing needs no decryption");
}

#[test]
fn user_create_applies_the_password_policy_can_require_mfa_and_is_audited() {
    let cli = Cli::new();
    let create = |username: &str, password: &str, extra: &[&str]| {
        let mut args = vec![
            "user",
            "create",
            "--username",
            username,
            "--email",
            "dave@example.com",
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        cli.run_with_stdin(&args, &format!("{password}\n"))
    };
    for (password, message) in [
        ("too short", "at least 12 characters"),
        ("qwerty123456", "most commonly used"),
        ("dave@example.com", "email address"),
    ] {
        let out = create("dave", password, &[]);
        assert_eq!(code(&out), 1, "{password}");
        assert!(
            stderr(&out).contains(message),
            "{password}: {}",
            stderr(&out)
        );
    }

    let out = create("dave", "a long enough password", &["--require-mfa"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let db =
        tessera::db::Db::connect(&tessera::db::DatabaseUrl::parse(&cli.db_path()).expect("url"))
            .expect("db");
    let user = tessera::db::users::find_by_username(&mut db.conn().expect("conn"), "dave")
        .expect("query")
        .expect("dave exists");
    assert!(user.mfa_required, "--require-mfa sets the flag");
    let svc = [
        "client",
        "create",
        "--client-id",
        "svc",
        "--name",
        "Svc",
        "--grant-type",
        "client_credentials",
    ];
    assert_eq!(code(&cli.run(&svc)), 0);

    // What the command line made is in the audit log, as the `cli` actor, without the password.
    let (events, _) =
        tessera::db::audit::search(&mut db.conn().expect("conn"), None, 0, 50).expect("audit");
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    for expected in [
        ("cli", "user.created", user.id.as_str()),
        ("cli", "user.updated", user.id.as_str()),
        ("cli", "client.created", "svc"),
    ] {
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }
    assert_eq!(
        events.len(),
        3,
        "the refused creations left no event: {seen:?}"
    );
    assert!(events.iter().all(|e| !e.detail.contains("long enough")));
}
