//! Form and query parameters: bounded in count and length, and never repeated (RFC 6749 3.1).

use std::collections::HashMap;

/// Longest accepted value of one parameter.
pub const MAX_VALUE_LEN: usize = 4096;
/// Most parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

/// Why a set of parameters was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{0}` is repeated")]
    Repeated(String),
    #[error("parameter `{0}` is too long")]
    TooLong(String),
    #[error("too many parameters")]
    TooMany,
}

/// Decoded `application/x-www-form-urlencoded` pairs, each name at most once.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Params {
    /// Parses a query string or form body.
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if params.pairs.len() >= MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            let name = name.into_owned();
            if value.len() > MAX_VALUE_LEN || name.len() > 128 {
                return Err(ParamError::TooLong(truncate(&name)));
            }
            if params.index.contains_key(&name) {
                return Err(ParamError::Repeated(truncate(&name)));
            }
            params.index.insert(name.clone(), params.pairs.len());
            params.pairs.push((name, value.into_owned()));
        }
        Ok(params)
    }

    /// The first value of each name, ignoring repeats and limits: only to find where to send
    /// the error about a request that [`Params::parse`] refused.
    pub fn parse_first(raw: &[u8]) -> Self {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(raw).take(MAX_PARAMS) {
            let name = name.into_owned();
            if !params.index.contains_key(&name) && value.len() <= MAX_VALUE_LEN {
                params.index.insert(name.clone(), params.pairs.len());
                params.pairs.push((name, value.into_owned()));
            }
        }
        params
    }

    /// The value of `name`, with an empty value treated as absent (RFC 6749 3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.index
            .get(name)
            .map(|&i| self.pairs[i].1.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` was sent at all, even empty.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// All pairs, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Re-encodes the pairs, leaving out `skip`.
    pub fn encode_without(&self, skip: &[&str]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            if !skip.contains(&k) {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

fn truncate(name: &str) -> String {
    name.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(
            Params::parse(b"a=1&b=2&a=3").unwrap_err(),
            ParamError::Repeated("a".into())
        );
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"a=&b=x%20y").expect("parse");
        assert_eq!(p.get("a"), None);
        assert!(p.contains("a"));
        assert_eq!(p.get("b"), Some("x y"));
    }

    #[test]
    fn long_values_and_many_params_are_refused() {
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(matches!(
            Params::parse(long.as_bytes()),
            Err(ParamError::TooLong(_))
        ));
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()).unwrap_err(),
            ParamError::TooMany
        );
    }

    #[test]
    fn encode_without_drops_names() {
        let p = Params::parse(b"prompt=login&client_id=a%20b").expect("parse");
        assert_eq!(p.encode_without(&["prompt"]), "client_id=a+b");
    }
}
