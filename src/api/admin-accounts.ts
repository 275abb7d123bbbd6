import type { FastifyPluginAsync } from 'fastify';
import type { AccountAdmin } from '../accounts/admin';
import { adminOperation, idParams, objectBody, type IdParams } from './admin-schemas';
import { errorResponses, fromAdminErrors as call } from './errors';

export interface AccountRoutesOptions {
  readonly accounts: AccountAdmin;
}

// Response schemas are allowlists: a key hash can never reach a client even if a view grew one.
const accountProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  enabled: { type: 'boolean' },
  disabledAt: { type: ['string', 'null'] },
  maxMessagesPerSecond: { type: ['integer', 'null'] },
  dailyMessageCap: { type: ['integer', 'null'] },
  createdAt: { type: 'string' },
} as const;
const accountView = { type: 'object', required: Object.keys(accountProperties), properties: accountProperties } as const;
const accountDetails = {
  type: 'object',
  required: [...accountView.required, 'callbackSecret'],
  properties: { ...accountProperties, callbackSecret: { type: 'string' } },
} as const;

const keyProperties = {
  id: { type: 'string' },
  account: { type: 'string' },
  prefix: { type: ['string', 'null'] },
  label: { type: ['string', 'null'] },
  createdAt: { type: 'string' },
  revokedAt: { type: ['string', 'null'] },
} as const;
const keyView = { type: 'object', required: Object.keys(keyProperties), properties: keyProperties } as const;
const issuedKey = { type: 'object', required: [...keyView.required, 'key'], properties: { ...keyProperties, key: { type: 'string' } } } as const;

/**
 * `/v1/admin/accounts` and `/v1/admin/keys`: onboard a customer, issue and revoke its keys, set its
 * quotas, show and rotate its callback secret, cut it off. Registered inside the admin plugin.
 */
export const accountRoutes: FastifyPluginAsync<AccountRoutesOptions> = async (app, { accounts }) => {
  app.get('/v1/admin/accounts', { schema: { ...adminOperation, summary: 'List accounts', response: { 200: { type: 'object', required: ['accounts'], properties: { accounts: { type: 'array', items: accountView } } }, ...errorResponses } } }, async () => ({
    accounts: await call(accounts.listAccounts()),
  }));

  app.post('/v1/admin/accounts', { schema: { ...adminOperation, summary: 'Create an account', body: objectBody, response: { 201: accountDetails, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(await call(accounts.createAccount(request.body))),
  );

  app.get<{ Params: IdParams }>('/v1/admin/accounts/:id', { schema: { ...adminOperation, summary: 'An account, with its callback secret', params: idParams, response: { 200: accountDetails, ...errorResponses } } }, async (request) =>
    call(accounts.getAccount(request.params.id)),
  );

  app.patch<{ Params: IdParams }>('/v1/admin/accounts/:id', { schema: { ...adminOperation, summary: 'Change an account: name, quotas, enabled', params: idParams, body: objectBody, response: { 200: accountDetails, ...errorResponses } } }, async (request) =>
    call(accounts.updateAccount(request.params.id, request.body)),
  );

  app.post<{ Params: IdParams }>('/v1/admin/accounts/:id/callback-secret', { schema: { ...adminOperation, summary: 'Rotate the callback signing secret', params: idParams, response: { 200: accountDetails, ...errorResponses } } }, async (request) =>
    call(accounts.rotateCallbackSecret(request.params.id)),
  );

  app.get<{ Params: IdParams }>(
    '/v1/admin/accounts/:id/keys',
    { schema: { ...adminOperation, summary: "An account's API keys", params: idParams, response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keyView } } }, ...errorResponses } } },
    async (request) => ({ keys: await call(accounts.listKeys(request.params.id)) }),
  );

  // The body is optional (`{ "label": … }`); the key is in this answer only.
  app.post<{ Params: IdParams }>('/v1/admin/accounts/:id/keys', { schema: { ...adminOperation, summary: 'Issue an API key (shown once)', params: idParams, response: { 201: issuedKey, ...errorResponses } } }, async (request, reply) =>
    reply.code(201).send(await call(accounts.issueKey(request.params.id, request.body ?? {}))),
  );

  app.delete<{ Params: IdParams }>('/v1/admin/keys/:id', { schema: { ...adminOperation, summary: 'Revoke an API key', params: idParams, response: { 200: keyView, ...errorResponses } } }, async (request) =>
    call(accounts.revokeKey(request.params.id)),
  );
};
