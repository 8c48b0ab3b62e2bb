DROP INDEX consents_client;
DROP INDEX refresh_tokens_client;
DROP INDEX refresh_tokens_user;
