//! Values from outside, parsed once at the edge into types that cannot hold bad data.

pub mod params;
pub mod redirect;
pub mod scope;
