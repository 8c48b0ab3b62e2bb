//! The audit log: one row per event, newest first when read, searchable by text.

use diesel::prelude::*;

use super::schema::audit_events;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// Who did it: `user:ID`, `client:ID`, `cli` or `anonymous`.
    pub actor: String,
    /// What happened, e.g. `user.signed_in`, `client.created`.
    pub action: String,
    /// What it was done to (a user id, client id, kid…), or empty.
    pub target: String,
    /// A short human-readable detail; never a secret.
    pub detail: String,
}

pub fn insert(conn: &mut super::Conn, row: &AuditRow) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// One page of events (newest first) whose actor, action, target or detail contains `query`,
/// and how many match in all.
pub fn search(
    conn: &mut super::Conn,
    query: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AuditRow>, i64)> {
    let filtered = || {
        let mut q = audit_events::table.into_boxed();
        if let Some(text) = query.filter(|t| !t.is_empty()) {
            let pattern = super::search::contains(text);
            q = q.filter(
                audit_events::actor
                    .like(pattern.clone())
                    .escape('\\')
                    .or(audit_events::action.like(pattern.clone()).escape('\\'))
                    .or(audit_events::target.like(pattern.clone()).escape('\\'))
                    .or(audit_events::detail.like(pattern).escape('\\')),
            );
        }
        q
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}
