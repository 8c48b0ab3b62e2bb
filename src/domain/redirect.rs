//! Redirect URIs: checked when registered, matched exactly when presented.

/// Checks a redirect URI at registration: absolute, no fragment, and `https` unless it points
/// at this machine (`http://127.0.0.1`, `http://[::1]`, `http://localhost`) or uses a private
/// scheme of a native app (RFC 8252 7.1).
pub fn validate_registered(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|_| format!("`{raw}` is not an absolute URI"))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(format!("`{raw}` must not have a fragment"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || raw.len() > 2000 {
        return Err(format!("`{raw}` contains spaces or is too long"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err(format!(
                "`{raw}` must use https (http only for 127.0.0.1, [::1] or localhost)"
            )),
        },
        "javascript" | "data" | "file" | "vbscript" => {
            Err(format!("`{raw}` uses a forbidden scheme"))
        }
        _ if url.scheme().contains('.') => Ok(()),
        _ => Err(format!(
            "`{raw}` must use https, a loopback http URI, or a reverse-domain private scheme"
        )),
    }
}

/// Whether `presented` matches one of `registered`: byte-for-byte, except that a registered
/// loopback IP redirect URI of a native app matches any port (RFC 8252 7.3).
pub fn matches(registered: &[String], presented: &str) -> bool {
    registered
        .iter()
        .any(|r| r == presented || loopback_match(r, presented))
}

fn loopback_match(registered: &str, presented: &str) -> bool {
    for host in ["http://127.0.0.1", "http://[::1]"] {
        if let (Some(r), Some(p)) = (registered.strip_prefix(host), presented.strip_prefix(host)) {
            return strip_port(r).is_some_and(|r| Some(r) == strip_port(p));
        }
    }
    false
}

/// `:1234/rest` → `/rest`; `/rest` → `/rest`; anything else (no path, bad port) → None.
fn strip_port(s: &str) -> Option<&str> {
    let rest = match s.strip_prefix(':') {
        Some(after) => {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &after[digits..]
        }
        None => s,
    };
    rest.starts_with('/').then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_match_only() {
        let r = reg(&["https://app.example/cb"]);
        assert!(matches(&r, "https://app.example/cb"));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb/extra",
            "https://app.example/cb?x=1",
            "https://app.example/cb#f",
            "https://APP.example/cb",
            "https://app.example/%63b",
            "https://app.example@evil.example/cb",
            "https://app.example.evil.example/cb",
            "https://app.example:443/cb",
        ] {
            assert!(!matches(&r, bad), "{bad}");
        }
    }

    #[test]
    fn loopback_ip_may_change_port_only() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]:8000/cb"]);
        assert!(matches(&r, "http://127.0.0.1:51234/callback"));
        assert!(matches(&r, "http://[::1]:9/cb"));
        assert!(!matches(&r, "http://127.0.0.1:51234/callback/x"));
        assert!(!matches(&r, "http://127.0.0.1:5x/callback"));
        assert!(!matches(&r, "http://127.0.0.1.evil.example/callback"));
        assert!(!matches(&r, "http://127.0.0.1@evil.example/callback"));
        let named = reg(&["http://localhost:3000/cb"]);
        assert!(!matches(&named, "http://localhost:3001/cb"));
    }

    #[test]
    fn registration_rules() {
        assert!(validate_registered("https://app.example/cb").is_ok());
        assert!(validate_registered("http://127.0.0.1:3299/callback").is_ok());
        assert!(validate_registered("com.example.app:/oauth").is_ok());
        assert!(validate_registered("http://app.example/cb").is_err());
        assert!(validate_registered("https://app.example/cb#x").is_err());
        assert!(validate_registered("javascript:alert(1)").is_err());
        assert!(validate_registered("/relative").is_err());
    }
}
