//! Search and pages for the listings of the console (users, clients, sessions, audit log) and
//! of the API (users, clients, sessions): a deployment with a million users lists fifty at a
//! time, never all of them.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use super::problem::ApiError;
use crate::db::search::Slice;
use crate::domain::params::Params;

/// Rows on one console page.
pub const CONSOLE_PER_PAGE: i64 = 50;
/// Rows on one API page unless `per_page` says otherwise, and the most it may ask for.
pub const API_PER_PAGE: u32 = 100;
pub const API_MAX_PER_PAGE: u32 = 500;
/// The longest search text.
pub const MAX_QUERY: usize = 200;
/// The last page anyone may ask for.
const MAX_PAGE: u32 = 1_000_000;

/// Where a console listing stands: its search text, page and the links around it.
pub struct Pager {
    /// The listing's path, e.g. `/admin/users`.
    pub path: &'static str,
    pub query: String,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// The console's reading of `?q=…&page=…`: lenient, as people type addresses by hand (a bad
/// page number is page 1, an overlong search is cut).
pub fn console_slice(query_string: &str) -> (Slice, i64) {
    let params = Params::parse(query_string.as_bytes()).unwrap_or_default();
    let query: String = params
        .get("q")
        .unwrap_or("")
        .trim()
        .chars()
        .take(MAX_QUERY)
        .collect();
    let page = params
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=i64::from(MAX_PAGE)).contains(p))
        .unwrap_or(1);
    let slice = Slice {
        query,
        offset: (page - 1) * CONSOLE_PER_PAGE,
        limit: CONSOLE_PER_PAGE,
    };
    (slice, page)
}

impl Pager {
    pub fn new(path: &'static str, slice: &Slice, page: i64, total: i64) -> Self {
        let pages = ((total + slice.limit - 1) / slice.limit).max(1);
        let link = |p: i64| format!("{path}?{}", query_string(&slice.query, p, None));
        Self {
            path,
            query: slice.query.clone(),
            total,
            page,
            pages,
            previous: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

fn query_string(query: &str, page: i64, per_page: Option<u32>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if !query.is_empty() {
        s.append_pair("q", query);
    }
    s.append_pair("page", &page.to_string());
    if let Some(n) = per_page {
        s.append_pair("per_page", &n.to_string());
    }
    s.finish()
}

/// `?q=…&page=…&per_page=…` of an API listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Text the listed rows contain (username or email, client id or name, username).
    pub q: Option<String>,
    /// From 1 (default 1).
    pub page: Option<u32>,
    /// 1 to 500 (default 100).
    pub per_page: Option<u32>,
}

/// A page of an API listing, as asked for.
pub struct ApiSlice {
    pub slice: Slice,
    page: u32,
    per_page: u32,
}

impl ApiSlice {
    /// Reads the query strictly: anything out of range is a 400 naming the rule.
    pub fn parse(query_string: &str) -> Result<Self, ApiError> {
        let q = actix_web::web::Query::<ListQuery>::from_query(query_string)
            .map_err(|e| ApiError::bad_request(format!("bad query: {e}")))?
            .into_inner();
        let page = q.page.unwrap_or(1);
        let per_page = q.per_page.unwrap_or(API_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) || !(1..=API_MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_request(format!(
                "page is 1 to {MAX_PAGE} and per_page is 1 to {API_MAX_PER_PAGE}"
            )));
        }
        let query = q.q.unwrap_or_default().trim().to_string();
        if query.chars().count() > MAX_QUERY {
            return Err(ApiError::bad_request(format!(
                "q is at most {MAX_QUERY} characters"
            )));
        }
        Ok(Self {
            slice: Slice {
                query,
                offset: i64::from(page - 1) * i64::from(per_page),
                limit: i64::from(per_page),
            },
            page,
            per_page,
        })
    }

    /// The rows as a JSON array, with `X-Total-Count` and an RFC 8288 `Link` header to the
    /// first, previous, next and last pages.
    pub fn answer<T: Serialize>(&self, path: &str, total: i64, rows: &[T]) -> HttpResponse {
        let per_page = i64::from(self.per_page);
        let page = i64::from(self.page);
        let last = ((total + per_page - 1) / per_page).max(1);
        let link = |p: i64, rel: &str| {
            format!(
                "<{path}?{}>; rel=\"{rel}\"",
                query_string(&self.slice.query, p, Some(self.per_page))
            )
        };
        let mut links = vec![link(1, "first")];
        if page > 1 {
            links.push(link((page - 1).min(last), "prev"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
        }
        links.push(link(last, "last"));
        HttpResponse::build(StatusCode::OK)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Total-Count", total.to_string()))
            .insert_header((header::LINK, links.join(", ")))
            .json(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_reads_pages_leniently() {
        let (slice, page) = console_slice("q=+ali%25ce+&page=3");
        assert_eq!((slice.query.as_str(), page), ("ali%ce", 3));
        assert_eq!((slice.offset, slice.limit), (100, CONSOLE_PER_PAGE));
        assert_eq!(console_slice("page=0").1, 1);
        assert_eq!(console_slice("page=x").1, 1);
        assert_eq!(
            console_slice(&format!("q={}", "a".repeat(500)))
                .0
                .query
                .len(),
            MAX_QUERY
        );
    }

    #[test]
    fn the_pager_links_keep_the_search() {
        let (slice, page) = console_slice("q=a b&page=2");
        let pager = Pager::new("/admin/users", &slice, page, 120);
        assert_eq!(pager.pages, 3);
        assert_eq!(pager.previous.as_deref(), Some("/admin/users?q=a+b&page=1"));
        assert_eq!(pager.next.as_deref(), Some("/admin/users?q=a+b&page=3"));
    }

    #[test]
    fn the_api_refuses_pages_out_of_range() {
        assert!(ApiSlice::parse("page=0").is_err());
        assert!(ApiSlice::parse("per_page=501").is_err());
        assert!(ApiSlice::parse("page=x").is_err());
        assert!(ApiSlice::parse(&format!("q={}", "a".repeat(201))).is_err());
        let ok = ApiSlice::parse("q=x&page=2&per_page=10").expect("valid");
        assert_eq!((ok.slice.offset, ok.slice.limit), (10, 10));
    }
}
