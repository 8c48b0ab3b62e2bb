-- Signing keys may live in the database, sealed with AES-256-GCM (TESSERA_KEY_ENCRYPTION_KEY),
-- and a new key signs only from signs_from on (pre-publication in the JWKS).
ALTER TABLE signing_keys ADD COLUMN private_key TEXT;
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT NOT NULL DEFAULT 0;
