// Verifies a Tessera access token in Node.js with jose (npm install jose).
//
//   TESSERA_ISSUER=http://127.0.0.1:8080 API_AUDIENCE=my-app ACCESS_TOKEN=eyJ... node verify.mjs
//
// Prints the subject and scope and exits 0 for a valid token; prints why and exits 1 otherwise.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const issuer = process.env.TESSERA_ISSUER;
const audience = process.env.API_AUDIENCE;
const token = process.env.ACCESS_TOKEN;

// Once at start-up: the JWKS URL from discovery. createRemoteJWKSet caches the keys and
// refetches (rate-limited) when a token names a kid it has not seen.
const discovery = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

// Per request:
async function verifyAccessToken(token) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'at+jwt', // RFC 9068: refuses ID tokens and other JWTs
    // The algorithms your clients use (RS256 by default; ES256 and EdDSA per client). jose
    // takes the key named by the token's kid and requires its `alg` to match the header.
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    clockTolerance: 60,
  });
  return payload;
}

try {
  const claims = await verifyAccessToken(token);
  const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
  console.log(`valid: sub=${claims.sub} client_id=${claims.client_id} scope=${scopes.join(',')}`);
} catch (e) {
  console.log(`refused: ${e.code ?? e.name}: ${e.message}`);
  process.exit(1);
}
