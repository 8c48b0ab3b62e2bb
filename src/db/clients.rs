//! Registered relying parties.

use diesel::prelude::*;

use super::schema::clients;
use crate::crypto::alg::SigningAlg;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    /// Space-separated (URIs and scopes never contain spaces).
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub first_party: bool,
    pub created_at: i64,
    /// RS256, ES256 or EdDSA (a CHECK constraint keeps it so).
    pub id_token_signed_response_alg: String,
}

/// A client as the protocol code sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    /// How the ID tokens and access tokens issued to this client are signed.
    pub id_token_signed_response_alg: SigningAlg,
}

impl Client {
    /// A public client has no secret and authenticates with PKCE alone.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

fn split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Self {
            redirect_uris: split(&row.redirect_uris),
            post_logout_redirect_uris: split(&row.post_logout_redirect_uris),
            grant_types: split(&row.grant_types),
            scopes: split(&row.scopes),
            id: row.client_id,
            name: row.name,
            secret_hash: row.secret_hash,
            first_party: row.first_party,
            // The column's CHECK constraint admits only the three names.
            id_token_signed_response_alg: SigningAlg::parse(&row.id_token_signed_response_alg)
                .unwrap_or_default(),
        }
    }
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            secret_hash: c.secret_hash.clone(),
            redirect_uris: c.redirect_uris.join(" "),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join(" "),
            grant_types: c.grant_types.join(" "),
            scopes: c.scopes.join(" "),
            first_party: c.first_party,
            created_at: 0,
            id_token_signed_response_alg: c.id_token_signed_response_alg.as_str().to_string(),
        }
    }
}

pub fn insert(conn: &mut super::Conn, client: &Client, now: i64) -> QueryResult<()> {
    let mut row = ClientRow::from(client);
    row.created_at = now;
    diesel::insert_into(clients::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

/// A client, and whether the access token id `jti` was revoked, in one query: introspection's
/// one round trip. `None`: no such client.
pub fn find_with_revocation(
    conn: &mut super::Conn,
    client_id: &str,
    jti: &str,
) -> QueryResult<Option<(Client, bool)>> {
    super::on_backend!(conn, c => {
        clients::table
            .find(client_id)
            .select((ClientRow::as_select(), super::tokens::access_revoked(jti)))
            .get_result(c)
            .optional()
    })
    .map(|found| found.map(|(row, revoked)| (Client::from(row), revoked)))
}

pub fn find(conn: &mut super::Conn, client_id: &str) -> QueryResult<Option<Client>> {
    super::on_backend!(conn, c => {
        clients::table
            .find(client_id)
            .select(ClientRow::as_select())
            .get_result(c)
            .optional()
    })
    .map(|row| row.map(Client::from))
}
