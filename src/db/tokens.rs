//! Refresh tokens (hashed, rotated, grouped in families) and the revoked access-token ids.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};

use super::schema::{refresh_tokens, revoked_access_tokens, users};
use super::users::User;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
// `None` is inserted as NULL (the columns' default anyway), so the insert has one shape: its
// prepared statement is cached under its type, found without writing out its SQL.
#[diesel(treat_none_as_default_value = false)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub sid: String,
    pub auth_time: i64,
    pub amr: String,
    /// The access token issued alongside this refresh token.
    pub access_jti: String,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub family_expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl RefreshToken {
    /// Usable: neither rotated, revoked, nor expired at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.rotated_at.is_none()
            && self.revoked_at.is_none()
            && self.idle_expires_at > now
            && self.family_expires_at > now
    }
}

pub fn insert(conn: &mut super::Conn, token: &RefreshToken) -> QueryResult<()> {
    super::on_backend!(conn, c => {
        diesel::insert_into(refresh_tokens::table)
            .values(token)
            .execute(c)
    })
    .map(|_| ())
}

pub fn find(conn: &mut super::Conn, token_hash: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .find(token_hash)
        .select(RefreshToken::as_select())
        .get_result(conn)
        .optional()
}

/// A refresh token and its person, in one query: one round trip of a refresh fewer on
/// PostgreSQL. (The person is always there: deleting one deletes their tokens.)
pub fn find_with_person(
    conn: &mut super::Conn,
    token_hash: &str,
) -> QueryResult<Option<(RefreshToken, Option<User>)>> {
    super::on_backend!(conn, c => {
        refresh_tokens::table
            .left_join(users::table)
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((RefreshToken::as_select(), Option::<User>::as_select()))
            .get_result(c)
            .optional()
    })
}

/// Marks the token rotated if it is still live and stores its successor `next`, atomically;
/// answers whether this caller won the race (if not, nothing was written).
///
/// On PostgreSQL this is one statement (the update and the insert in one data-modifying
/// `WITH`), so a refresh needs no transaction of its own there: the statement decides the race
/// and commits both rows or neither. On SQLite the caller's write transaction holds both.
pub fn rotate_into(
    conn: &mut super::Conn,
    token_hash: &str,
    now: i64,
    next: &RefreshToken,
) -> QueryResult<bool> {
    match conn {
        super::Conn::Pg(pg) => RotateInto {
            token_hash,
            now,
            next,
        }
        .execute(pg)
        .map(|n| n == 1),
        super::Conn::Sqlite(sqlite) => {
            let rotated = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(token_hash))
                    .filter(refresh_tokens::rotated_at.is_null())
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::rotated_at.eq(now))
            .execute(sqlite)?
                == 1;
            if rotated {
                insert(conn, next)?;
            }
            Ok(rotated)
        }
    }
}

/// PostgreSQL's statement for [`rotate_into`]: inserts `next` only if the update rotated the
/// token; the count of inserted rows answers who won.
struct RotateInto<'a> {
    token_hash: &'a str,
    now: i64,
    next: &'a RefreshToken,
}

impl QueryId for RotateInto<'_> {
    type QueryId = RotateInto<'static>;
    // The SQL text never changes, so PostgreSQL prepares it once per connection.
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for RotateInto<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text};
        let next = self.next;
        out.push_sql("WITH rotated AS (UPDATE refresh_tokens SET rotated_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Text, _>(self.token_hash)?;
        out.push_sql(
            " AND rotated_at IS NULL AND revoked_at IS NULL RETURNING 1) \
             INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, sid, \
             auth_time, amr, access_jti, created_at, idle_expires_at, family_expires_at, \
             rotated_at, revoked_at) SELECT ",
        );
        for (i, text) in [
            &next.token_hash,
            &next.family_id,
            &next.client_id,
            &next.user_id,
            &next.scope,
            &next.sid,
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Text, _>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&next.auth_time)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&next.amr)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&next.access_jti)?;
        for number in [
            &next.created_at,
            &next.idle_expires_at,
            &next.family_expires_at,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(number)?;
        }
        for moment in [&next.rotated_at, &next.revoked_at] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<BigInt>, _>(moment)?;
        }
        out.push_sql(" FROM rotated");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for RotateInto<'_> {}

/// Revokes every refresh token of a family and the access tokens issued with them.
/// `access_expires_at` bounds how long the access-token ids must be remembered.
pub fn revoke_family(
    conn: &mut super::Conn,
    family_id: &str,
    now: i64,
    access_expires_at: i64,
) -> QueryResult<usize> {
    let jtis: Vec<String> = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .select(refresh_tokens::access_jti)
        .load(conn)?;
    for jti in &jtis {
        revoke_access(conn, jti, access_expires_at)?;
    }
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Remembers an access token id as revoked until the token would have expired anyway.
pub fn revoke_access(conn: &mut super::Conn, jti: &str, expires_at: i64) -> QueryResult<()> {
    let insert = diesel::insert_into(revoked_access_tokens::table)
        .values((
            revoked_access_tokens::jti.eq(jti),
            revoked_access_tokens::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing();
    super::on_backend!(conn, c => insert.execute(c)).map(|_| ())
}

pub fn is_access_revoked(conn: &mut super::Conn, jti: &str) -> QueryResult<bool> {
    super::on_backend!(conn, c => diesel::select(access_revoked(jti)).get_result(c))
}

/// Whether the access token id `jti` was revoked, as an expression: to select beside a row
/// (`users::find_with_revocation`, `clients::find_with_revocation`) in the same round trip.
pub fn access_revoked(
    jti: &str,
) -> diesel::dsl::exists<diesel::dsl::Find<revoked_access_tokens::table, &str>> {
    diesel::dsl::exists(revoked_access_tokens::table.find(jti))
}

/// The ids of the refresh token families a person holds for a client that are not revoked.
pub fn live_families(
    conn: &mut super::Conn,
    user_id: &str,
    client_id: &str,
) -> QueryResult<Vec<String>> {
    refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::client_id.eq(client_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::family_id)
        .distinct()
        .load(conn)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{InstrumentationEvent, SimpleConnection};
    use diesel_migrations::MigrationHarness;

    use super::*;

    fn token(hash: &str, rotated_at: Option<i64>) -> RefreshToken {
        RefreshToken {
            token_hash: hash.into(),
            family_id: "family".into(),
            client_id: "client".into(),
            user_id: "person".into(),
            scope: "openid".into(),
            sid: "sid".into(),
            auth_time: 1,
            amr: "pwd".into(),
            access_jti: format!("jti-{hash}"),
            created_at: 1,
            idle_expires_at: 2,
            family_expires_at: 3,
            rotated_at,
            revoked_at: None,
        }
    }

    /// Every refresh stores a token whose `rotated_at` and `revoked_at` are `None`. The insert
    /// has one shape whatever its `None`s, so it is prepared and cached once, under its type.
    /// (With `None` left out as a column default, each shape is a statement of its own, cached
    /// under its SQL text: the SQL is then written out on every insert to be looked up.)
    #[test]
    fn a_refresh_token_insert_is_prepared_once_and_cached() {
        let mut sqlite = SqliteConnection::establish(":memory:").expect("an in-memory database");
        sqlite
            .run_pending_migrations(super::super::SQLITE_MIGRATIONS)
            .expect("migrations");
        // The tokens' client and person need not exist for this.
        sqlite
            .batch_execute("PRAGMA foreign_keys = OFF")
            .expect("pragma");
        let cached = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = cached.clone();
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().expect("not poisoned").push(sql.to_string());
            }
        });
        let mut conn = super::super::Conn::Sqlite(sqlite);
        for (hash, rotated_at) in [("a", None), ("b", Some(2)), ("c", None)] {
            insert(&mut conn, &token(hash, rotated_at)).expect("stored");
        }
        assert!(find(&mut conn, "c").expect("read").is_some());
        let inserts: Vec<String> = cached
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|sql| sql.starts_with("INSERT INTO `refresh_tokens`"))
            .cloned()
            .collect();
        assert_eq!(inserts.len(), 1, "cached inserts: {inserts:?}");
    }
}
