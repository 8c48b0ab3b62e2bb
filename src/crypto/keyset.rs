//! The keys in force at one moment, and the server's swappable copy of them.
//!
//! Each algorithm (RS256, ES256, EdDSA) has its own keys and its own signer. A key is
//! published from creation; it signs from its `signs_from` time (a rotated-in key is
//! pre-published first, so that relying parties have it before they see a token it signed)
//! until retired. The newest key of an algorithm allowed to sign signs for it. A retired key
//! stays published in the JWKS until every token it signed has expired, then drops out.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{Jwk, JwkSet};

use super::alg::SigningAlg;
use super::keys::{KeyError, KeyVault, LoadedKey};
use crate::db::keys::KeyRow;

/// The keys in force at one moment: the signer, every published verifier, and the JWKS body.
pub struct KeySet {
    signers: HashMap<SigningAlg, Arc<LoadedKey>>,
    verifiers: HashMap<String, Arc<LoadedKey>>,
    jwks_json: String,
}

impl KeySet {
    /// A set of fresh, unsealed keys, one of each algorithm, written to `dir`, all signing from
    /// time 0: for tests and fuzzing, which sign and verify without a database.
    pub fn generate_one_of_each(dir: &std::path::Path) -> Result<Self, KeyError> {
        let rows = SigningAlg::ALL
            .into_iter()
            .map(|alg| {
                Ok(KeyRow {
                    kid: super::keys::generate(dir, alg)?,
                    alg: alg.as_str().into(),
                    created_at: 0,
                    retired_at: None,
                    private_key: None,
                    signs_from: 0,
                })
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        Self::build(&KeyVault::new(dir.to_path_buf(), None), &rows, 0, 60)
    }

    /// Builds the set from the key rows: [`signer_row`] signs for each algorithm (an RS256
    /// key is required: it is the default); active keys and retired keys still inside
    /// `publish_window` seconds after retirement are published.
    pub fn build(
        vault: &KeyVault,
        rows: &[KeyRow],
        now: i64,
        publish_window: i64,
    ) -> Result<Self, KeyError> {
        let mut verifiers = HashMap::new();
        for row in rows {
            if is_published(row, now, publish_window) {
                verifiers.insert(row.kid.clone(), Arc::new(vault.load(row)?));
            }
        }
        let mut signers = HashMap::new();
        for alg in SigningAlg::ALL {
            let Some(row) = signer_row(rows, alg, now) else {
                continue;
            };
            let key = verifiers.get(&row.kid).cloned();
            signers.insert(alg, key.ok_or(KeyError::NoActiveKey)?);
        }
        if !signers.contains_key(&SigningAlg::RS256) {
            return Err(KeyError::NoActiveKey);
        }
        // RS256 keys first (the default), then ES256, then EdDSA; by kid within a type.
        let mut published: Vec<&Arc<LoadedKey>> = verifiers.values().collect();
        published.sort_by(|a, b| (a.alg, &a.kid).cmp(&(b.alg, &b.kid)));
        let keys: Vec<Jwk> = published.iter().map(|k| k.jwk.clone()).collect();
        let jwks_json = serde_json::to_string(&JwkSet { keys }).unwrap_or_default();
        Ok(Self {
            signers,
            verifiers,
            jwks_json,
        })
    }

    /// The key that signs for `alg` now, if the set has one.
    pub fn signer(&self, alg: SigningAlg) -> Option<&LoadedKey> {
        self.signers.get(&alg).map(|k| k.as_ref())
    }

    /// The published key with this kid, if any.
    pub fn verifier(&self, kid: &str) -> Option<&LoadedKey> {
        self.verifiers.get(kid).map(|k| k.as_ref())
    }

    /// The JWKS document (public members only).
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// What the set built from `rows` at `now` would publish and sign with, to notice when it
    /// changes (a pre-published key starting to sign changes it without any row changing).
    pub fn fingerprint(rows: &[KeyRow], now: i64, publish_window: i64) -> String {
        let mut parts: Vec<String> = rows
            .iter()
            .filter(|r| is_published(r, now, publish_window))
            .map(|r| r.kid.clone())
            .collect();
        parts.sort();
        let signers: Vec<&str> = SigningAlg::ALL
            .iter()
            .map(|alg| signer_row(rows, *alg, now).map_or("", |r| r.kid.as_str()))
            .collect();
        format!("{}|{}", parts.join(","), signers.join(","))
    }
}

/// Published at `now`: not retired, or retired less than `publish_window` seconds ago.
pub fn is_published(row: &KeyRow, now: i64, publish_window: i64) -> bool {
    row.retired_at.is_none_or(|at| at + publish_window > now)
}

/// The key that signs for `alg` at `now`: the newest active key of that algorithm whose
/// `signs_from` has come; when none has (only a first key still pre-published, say), the
/// newest active key of that algorithm.
pub fn signer_row(rows: &[KeyRow], alg: SigningAlg, now: i64) -> Option<&KeyRow> {
    let newest = |r: &&KeyRow| (r.signs_from, r.created_at, r.kid.clone());
    let active = || {
        rows.iter()
            .filter(move |r| r.alg == alg.as_str() && r.is_active(now))
    };
    active()
        .filter(|r| r.signs_from <= now)
        .max_by_key(newest)
        .or_else(|| active().max_by_key(|r| (r.created_at, r.kid.clone())))
}

/// The kids of the keys that sign at `now`, one per algorithm that has an active key.
pub fn signing_kids(rows: &[KeyRow], now: i64) -> Vec<String> {
    SigningAlg::ALL
        .iter()
        .filter_map(|alg| signer_row(rows, *alg, now).map(|r| r.kid.clone()))
        .collect()
}

/// The shared, swappable key set held by the running server.
#[derive(Clone)]
pub struct KeyStore {
    current: Arc<RwLock<(String, Arc<KeySet>)>>,
}

impl KeyStore {
    pub fn new(fingerprint: String, set: KeySet) -> Self {
        Self {
            current: Arc::new(RwLock::new((fingerprint, Arc::new(set)))),
        }
    }

    /// The key set in force now.
    pub fn get(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Whether the stored rows differ from those the current set was built from.
    pub fn is_stale(&self, fingerprint: &str) -> bool {
        match self.current.read() {
            Ok(guard) => guard.0 != fingerprint,
            Err(poisoned) => poisoned.into_inner().0 != fingerprint,
        }
    }

    /// Installs a freshly built set.
    pub fn replace(&self, fingerprint: String, set: KeySet) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = (fingerprint, Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, created_at: i64, signs_from: i64, retired_at: Option<i64>) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            alg: "RS256".into(),
            created_at,
            retired_at,
            private_key: None,
            signs_from,
        }
    }

    #[test]
    fn a_rotated_in_key_signs_only_from_its_time_and_the_old_one_until_then() {
        // Rotated at 100 with 30 s of pre-publication: old retires at 130, new signs from 130.
        let rows = [row("old", 0, 0, Some(130)), row("new", 100, 130, None)];
        let signer = |now| signer_row(&rows, SigningAlg::RS256, now).map(|r| r.kid.clone());

        assert_eq!(signer(100).as_deref(), Some("old"));
        assert_eq!(signer(129).as_deref(), Some("old"));
        assert_eq!(signer(130).as_deref(), Some("new"));
        assert!(rows.iter().all(|r| is_published(r, 129, 60)));
        assert!(is_published(&rows[0], 189, 60) && !is_published(&rows[0], 190, 60));
        assert_ne!(
            KeySet::fingerprint(&rows, 129, 60),
            KeySet::fingerprint(&rows, 130, 60),
            "the switch of signer alone must trigger a reload"
        );
        // A first key still waiting (no other active key) signs rather than nothing.
        assert_eq!(
            signer_row(&[row("only", 0, 50, None)], SigningAlg::RS256, 10).map(|r| r.kid.as_str()),
            Some("only")
        );
    }

    #[test]
    fn each_algorithm_has_its_own_signer() {
        let mut es = row("es", 0, 0, None);
        es.alg = "ES256".into();
        let mut ed_old = row("ed-old", 0, 0, Some(130));
        ed_old.alg = "EdDSA".into();
        let mut ed_new = row("ed-new", 100, 130, None);
        ed_new.alg = "EdDSA".into();
        // The RSA key is the newest of all: it must not sign for the other types.
        let rows = [row("rs", 200, 0, None), es, ed_old, ed_new];
        let signer = |alg, now| signer_row(&rows, alg, now).map(|r| r.kid.as_str());
        assert_eq!(signer(SigningAlg::RS256, 300), Some("rs"));
        assert_eq!(signer(SigningAlg::ES256, 300), Some("es"));
        assert_eq!(signer(SigningAlg::EdDSA, 129), Some("ed-old"));
        assert_eq!(signer(SigningAlg::EdDSA, 130), Some("ed-new"));
        assert_ne!(
            KeySet::fingerprint(&rows, 129, 60),
            KeySet::fingerprint(&rows, 130, 60),
            "the switch of the EdDSA signer alone must trigger a reload"
        );
        assert!(signer_row(&rows[..1], SigningAlg::ES256, 300).is_none());
    }
}
