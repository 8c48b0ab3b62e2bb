DROP TABLE signing_keys;
DROP TABLE consents;
DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE auth_codes;
DROP TABLE sessions;
DROP TABLE clients;
DROP TABLE users;
