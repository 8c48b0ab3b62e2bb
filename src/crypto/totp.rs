//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock skew either way) with
//! totp-rs, the enrolment QR code, and one-time recovery codes.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::random;

/// Seconds per time step.
pub const STEP: i64 = 30;
/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;

/// A new random 160-bit secret, base32 (RFC 4648, no padding).
pub fn new_secret() -> String {
    Secret::generate().to_base32()
}

/// The TOTP for a stored base32 secret, labelled for authenticator apps.
fn totp(secret: &str, issuer: &str, account: &str) -> Option<Totp> {
    let bytes = Secret::try_from_base32(secret).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP as u64)
        .with_secret(bytes)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .ok()
}

/// The enrolment QR code (the `otpauth://` URI) as a `data:image/png;base64,…` URI.
pub fn qr_data_uri(secret: &str, issuer: &str, account: &str) -> Option<String> {
    let png = totp(secret, issuer, account)?.to_qr_base64().ok()?;
    Some(format!("data:image/png;base64,{png}"))
}

/// The secret split in groups of four, easier to type by hand.
pub fn display_secret(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `code` looks like a TOTP code (six digits, spaces ignored).
pub fn is_totp_code(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The time step whose code `code` is, within one step of `now`; `None` if it matches none.
pub fn matching_step(secret: &str, code: &str, now: i64) -> Option<i64> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !is_totp_code(&digits) || now < 0 {
        return None;
    }
    let step = totp(secret, "Tessera", "")?.check(&digits, now as u64)?;
    i64::try_from(step).ok()
}

/// The code for `now` (for tests and tools; the server never needs it).
pub fn code_at(secret: &str, now: i64) -> Option<String> {
    let t = totp(secret, "Tessera", "")?;
    Some(t.generate(u64::try_from(now).ok()?).to_string())
}

/// Ten new recovery codes (80 random bits each, shown as `xxxx-xxxx-xxxx-xxxx`) and the
/// hashes they are stored as.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::fill(&mut bytes);
            let raw = Secret::from(bytes.to_vec()).to_base32().to_lowercase();
            let shown = raw
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            let hash = recovery_hash(&shown);
            (shown, hash)
        })
        .unzip()
}

/// How a recovery code is stored and looked up: dashes, spaces and case do not matter.
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    random::hash(&format!("tessera-recovery:{normal}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matching_step(&secret, &code, now), Some(now / STEP));
        assert_eq!(matching_step(&secret, &code, now + STEP), Some(now / STEP));
        assert_eq!(matching_step(&secret, &code, now + 3 * STEP), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step("not base32!", &code, now), None);
    }

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 Appendix B, SHA-1 secret "12345678901234567890", T = 59 s: 94287082 (8
        // digits); the 6-digit code is its last six digits.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert_ne!(codes[0], codes[1]);
        assert_eq!(
            recovery_hash(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
        assert!(
            qr_data_uri(&new_secret(), "Tessera", "alice")
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
    }
}
