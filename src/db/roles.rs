//! Roles and groups assigned to users. The `admin` role is the `users.is_admin` flag; every
//! other role and every group is a row here.

use diesel::prelude::*;

use super::schema::{user_groups, user_roles};
use super::users::User;

/// The role that grants the admin console and API.
pub const ADMIN_ROLE: &str = "admin";

/// What a user is a member of, as tokens carry it (`roles`, `groups`), sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Membership {
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

/// The roles (with `admin` when the user is an admin) and groups of `user`.
pub fn of(conn: &mut super::Conn, user: &User) -> QueryResult<Membership> {
    let mut roles: Vec<String> = super::on_backend!(&mut *conn, c => {
        user_roles::table
            .filter(user_roles::user_id.eq(&user.id))
            .select(user_roles::role)
            .load(c)
    })?;
    if user.is_admin {
        roles.push(ADMIN_ROLE.to_string());
    }
    roles.sort();
    roles.dedup();
    let groups: Vec<String> = super::on_backend!(conn, c => {
        user_groups::table
            .filter(user_groups::user_id.eq(&user.id))
            .order(user_groups::group_name.asc())
            .select(user_groups::group_name)
            .load(c)
    })?;
    Ok(Membership { roles, groups })
}

/// Replaces the stored roles (other than `admin`) and groups of a user.
pub fn replace(
    conn: &mut super::Conn,
    user_id: &str,
    roles: &[String],
    groups: &[String],
) -> QueryResult<()> {
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(user_groups::table.filter(user_groups::user_id.eq(user_id))).execute(conn)?;
    for role in roles.iter().filter(|r| *r != ADMIN_ROLE) {
        diesel::insert_into(user_roles::table)
            .values((user_roles::user_id.eq(user_id), user_roles::role.eq(role)))
            .execute(conn)?;
    }
    for group in groups {
        diesel::insert_into(user_groups::table)
            .values((
                user_groups::user_id.eq(user_id),
                user_groups::group_name.eq(group),
            ))
            .execute(conn)?;
    }
    Ok(())
}
