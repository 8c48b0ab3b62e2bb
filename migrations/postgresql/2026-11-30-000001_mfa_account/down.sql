DROP TABLE mfa_pending;
DROP TABLE recovery_codes;
DROP TABLE totp_credentials;
ALTER TABLE users DROP COLUMN mfa_required;
