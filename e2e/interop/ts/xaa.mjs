// Runs the TypeScript MCP SDK's Cross App Access client (v2,
// @modelcontextprotocol/client: CrossAppAccessProvider +
// discoverAndRequestJwtAuthGrant) unmodified against a running xaa-sandbox:
//
//   1. OIDC sign-in at the Acme IdP with code + PKCE (S256), done by this
//      script: it fills the plain HTML login form itself (no browser).
//   2. The SDK exchanges the ID token for an ID-JAG at the IdP (RFC 8693),
//      redeems it at Todo0 (RFC 7523 jwt-bearer), and calls Todo0 MCP tools
//      through its streamable HTTP transport.
//
// Usage: node xaa.mjs   (env: XAA_IDP, XAA_AGENT0, XAA_TODO0, XAA_MCP; the
// defaults are go run . up's). It exits non-zero on any mismatch.
import crypto from 'node:crypto';
import {
  Client,
  CrossAppAccessProvider,
  StreamableHTTPClientTransport,
  discoverAndRequestJwtAuthGrant,
} from '@modelcontextprotocol/client';

const IDP = process.env.XAA_IDP ?? 'http://localhost:7001';
const AGENT0 = process.env.XAA_AGENT0 ?? 'http://localhost:7002';
const TODO0 = process.env.XAA_TODO0 ?? 'http://localhost:7003';
const MCP = process.env.XAA_MCP ?? 'http://localhost:7004/mcp';
// The seeded demo world (shared/demo): sandbox credentials, never real ones.
const USER = process.env.XAA_USER ?? 'alice';
const PASSWORD = process.env.XAA_PASSWORD ?? 'alice-demo';
const IDP_CLIENT = { id: 'agent0', secret: 'agent0-idp-secret' };
const TODO0_CLIENT = { id: 'agent0-at-todo0', secret: 'agent0-todo0-secret' };

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const step = (msg) => console.log(`- ${msg}`);
function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

// A tiny cookie jar: the IdP's login form is CSRF-protected by a cookie.
const jar = new Map();
async function browse(url, init = {}) {
  const headers = new Headers(init.headers);
  if (jar.size) headers.set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    jar.set(kv.slice(0, i).trim(), kv.slice(i + 1).trim());
  }
  return res;
}

// Step 1: code + PKCE, headless.
async function signIn() {
  const meta = await (await fetch(`${IDP}/.well-known/openid-configuration`)).json();
  if (meta.issuer !== IDP) fail(`discovery issuer ${meta.issuer}, want ${IDP}`);
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const nonce = b64url(crypto.randomBytes(12));
  const redirect = `${AGENT0}/callback`;
  const authURL = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: IDP_CLIENT.id, redirect_uri: redirect,
    scope: 'openid profile email', state, nonce, code_challenge: challenge, code_challenge_method: 'S256' })) {
    authURL.searchParams.set(k, v);
  }
  let res = await browse(authURL);
  const html = await res.text();
  const form = html.match(/<form[^>]*action="([^"]*\/login)"[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) fail(`no login form at ${authURL} (HTTP ${res.status})`);
  const fields = new URLSearchParams();
  for (const m of form[2].matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) {
    fields.set(m[1], m[2].replaceAll('&amp;', '&').replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
  }
  fields.set('username', USER);
  fields.set('password', PASSWORD);
  res = await browse(new URL(form[1], authURL), { method: 'POST', body: fields,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  // Follow redirects until the one to redirect_uri, and stop there.
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
    const loc = new URL(res.headers.get('location'), res.url || IDP);
    if (loc.href.startsWith(redirect)) {
      if (loc.searchParams.get('state') !== state) fail('state mismatch');
      if (loc.searchParams.get('iss') !== IDP) fail(`iss in the redirect ${loc.searchParams.get('iss')}, want ${IDP} (RFC 9207)`);
      const code = loc.searchParams.get('code');
      if (!code) fail(`redirect without code: ${loc.searchParams.get('error')}`);
      const tok = await fetch(meta.token_endpoint, { method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(IDP_CLIENT.id)}:${encodeURIComponent(IDP_CLIENT.secret)}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }) });
      const body = await tok.json();
      if (!tok.ok || !body.id_token) fail(`code exchange: HTTP ${tok.status} ${JSON.stringify(body)}`);
      return body.id_token;
    }
    res = await browse(loc);
  }
  fail(`sign-in as ${USER} did not redirect to ${redirect} (HTTP ${res.status})`);
}

const idToken = await signIn();
step(`signed in at ${IDP} as ${USER} (code + PKCE S256), ID token ${idToken.slice(0, 12)}...`);

// Step 2: the SDK, unmodified.
let jagSeen = null;
const provider = new CrossAppAccessProvider({
  assertion: async (ctx) => {
    step(`SDK assertion callback: authorization server ${ctx.authorizationServerUrl}, resource ${ctx.resourceUrl}, scope ${ctx.scope ?? '(none)'}`);
    const grant = await discoverAndRequestJwtAuthGrant({
      idpUrl: IDP, audience: ctx.authorizationServerUrl, resource: ctx.resourceUrl, idToken,
      clientId: IDP_CLIENT.id, clientSecret: IDP_CLIENT.secret, scope: ctx.scope ?? 'todos.read todos.write', fetchFn: ctx.fetchFn,
    });
    jagSeen = grant.jwtAuthGrant;
    step(`ID-JAG from the IdP (token exchange), expires_in ${grant.expiresIn}, scope ${grant.scope ?? '(not echoed)'}`);
    return grant.jwtAuthGrant;
  },
  clientId: TODO0_CLIENT.id,
  clientSecret: TODO0_CLIENT.secret,
  expectedIssuer: TODO0,
});
// Known incompatibility (docs/interop.md): the SDK's RFC 8414 schema requires
// authorization_endpoint, which Todo0's metadata omits because it serves no
// authorization endpoint (RFC 8414 2 allows that). Unless XAA_TS_STRICT=1,
// this fetch wrapper fills the field in, loudly, and changes nothing else.
let shimmed = false;
const strict = process.env.XAA_TS_STRICT === '1';
async function fetchFn(url, init) {
  const res = await fetch(url, init);
  const u = new URL(String(url instanceof Request ? url.url : url));
  if (strict || !res.ok || !u.pathname.startsWith('/.well-known/oauth-authorization-server') || !u.href.startsWith(TODO0)) return res;
  const meta = await res.json();
  if (!meta.authorization_endpoint) {
    shimmed = true;
    meta.authorization_endpoint = `${meta.issuer}/oauth2/authorize`;
    meta.response_types_supported ??= [];
  }
  return new Response(JSON.stringify(meta), { status: res.status, headers: res.headers });
}
const client = new Client({ name: 'ts-sdk-xaa-interop', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(MCP), { authProvider: provider, fetch: fetchFn });
await client.connect(transport);
if (!jagSeen) fail('connected without going through Cross App Access');
const at = (await provider.tokens())?.access_token;
step(`connected to ${MCP} with a Todo0 access token (jwt-bearer, client_secret_basic) ${at?.slice(0, 12)}...`);

const title = `written by the TypeScript SDK ${crypto.randomUUID().slice(0, 8)}`;
const created = await client.callTool({ name: 'create_todo', arguments: { title } });
if (created.isError) fail(`create_todo: ${JSON.stringify(created.content)}`);
const listed = await client.callTool({ name: 'list_todos', arguments: {} });
if (listed.isError) fail(`list_todos: ${JSON.stringify(listed.content)}`);
const todos = listed.structuredContent?.todos ?? [];
const mine = todos.filter((t) => t.title === title);
if (mine.length !== 1) fail(`list_todos has ${mine.length} todos titled ${title}`);
if (mine[0].via_client !== TODO0_CLIENT.id) fail(`via_client ${mine[0].via_client}, want ${TODO0_CLIENT.id}`);
step(`create_todo + list_todos: "${title}" is there once, created by ${mine[0].created_by} via ${mine[0].via_client}`);
await client.close();
if (shimmed) {
  console.log('WARNING: Todo0 metadata has no authorization_endpoint; the SDK (v2.4.0) requires it, so this run filled it in (XAA_TS_STRICT=1 to see the failure)');
}
console.log('OK: TypeScript MCP SDK Cross App Access flow against the sandbox');
