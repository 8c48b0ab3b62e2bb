//! Values from outside, parsed once at the edge into types that cannot hold bad data.

pub mod account;
pub mod params;
pub mod password_policy;
pub mod redirect;
pub mod scope;
