//! Consent a person gave a client, remembered per user, client and scope.

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::consents;

/// The scopes this user already granted this client (space-separated), if any.
pub fn granted(
    conn: &mut super::Conn,
    user_id: &str,
    client_id: &str,
) -> QueryResult<Option<String>> {
    consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .get_result(conn)
        .optional()
}

/// Records `scope` as granted, replacing what was there.
pub fn grant(
    conn: &mut super::Conn,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> QueryResult<()> {
    let upsert = diesel::insert_into(consents::table)
        .values((
            consents::user_id.eq(user_id),
            consents::client_id.eq(client_id),
            consents::scope.eq(scope),
            consents::created_at.eq(now),
        ))
        .on_conflict((consents::user_id, consents::client_id))
        .do_update()
        .set((
            consents::scope.eq(excluded(consents::scope)),
            consents::created_at.eq(excluded(consents::created_at)),
        ));
    super::on_backend!(conn, c => upsert.execute(c)).map(|_| ())
}

/// One application a person granted consent to.
#[derive(Debug, Clone, Queryable)]
pub struct GrantedApp {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

/// The applications this person granted consent to, by name.
pub fn list_for_user(conn: &mut super::Conn, user_id: &str) -> QueryResult<Vec<GrantedApp>> {
    use super::schema::clients;
    consents::table
        .inner_join(clients::table)
        .filter(consents::user_id.eq(user_id))
        .order(clients::name.asc())
        .select((
            consents::client_id,
            clients::name,
            consents::scope,
            consents::created_at,
        ))
        .load(conn)
}

/// Forgets the consent; answers whether there was one.
pub fn revoke(conn: &mut super::Conn, user_id: &str, client_id: &str) -> QueryResult<bool> {
    diesel::delete(consents::table.find((user_id, client_id)))
        .execute(conn)
        .map(|n| n == 1)
}
