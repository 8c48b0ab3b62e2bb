ALTER TABLE signing_keys DROP COLUMN signs_from;
ALTER TABLE signing_keys DROP COLUMN private_key;
