-- The JWS algorithm of the ID and access tokens issued to a client.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_signed_response_alg IN ('RS256', 'ES256', 'EdDSA'));
