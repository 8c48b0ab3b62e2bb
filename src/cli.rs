//! The command line (firm contract): `serve`, `migrate`, `user create`, `client create`,
//! `keys list|rotate|retire`. Exit codes: 0 success, 2 usage error, 1 any other failure.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::clock;
use crate::config::Config;
use crate::db::{self, Db};
use crate::manage::{self, NewClient, NewUser};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera, an OpenID Connect identity provider"
)]
pub struct Cli {
    /// Optional TOML file with settings (environment variables win over it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, create keys on first start, and serve.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage relying parties.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Delete expired codes, tokens, sessions and throttling rows, and exit.
    Cleanup {
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create(UserCreate),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("password").required(true).args(["password_stdin", "generate_password"])))]
pub struct UserCreate {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Generate a password and print it once.
    #[arg(long)]
    pub generate_password: bool,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Give the user the admin role.
    #[arg(long)]
    pub admin: bool,
    /// The user must use a second factor (TOTP) at every sign-in.
    #[arg(long)]
    pub require_mfa: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client.
    Create(ClientCreate),
}

#[derive(Debug, Args)]
pub struct ClientCreate {
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long = "redirect-uri", num_args = 1..)]
    pub redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (SPA, mobile): no secret, PKCE required.
    #[arg(long)]
    pub public: bool,
    /// authorization_code, refresh_token, client_credentials (default: the first two).
    #[arg(long = "grant-type", num_args = 1..)]
    pub grant_types: Vec<String>,
    /// Scopes the client may request (default: openid profile email offline_access).
    #[arg(long = "scope", num_args = 1..)]
    pub scopes: Vec<String>,
    /// A first-party client: people are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// Read the client secret from standard input instead of generating one.
    #[arg(long)]
    pub secret_stdin: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a new signing key; the previous one stays published until its tokens expire.
    Rotate,
    /// Retire a key by its kid.
    Retire {
        /// A kid is base64url and may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut buf = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut buf)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let line = buf.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(line)
}

fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database).context("cannot open the database")?;
    db.migrate().context("cannot apply migrations")?;
    Ok(db)
}

/// Runs every command but `serve` (which needs the async runtime; see `main`).
/// Users, clients and keys made or changed from the command line are audited as the `cli`
/// actor (stored and logged).
fn by_cli(now: i64) -> manage::ops::By<'static> {
    static CLI: crate::audit::Actor = crate::audit::Actor::Cli;
    static AUDIT: std::sync::LazyLock<crate::audit::Auditor> =
        std::sync::LazyLock::new(crate::audit::Auditor::log_only);
    manage::ops::By {
        actor: &CLI,
        audit: &AUDIT,
        now,
    }
}

pub fn run_command(command: Command, config: &Config) -> anyhow::Result<()> {
    let now = clock::now();
    match command {
        Command::Serve => bail!("serve is started by main"),
        Command::Migrate => {
            let db = Db::connect(&config.database).context("cannot open the database")?;
            let applied = db.migrate().context("cannot apply migrations")?;
            println!("Applied {applied} migration(s).");
        }
        Command::User(UserCommand::Create(args)) => {
            let password = if args.password_stdin {
                read_stdin_line("password")?
            } else {
                crate::crypto::random::token()
            };
            let db = open_db(config)?;
            let mut conn = db.conn()?;
            let by = by_cli(now);
            let new = NewUser {
                username: args.username,
                email: args.email,
                password: password.clone(),
                name: args.name,
                admin: args.admin,
            };
            // The command line hashes on its own thread: it serves no one else meanwhile.
            manage::check_new_user(&new)?;
            let hash = crate::crypto::password::hash(&new.password)
                .map_err(|_| manage::ManageError::Hash)?;
            let user = manage::ops::create_user(&mut conn, &by, new, hash, vec![], vec![])?.user;
            if args.require_mfa {
                let changes = manage::ops::UserChanges {
                    mfa_required: Some(true),
                    ..Default::default()
                };
                let ttl = config.access_token_ttl.as_secs() as i64;
                manage::ops::update_user(&mut conn, &by, &user.id, changes, ttl)?;
            }
            let shown = args.generate_password.then_some(password);
            if args.json {
                let mut out = serde_json::json!({"id": user.id, "username": user.username});
                if let Some(p) = &shown {
                    out["password"] = p.clone().into();
                }
                println!("{out}");
            } else {
                println!("Created user {} ({})", user.username, user.id);
                if let Some(p) = shown {
                    println!("Password (shown only once): {p}");
                }
            }
        }
        Command::Client(ClientCommand::Create(args)) => {
            let secret = if args.secret_stdin {
                if args.public {
                    bail!("a public client has no secret: drop --secret-stdin");
                }
                Some(read_stdin_line("client secret")?)
            } else {
                None
            };
            let db = open_db(config)?;
            let client_id = args.client_id.clone();
            let issued = manage::ops::create_client(
                &mut *db.conn()?,
                &by_cli(now),
                NewClient {
                    client_id: args.client_id,
                    name: args.name,
                    redirect_uris: args.redirect_uris,
                    post_logout_redirect_uris: args.post_logout_redirect_uris,
                    public: args.public,
                    grant_types: args.grant_types,
                    scopes: args.scopes,
                    first_party: args.first_party,
                    secret,
                },
            )?;
            // A secret supplied on stdin is the caller's already: print only a generated one.
            let shown = if args.secret_stdin { None } else { issued };
            if args.json {
                let mut out = serde_json::json!({"client_id": client_id});
                if let Some(s) = &shown {
                    out["client_secret"] = s.clone().into();
                }
                println!("{out}");
            } else {
                println!("Created client {client_id}");
                if let Some(s) = shown {
                    println!("Client secret (shown only once): {s}");
                }
            }
        }
        Command::Cleanup { json } => {
            let db = open_db(config)?;
            let removed = crate::cleanup::run(&mut *db.conn()?, now)?;
            if json {
                println!("{}", serde_json::to_string(&removed)?);
            } else {
                println!(
                    "Deleted {} expired row(s): {} code(s), {} refresh token(s), {} revoked \
                     access token id(s), {} session(s), {} throttling counter(s).",
                    removed.total(),
                    removed.auth_codes,
                    removed.refresh_tokens,
                    removed.revoked_access_tokens,
                    removed.sessions,
                    removed.login_throttle
                );
            }
        }
        Command::Keys(cmd) => {
            let db = open_db(config)?;
            let mut conn = db.conn()?;
            match cmd {
                KeysCommand::List { json } => {
                    let rows = db::keys::all(&mut conn)?;
                    let signer = crate::crypto::keys::signer_row(&rows, now).map(|r| r.kid.clone());
                    let window = config.key_publish_window();
                    let list: Vec<_> = rows
                        .iter()
                        .map(|r| {
                            let state = match r.retired_at {
                                _ if Some(&r.kid) == signer.as_ref() => "signing",
                                _ if r.is_active(now) && r.signs_from > now => {
                                    "published (pre-publication)"
                                }
                                _ if r.is_active(now) => "active",
                                Some(at) if at + window > now => "retired (published)",
                                _ => "retired",
                            };
                            serde_json::json!({
                                "kid": r.kid, "alg": r.alg, "state": state,
                                "created_at": r.created_at, "signs_from": r.signs_from,
                                "retired_at": r.retired_at,
                                "stored": if r.private_key.is_some() { "database" } else { "file" },
                            })
                        })
                        .collect();
                    if json {
                        println!("{}", serde_json::Value::Array(list));
                    } else {
                        for k in list {
                            println!(
                                "{}  {}  {}",
                                k["kid"].as_str().unwrap_or_default(),
                                k["alg"].as_str().unwrap_or_default(),
                                k["state"].as_str().unwrap_or_default()
                            );
                        }
                    }
                }
                KeysCommand::Rotate => {
                    let vault = crate::crypto::keys::KeyVault::from_config(config);
                    let prepublish = config.key_prepublish.as_secs() as i64;
                    let kid = manage::ops::rotate_key(&mut conn, &by_cli(now), &vault, prepublish)?;
                    println!(
                        "New signing key {kid}: published now, signs in {prepublish} s; previous \
                         keys stay published until their tokens expire."
                    );
                }
                KeysCommand::Retire { kid } => {
                    manage::ops::retire_key(&mut conn, &by_cli(now), &kid)?;
                    println!("Retired key {kid}.");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kid_starting_with_a_hyphen_is_a_value_not_an_option() {
        let cli = Cli::try_parse_from(["tessera", "keys", "retire", "-n4Xq"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Keys(KeysCommand::Retire { kid }) if kid == "-n4Xq"
        ));
    }
}
