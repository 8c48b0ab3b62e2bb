//! Registered relying parties.

use diesel::prelude::*;

use super::schema::clients;

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

pub fn find(conn: &mut super::Conn, client_id: &str) -> QueryResult<Option<Client>> {
    clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()
        .map(|row| row.map(Client::from))
}
