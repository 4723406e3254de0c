// The TypeScript MCP SDK's Cross App Access client (CrossAppAccessProvider
// + discoverAndRequestJwtAuthGrant), unmodified, as a command for
// `go run . check client`: it reads MCP_CONFORMANCE_CONTEXT (the MCP
// conformance suite's variable, with the IdP client secret the sandbox adds)
// and takes the MCP server URL as its last argument, like a conformance-suite
// client. It lists the tools and exits 0, or exits 1 when access failed.
//
// Usage: go run . check client -- node e2e/interop/ts/check-client.mjs
// (node_modules as for xaa.mjs: npm ci, or the offline archive; see run.sh)
import {
  Client,
  CrossAppAccessProvider,
  StreamableHTTPClientTransport,
  discoverAndRequestJwtAuthGrant,
} from '@modelcontextprotocol/client';

const ctx = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}');
const mcpURL = process.argv[process.argv.length - 1];
const provider = new CrossAppAccessProvider({
  assertion: async (a) => {
    const grant = await discoverAndRequestJwtAuthGrant({
      idpUrl: ctx.idp_issuer, audience: a.authorizationServerUrl, resource: a.resourceUrl, idToken: ctx.idp_id_token,
      clientId: ctx.idp_client_id, clientSecret: ctx.idp_client_secret, scope: a.scope ?? process.env.XAA_SCOPE, fetchFn: a.fetchFn,
    });
    return grant.jwtAuthGrant;
  },
  clientId: ctx.client_id,
  clientSecret: ctx.client_secret,
});
try {
  const client = new Client({ name: 'ts-sdk-check-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
  const tools = await client.listTools();
  console.log(`connected; ${tools.tools.length} tools`);
  await client.close();
} catch (e) {
  console.error(`FAIL: ${e?.message ?? e}`);
  process.exit(1);
}
