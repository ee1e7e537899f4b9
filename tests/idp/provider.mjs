// node-oidc-provider (OpenID Certified) on 127.0.0.1, as an authorization server the phone app could use.
//
//   node tests/idp/provider.mjs            prints "ready http://127.0.0.1:PORT" once it serves
//
// - JWT access tokens (RFC 9068, typ at+jwt, RS256) for the resource https://qrlogin.example/api,
//   and for another resource; opaque access tokens checked at its introspection endpoint, which
//   requires client authentication (client_secret_basic) as it does by default.
// - Clients: "qrlogin-introspector" (what the stack presents when it introspects), "phone-app"
//   (the product's mobile app) and "other-app" (another app of the same provider).
// - POST /test/rotate {client_id} -> {client_secret}: a new secret for "qrlogin-introspector", which is
//   a registered (adapter-stored) client so that its metadata can change while the provider runs.
// - POST /test/mint {kind, sub, client_id, resource?, scope?, expired?} -> {token}: a test-only route
//   that mints a user's token with the provider's own token classes (no interactive login here).
//   kind: "jwt" (access token for resource), "opaque" (access token), "refresh" (refresh token).
//   Everything else (JWKS, discovery, introspection, revocation) is the provider's own endpoints.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

export const API = 'https://qrlogin.example/api';
export const OTHER_API = 'https://other.example/api';
const RESOURCES = {
  [API]: { scope: 'openid qrlogin/approve', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'RS256' } } },
  [OTHER_API]: { scope: 'openid', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'RS256' } } },
};
const SECRETS = JSON.parse(process.env.PROVIDER_CLIENT_SECRETS || '{}');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-rs256', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const client = (clientId, extra = {}) => ({
  client_id: clientId,
  client_secret: SECRETS[clientId] || `${clientId}-secret`,
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: [`https://${clientId}.example/callback`],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  ...extra,
});

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [
    client('phone-app'),
    client('other-app'),
  ],
  scopes: ['openid', 'offline_access', 'qrlogin/approve'],
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        if (!RESOURCES[resourceIndicator]) throw new errors.InvalidTarget();
        return RESOURCES[resourceIndicator];
      },
    },
  },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub, name: sub }; } };
  },
});

// qrlogin's own client: stored like a dynamically registered one, so a rotation takes effect at once.
const introspector = (secret) => client('qrlogin-introspector', {
  client_secret: secret, grant_types: [], response_types: [], redirect_uris: [],
});
await provider.Client.adapter.upsert('qrlogin-introspector', introspector(SECRETS['qrlogin-introspector'] || 'qrlogin-introspector-secret'));

async function rotate({ client_id: clientId }) {
  if (clientId !== 'qrlogin-introspector') throw new Error('only qrlogin-introspector rotates');
  const secret = `rotated-${randomBytes(24).toString('base64url')}`;
  await provider.Client.adapter.upsert(clientId, introspector(secret));
  return { client_secret: secret };
}

async function mint({
  kind, sub, client_id: clientId, resource = API, scope = 'openid qrlogin/approve', expired = false,
}) {
  const owner = await provider.Client.find(clientId);
  if (!owner) throw new Error(`unknown client ${clientId}`);
  if (kind === 'refresh') {
    return new provider.RefreshToken({ accountId: sub, client: owner, scope: `${scope} offline_access`, gty: 'authorization_code' }).save();
  }
  const token = new provider.AccessToken({ accountId: sub, client: owner, scope, gty: 'authorization_code' });
  if (kind === 'jwt') {
    token.resourceServer = new provider.ResourceServer(resource, RESOURCES[resource]);
  } else if (kind !== 'opaque') {
    throw new Error(`unknown kind ${kind}`);
  }
  if (expired) {
    const now = Math.floor(Date.now() / 1000);
    token.iat = now - 7200;
    token.exp = now - 3600;
  }
  return token.save();
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const test = { '/test/mint': async (body) => ({ token: await mint(body) }), '/test/rotate': rotate }[req.url];
  if (req.method === 'POST' && test) {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', async () => {
      try {
        const answer = await test(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
      }
    });
    return;
  }
  callback(req, res);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`ready ${issuer}`);
