import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ApiMetrics } from '../../src/api/metrics';
import { buildApi } from '../../src/api/server';
import { DeliveryReportInbox } from '../../src/inbox/delivery-reports';
import { createDatabase } from '../../src/db/client';
import { createLogger } from '../../src/logger';
import { RoutingCatalog } from '../../src/routing/catalog';
import { DEFAULT_MESSAGE_POLICY } from '../../src/client/request';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: unknown[]; requestBody?: unknown; responses?: Record<string, unknown> }>>;
}

let app: FastifyInstance;
let document: OpenApiDocument;
const routes: RouteOptions[] = [];

before(async () => {
  // Nothing here is ever reached: the document and the docs page need no database or Temporal.
  const unused = 'postgresql://postgres@127.0.0.1:1/unused';
  const db = createDatabase(unused);
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  app = await buildApi({
    db,
    temporal,
    deliveryReportInbox: new DeliveryReportInbox(unused, { maxRows: 10, lingerMs: 1, notifySpacingMs: 0 }, createLogger('silent', 'test')),
    catalog: new RoutingCatalog(db),
    logger: createLogger('silent', 'test'),
    publicBaseUrl: 'http://127.0.0.1:3000',
    maxSegments: 10,
    maxBatchRecipients: 1000,
    policy: { ...DEFAULT_MESSAGE_POLICY, callbackRetrySeconds: 60 },
    metrics: new ApiMetrics(),
    allowPrivateCallbacks: false,
    campaignChunkSize: 500,
    campaignChunksPerRun: 100,
    onRoute: (route) => routes.push(route),
  });
  await app.ready();
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  document = response.json<OpenApiDocument>();
});

after(async () => {
  await app?.close();
});

/** `/v1/messages/:id` as OpenAPI writes it: `/v1/messages/{id}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function documentedRoutes(): { method: string; url: string }[] {
  return routes
    .filter((route) => !(route.schema as { hide?: boolean } | undefined)?.hide && !route.url.startsWith('/docs'))
    .flatMap((route) => (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method: method.toLowerCase(), url: route.url })))
    .filter((route) => route.method !== 'head');
}

describe('OpenAPI contract', () => {
  test('/openapi.json is a valid OpenAPI 3.1 document', async () => {
    assert.match(document.openapi, /^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
  });

  test('every registered route is in the document, with request and response schemas', () => {
    const expected = documentedRoutes();
    assert.ok(expected.length >= 15, `routes seen: ${expected.length}`);
    for (const { method, url } of expected) {
      const operation = document.paths[openApiPath(url)]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${url} is missing from /openapi.json`);
      const responses = Object.keys(operation.responses ?? {});
      assert.ok(responses.some((code) => /^2/.test(code)), `${method.toUpperCase()} ${url} has no success response schema`);
      assert.ok(responses.some((code) => /^4/.test(code)), `${method.toUpperCase()} ${url} has no error response schema`);
      const hasPathParams = url.includes(':');
      if (hasPathParams) assert.ok(operation.parameters?.length, `${method.toUpperCase()} ${url} has no parameter schema`);
    }
    const documented = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    assert.deepEqual(documented.sort(), expected.map(({ method, url }) => `${method} ${openApiPath(url)}`).sort());
  });

  test('bodies that carry data are described, submit to its field limits', () => {
    const submit = document.paths['/v1/messages']?.post?.requestBody as { content: Record<string, { schema: { properties: Record<string, { maxLength?: number }> } }> };
    const schema = submit.content['application/json']?.schema;
    assert.equal(schema?.properties.from?.maxLength, 16);
    assert.equal(schema?.properties.clientRef?.maxLength, 64);
  });

  test('GET /v1/stats documents its inbound figures; the inbound settings and numbers their keyword fields', () => {
    type Schema = { required?: string[]; properties?: Record<string, Schema>; items?: Schema; type?: string | string[] };
    const jsonOf = (body: unknown): Schema | undefined => (body as { content?: Record<string, { schema: Schema }> } | undefined)?.content?.['application/json']?.schema;
    const stats = jsonOf(document.paths['/v1/stats']?.get?.responses?.['200']);
    assert.ok(stats?.required?.includes('inbound'));
    const inbound = stats?.properties?.inbound;
    assert.deepEqual(inbound?.required, ['byNumber', 'byCountry', 'optOutsPerDay']);
    assert.deepEqual(inbound?.properties?.byNumber?.items?.required, ['number', 'total']);
    assert.deepEqual(inbound?.properties?.byCountry?.items?.properties?.country?.type, ['string', 'null']);
    assert.deepEqual(inbound?.properties?.optOutsPerDay?.items?.required, ['day', 'optOuts', 'optIns']);
    assert.equal(document.paths['/v1/stats/inbound'], undefined, 'folded into /v1/stats');

    const settings = document.paths['/v1/admin/accounts/{id}/inbound']?.put;
    for (const field of ['keywordReplies', 'optOutReply', 'optInReply']) {
      assert.ok(jsonOf(settings?.requestBody)?.properties?.[field], `request ${field}`);
      assert.ok(jsonOf(settings?.responses?.['200'])?.required?.includes(field), `response ${field}`);
    }
    const numbers = document.paths['/v1/admin/numbers'];
    assert.ok(jsonOf(numbers?.post?.requestBody)?.properties?.keyword);
    assert.ok(jsonOf(numbers?.get?.responses?.['200'])?.properties?.numbers?.items?.required?.includes('keyword'));
  });

  test('/docs serves the documentation page', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs' });
    const page = response.statusCode === 302 ? await app.inject({ method: 'GET', url: String(response.headers.location) }) : response;
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /swagger/i);
  });
});
