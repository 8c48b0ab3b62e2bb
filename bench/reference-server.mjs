// panva's oidc-provider (the certified peer in ../shared/acceptance/reference) set up for the
// benchmark rows it has: one confidential client (client_secret_basic) allowed
// client_credentials, authorization_code and refresh_token; introspection; client_credentials
// access tokens as RS256 JWTs (a resource indicator), like Tessera's; in-memory storage.
//
// Before listening it stores, through the provider's own models, for one account, an access
// token (written to REF_ACCESS_OUT) and REF_REFRESH_COUNT refresh tokens (written to
// REF_REFRESH_OUT, one a line): the tokens a finished code flow would hold. Its in-memory
// adapter keeps about 1,000 entries (an LRU), so run.sh asks for 100 refresh tokens and its wrk
// script presents each rotated token again soon after it was issued. run.sh copies this
// file next to the reference's package.json and node_modules.
import * as crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const PORT = Number(process.env.REF_PORT || '3210');
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = process.env.REF_CLIENT_ID || 'bench-ref';
const CLIENT_SECRET = process.env.REF_CLIENT_SECRET;
const REDIRECT_URI = 'http://127.0.0.1:3299/callback';
const API = 'urn:bench:api';
const ACCOUNT = 'bench-user';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const provider = new Provider(ISSUER, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@example.test`, email_verified: false, name: `Bench ${sub}`, preferred_username: sub };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return ctx.oidc.params?.grant_type === 'client_credentials' ? API : undefined;
      },
      async useGrantedResource() { return false; },
      async getResourceServerInfo(ctx, resource) {
        if (resource !== API) throw new Provider.errors.InvalidTarget();
        return { scope: 'api:read', audience: API, accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  async issueRefreshToken(ctx, client) { return client.grantTypeAllowed('refresh_token'); },
  rotateRefreshToken: true,
  ttl: { AccessToken: 3600, ClientCredentials: 600, IdToken: 600, Grant: 86400, RefreshToken: 86400 },
});

const client = await provider.Client.find(CLIENT_ID);
const now = Math.floor(Date.now() / 1000);
// One grant per token family, as separate code flows would leave them: a reused refresh token
// revokes its grant, and must not take the others down with it.
const newGrant = async () => {
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CLIENT_ID });
  grant.addOIDCScope('openid profile email offline_access');
  return { accountId: ACCOUNT, client, grantId: await grant.save(), gty: 'authorization_code', authTime: now };
};
const accessToken = await new provider.AccessToken({ ...(await newGrant()), scope: 'openid profile email' }).save();
writeFileSync(process.env.REF_ACCESS_OUT, `${accessToken}\n`);
const refresh = [];
for (let i = 0; i < Number(process.env.REF_REFRESH_COUNT || '200'); i += 1) {
  const issued = await newGrant();
  refresh.push(await new provider.RefreshToken({ ...issued, scope: 'openid profile email offline_access', iiat: now, rotations: 0 }).save());
}
writeFileSync(process.env.REF_REFRESH_OUT, `${refresh.join('\n')}\n`);

for (const event of ['server_error', 'grant.error', 'introspection.error', 'userinfo.error']) {
  provider.on(event, (ctx, err) => console.error(`[reference] ${event}: ${err?.name} ${err?.message}`));
}
const server = createServer(provider.callback());
server.listen(PORT, '127.0.0.1', () => console.log(`[reference] listening on ${ISSUER} (pid ${process.pid})`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Never outlives a forgotten benchmark.
setTimeout(() => process.exit(0), 900_000).unref();
