//! Text search and paging shared by the listings: a LIKE pattern that matches the text
//! literally, and a page of rows with the total that match.

/// A `LIKE … ESCAPE '\\'` pattern matching any value that contains `text` literally (its `%`,
/// `_` and `\\` escaped).
pub fn contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Which page of a listing to read: rows `offset..offset + limit` of those matching `query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Text to search for; empty for every row.
    pub query: String,
    pub offset: i64,
    pub limit: i64,
}

/// One page of rows and how many rows match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

impl Slice {
    /// The search text, if any.
    pub fn text(&self) -> Option<&str> {
        Some(self.query.as_str()).filter(|q| !q.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_matched_literally() {
        assert_eq!(contains("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains(""), "%%");
    }
}
