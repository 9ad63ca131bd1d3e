// The official TypeScript SDK client (@modelcontextprotocol/sdk 1.32, pinned in package.json) against
// the gateway, run by tests/e2e/test_clients_ts.py with the Node 22 of node_modules/.bin:
//   node ts_client.mjs --transport ws|http --url URL --token TOKEN
// Connects (initialize), lists the tools, calls `chat` with a progress callback and prints one JSON
// report on stdout; every failure goes into the report ({ok: false, stage, error}).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseArgs } from 'node:util';

const WAIT_MS = 30_000; // upper bound of each request
const PROMPT = 'ts sdk matrix emulate:tokens=40 emulate:tokens_per_second=40';

const { values: args } = parseArgs({
  options: { transport: { type: 'string' }, url: { type: 'string' }, token: { type: 'string', default: '' } }
});

function transportFor() {
  if (args.transport === 'ws') {
    // A browser-style WebSocket cannot send headers: the token goes in the query, as the gateway allows.
    const url = new URL(args.url);
    if (args.token) url.searchParams.set('token', args.token);
    return new WebSocketClientTransport(url);
  }
  const headers = args.token ? { Authorization: `Bearer ${args.token}` } : {};
  return new StreamableHTTPClientTransport(new URL(args.url), { requestInit: { headers } });
}

const report = { transport: args.transport, sdk: '1.32', stage: 'connect' };
const client = new Client({ name: 'exai-ts-matrix', version: '1' });
try {
  const transport = transportFor();
  await client.connect(transport, { timeout: WAIT_MS });
  report.protocol_version = transport.protocolVersion ?? null; // Streamable HTTP only
  report.server = client.getServerVersion()?.name ?? null;
  report.capabilities = client.getServerCapabilities() ?? null;
  report.stage = 'tools/list';
  const listing = await client.listTools(undefined, { timeout: WAIT_MS });
  report.tools = listing.tools.map((tool) => tool.name);
  report.stage = 'tools/call';
  const progress = [];
  const result = await client.callTool({ name: 'chat', arguments: { prompt: PROMPT } }, CallToolResultSchema, {
    timeout: WAIT_MS,
    resetTimeoutOnProgress: true,
    onprogress: (p) => progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null })
  });
  report.call = {
    is_error: result.isError ?? false,
    text: result.content.filter((block) => block.type === 'text').map((block) => block.text).join('\n')
  };
  report.progress = progress;
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = String(error?.stack ?? error);
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(report) + '\n');
