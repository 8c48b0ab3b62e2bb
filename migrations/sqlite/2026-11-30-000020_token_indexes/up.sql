-- Revoking a person's tokens (disabled, password reset, an app revoked on the account page),
-- deleting a client, and the cascades of deleting a person or a client find the rows by index
-- instead of reading every refresh token and consent.
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id, client_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens(client_id);
CREATE INDEX consents_client ON consents(client_id);
