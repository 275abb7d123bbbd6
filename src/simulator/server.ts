import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import { countSegments } from '../domain/encoding';
import type { Credentials, HttpResponse } from '../providers/types';
import { dialectFor, inboundDialectFor } from './dialects';
import type { OutgoingCallback, SimulatedFailure, SimulatedInbound, SimulatedInboundPart, SimulatedOutcome, SimulatedSubmit, SimulatorRequest } from './dialects/types';

/** How one simulated provider behaves; every field can be changed while the simulator runs. */
export interface SimulatedProviderBehaviour {
  /** How long the provider takes to answer a submit (throttling answers come at once). */
  latencyMs: number;
  /** Delay between accepting a submit and calling the DLR webhook. */
  dlrDelayMs: number;
  /** Relative weights of the final outcomes reported in DLRs. */
  outcomes: Partial<Record<SimulatedOutcome, number>>;
  /** Send an `enroute` DLR before the final one. */
  intermediateReport: boolean;
  /** Send the DLRs of a message in reverse order (the final one first), as providers sometimes do. */
  reportsOutOfOrder: boolean;
  /** Send every DLR this many times (duplicates, as real providers do). */
  reportCopies: number;
  /** Hard throughput limit; a submit over it gets the format's throttling answer. 0 = none. */
  tpsLimit: number;
  /** Answer the next N submits with this failure, without accepting them. */
  failNext: { failure: SimulatedFailure; count: number } | undefined;
  /** Accept the next N submits, then drop the connection before answering. */
  dropNextAfterAccept: number;
  retryAfterSeconds: number;
  /**
   * How long a DLR the router did not take (no answer, 5xx, 429) is sent again, as real providers
   * do (GatewayAPI for 24 h): backing off from 250 ms to 5 s. 0 sends each report once.
   */
  callbackRetryForMs: number;
}

export interface SimulatedProviderOptions {
  /** Mount point: the provider's base URL is `<simulator url>/<name>`. */
  readonly name: string;
  /** Wire format, one of src/simulator/dialects. */
  readonly dialect: string;
  /** The credentials the router holds for this provider; used to sign DLRs. */
  readonly credentials: Credentials;
  readonly behaviour?: Partial<SimulatedProviderBehaviour>;
}

export interface SimulatorOptions {
  readonly host?: string;
  readonly port?: number;
  readonly providers: readonly SimulatedProviderOptions[];
}

/** How the simulator answered a submit: accepted, accepted then connection dropped, or failed. */
export type SubmitAnswer = 'accepted' | 'dropped' | SimulatedFailure;

export interface ReceivedSubmit {
  readonly provider: string;
  readonly outcome: SubmitAnswer;
  /** Empty unless the provider took the message. */
  readonly providerMessageIds: readonly string[];
  readonly submit: SimulatedSubmit;
  readonly receivedAt: number;
  /** When the answer left; unset while the simulator is still holding it. */
  answeredAt?: number;
}

export interface SentCallback {
  readonly provider: string;
  readonly providerMessageId: string;
  readonly outcome: SimulatedOutcome | 'enroute';
  /** The last try's answer; undefined when the router could not be reached. */
  readonly statusCode: number | undefined;
  /** When the first try left. */
  readonly sentAt: number;
  /** Of the last try. */
  readonly latencyMs: number;
  readonly tries: number;
}

const DEFAULT_BEHAVIOUR: SimulatedProviderBehaviour = {
  latencyMs: 0,
  dlrDelayMs: 200,
  outcomes: { delivered: 1 },
  intermediateReport: false,
  reportsOutOfOrder: false,
  reportCopies: 1,
  tpsLimit: 0,
  failNext: undefined,
  dropNextAfterAccept: 0,
  retryAfterSeconds: 1,
  callbackRetryForMs: 120_000,
};

const CALLBACK_RETRY_FIRST_MS = 250;
const CALLBACK_RETRY_MAX_MS = 5_000;

/** What a provider retries: the router was unreachable, failed, or asked it to slow down. */
function callbackWorthRetrying(statusCode: number | undefined): boolean {
  return statusCode === undefined || statusCode >= 500 || statusCode === 429;
}

interface SimulatedProvider {
  readonly options: SimulatedProviderOptions;
  behaviour: SimulatedProviderBehaviour;
  /** Token bucket of the TPS limit: tokens left, and when it was last refilled. */
  readonly bucket: { tokens: number; refilledAt: number };
}

/**
 * A real HTTP server that plays several SMS providers, each in its own wire format, for the demo,
 * the tests and the benchmark. It records every submit so a test can prove nothing was lost or sent
 * twice, and every DLR it called back.
 */
export class ProviderSimulator {
  /** Every submit that reached a provider's endpoint, whatever the answer. */
  readonly received: ReceivedSubmit[] = [];
  readonly callbacks: SentCallback[] = [];
  private readonly providers = new Map<string, SimulatedProvider>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly pendingCallbacks = new Set<Promise<void>>();
  private server: Server | undefined;
  private nextId = 1;

  constructor(private readonly options: SimulatorOptions) {
    for (const provider of options.providers) this.addProvider(provider);
  }

  addProvider(options: SimulatedProviderOptions): void {
    dialectFor(options.dialect);
    this.providers.set(options.name, {
      options,
      behaviour: { ...DEFAULT_BEHAVIOUR, ...options.behaviour },
      bucket: { tokens: Number.POSITIVE_INFINITY, refilledAt: Date.now() },
    });
  }

  configure(provider: string, behaviour: Partial<SimulatedProviderBehaviour>): void {
    const entry = this.providerNamed(provider);
    entry.behaviour = { ...entry.behaviour, ...behaviour };
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
    server.keepAliveTimeout = 60_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('simulator is not listening');
    return `http://${address.address}:${address.port}`;
  }

  baseUrlOf(provider: string): string {
    return `${this.url}/${this.providerNamed(provider).options.name}`;
  }

  /** Submits that carried this client reference (our message id), over all providers, any answer. */
  submitsFor(reference: string): ReceivedSubmit[] {
    return this.received.filter((entry) => entry.submit.reference === reference);
  }

  /** Submits the provider took (answered or dropped): what the handset could receive. */
  acceptedFor(reference: string): ReceivedSubmit[] {
    return this.submitsFor(reference).filter((entry) => entry.outcome === 'accepted' || entry.outcome === 'dropped');
  }

  /** Resolves once every DLR already due has been sent and answered. */
  async drainCallbacks(): Promise<void> {
    while (this.pendingCallbacks.size > 0) await Promise.all([...this.pendingCallbacks]);
  }

  async close(): Promise<void> {
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private providerNamed(name: string): SimulatedProvider {
    const provider = this.providers.get(name);
    if (!provider) throw new Error(`simulator has no provider "${name}"`);
    return provider;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const [, mount = '', ...rest] = (req.url ?? '/').split('/');
    if (mount === '_control') return this.handleControl(req.method ?? 'GET', rest.join('/'), rawBody, res);
    const provider = this.providers.get(mount);
    if (!provider) return send(res, 404, { 'content-type': 'text/plain' }, `no simulated provider "${mount}"`);
    const request: SimulatorRequest = {
      method: req.method ?? 'GET',
      path: `/${rest.join('/')}`,
      headers: req.headers,
      rawBody,
    };
    await this.handleSubmit(provider, request, res);
  }

  private async handleSubmit(provider: SimulatedProvider, request: SimulatorRequest, res: ServerResponse): Promise<void> {
    const dialect = dialectFor(provider.options.dialect);
    if (!dialect.isSubmit(request)) return send(res, 404, { 'content-type': 'text/plain' }, 'not a submit endpoint');
    const submit = dialect.parseSubmit(request);
    if (!submit) return send(res, 400, { 'content-type': 'text/plain' }, 'malformed submit');
    const behaviour = provider.behaviour;
    const record = (outcome: SubmitAnswer, providerMessageIds: readonly string[] = []): ReceivedSubmit => {
      const entry: ReceivedSubmit = { provider: provider.options.name, outcome, providerMessageIds, submit, receivedAt: Date.now() };
      this.received.push(entry);
      return entry;
    };

    if (this.overLimit(provider)) {
      record('throttled');
      return sendResponse(res, dialect.failureResponse('throttled', behaviour.retryAfterSeconds));
    }
    if (behaviour.failNext && behaviour.failNext.count > 0) {
      const { failure, count } = behaviour.failNext;
      behaviour.failNext = count > 1 ? { failure, count: count - 1 } : undefined;
      const entry = record(failure);
      if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
      entry.answeredAt = Date.now();
      return sendResponse(res, dialect.failureResponse(failure, behaviour.retryAfterSeconds));
    }

    const parts = dialect.idPerPart ? Math.max(1, countSegments(submit.body).segments) : 1;
    const providerMessageIds = Array.from({ length: parts }, () => this.newProviderMessageId());
    const drop = behaviour.dropNextAfterAccept > 0;
    if (drop) behaviour.dropNextAfterAccept -= 1;
    const entry = record(drop ? 'dropped' : 'accepted', providerMessageIds);
    this.scheduleReports(provider, submit, providerMessageIds);
    // Latency comes after acceptance, as with a real provider: its DLR can overtake its answer.
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
    entry.answeredAt = Date.now();
    if (drop) {
      res.socket?.destroy();
      return;
    }
    sendResponse(res, dialect.acceptedResponse(submit, providerMessageIds));
  }

  /**
   * "N per second" as providers enforce it: a token bucket holding one second of requests,
   * refilled continuously. A burst of N is fine; a sustained rate above N is not.
   */
  private overLimit(provider: SimulatedProvider): boolean {
    const limit = provider.behaviour.tpsLimit;
    if (limit <= 0) return false;
    const now = Date.now();
    const bucket = provider.bucket;
    bucket.tokens = Math.min(limit, bucket.tokens + ((now - bucket.refilledAt) * limit) / 1000);
    bucket.refilledAt = now;
    if (bucket.tokens < 1) return true;
    bucket.tokens -= 1;
    return false;
  }

  private newProviderMessageId(): string {
    const id = `sim-${this.nextId.toString(36)}-${randomUUID().slice(0, 8)}`;
    this.nextId += 1;
    return id;
  }

  private scheduleReports(provider: SimulatedProvider, submit: SimulatedSubmit, providerMessageIds: readonly string[]): void {
    const callbackUrl = submit.callbackUrl;
    if (!callbackUrl) return;
    const { behaviour } = provider;
    const outcome = pickOutcome(behaviour.outcomes);
    const inOrder: (SimulatedOutcome | 'enroute')[] = behaviour.intermediateReport ? ['enroute', outcome] : [outcome];
    const sequence = behaviour.reportsOutOfOrder ? inOrder.reverse() : inOrder;
    const timer = setTimeout(() => {
      this.pendingTimers.delete(timer);
      const done = this.sendReports(provider, submit, providerMessageIds, sequence, callbackUrl, behaviour.reportCopies);
      this.pendingCallbacks.add(done);
      void done.finally(() => this.pendingCallbacks.delete(done));
    }, behaviour.dlrDelayMs);
    this.pendingTimers.add(timer);
  }

  private async sendReports(
    provider: SimulatedProvider,
    submit: SimulatedSubmit,
    providerMessageIds: readonly string[],
    sequence: readonly (SimulatedOutcome | 'enroute')[],
    callbackUrl: string,
    copies: number,
  ): Promise<void> {
    const dialect = dialectFor(provider.options.dialect);
    for (const outcome of sequence) {
      for (const providerMessageId of providerMessageIds) {
        for (let copy = 0; copy < copies; copy += 1) {
          const callback = dialect.deliveryReport(submit, providerMessageId, outcome, callbackUrl, provider.options.credentials);
          const sentAt = Date.now();
          const { statusCode, latencyMs, tries } = await this.callBackUntilTaken(callback, sentAt + provider.behaviour.callbackRetryForMs);
          this.callbacks.push({
            provider: provider.options.name,
            providerMessageId,
            outcome,
            statusCode,
            sentAt,
            latencyMs,
            tries,
          });
        }
      }
    }
  }

  /** Sends one DLR until the router takes it or retryUntil passes, as a provider would. */
  private async callBackUntilTaken(callback: OutgoingCallback, retryUntil: number): Promise<{ statusCode: number | undefined; latencyMs: number; tries: number }> {
    for (let tries = 1, delayMs = CALLBACK_RETRY_FIRST_MS; ; tries += 1, delayMs = Math.min(delayMs * 2, CALLBACK_RETRY_MAX_MS)) {
      const started = performance.now();
      const statusCode = await callBack(callback);
      const latencyMs = performance.now() - started;
      // A closed simulator is a provider gone: it stops retrying.
      if (!callbackWorthRetrying(statusCode) || this.server === undefined || Date.now() + delayMs > retryUntil) return { statusCode, latencyMs, tries };
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /**
   * `POST /_control/<provider>` with a JSON behaviour patch; `GET /_control/stats` for counts;
   * `GET /_control/received` for every submit, so a test can inspect a simulator in another process.
   */
  private handleControl(method: string, path: string, rawBody: string, res: ServerResponse): void {
    if (method === 'GET' && path === 'received') {
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(this.received));
    }
    if (method === 'GET' && path === 'stats') {
      const stats = [...this.providers.keys()].map((name) => ({
        provider: name,
        received: this.received.filter((entry) => entry.provider === name).length,
        accepted: this.received.filter((entry) => entry.provider === name && entry.outcome === 'accepted').length,
        throttled: this.received.filter((entry) => entry.provider === name && entry.outcome === 'throttled').length,
        callbacks: this.callbacks.filter((entry) => entry.provider === name).length,
        behaviour: this.providerNamed(name).behaviour,
      }));
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(stats));
    }
    const inbound = /^([^/]+)\/inbound$/.exec(path);
    if (method === 'POST' && inbound?.[1] && this.providers.has(inbound[1])) {
      return void this.sendInboundFromControl(inbound[1], rawBody, res);
    }
    if (method === 'POST' && this.providers.has(path)) {
      try {
        this.configure(path, JSON.parse(rawBody || '{}') as Partial<SimulatedProviderBehaviour>);
      } catch {
        return send(res, 400, { 'content-type': 'text/plain' }, 'behaviour must be JSON');
      }
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(this.providerNamed(path).behaviour));
    }
    send(res, 404, { 'content-type': 'text/plain' }, 'unknown control endpoint');
  }

  /**
   * A handset's SMS to one of the router's numbers, sent to `request.url` in the provider's format
   * and signature: split into `parts` concatenated parts where the format forwards parts (sent in
   * reverse order with `outOfOrder`), else whole. Answers each call's HTTP status.
   */
  async sendInbound(provider: string, request: SimulatedInboundRequest): Promise<SentInbound[]> {
    const simulated = this.providerNamed(provider);
    const dialect = inboundDialectFor(simulated.options.dialect);
    const parts = inboundParts(request.text, dialect.sendsParts ? (request.parts ?? 1) : 1, () => this.newProviderMessageId());
    const sent: SentInbound[] = [];
    for (const part of request.outOfOrder ? [...parts].reverse() : parts) {
      const callback = dialect.inboundCallback(request, part, request.url, simulated.options.credentials);
      let statusCode: number | undefined;
      try {
        const response = await undiciRequest(callback.url, { method: callback.method, headers: callback.headers, body: callback.body });
        statusCode = response.statusCode;
        await response.body.dump();
      } catch {
        statusCode = undefined;
      }
      sent.push({ providerMessageId: part.providerMessageId, statusCode });
    }
    return sent;
  }

  /** `POST /_control/<provider>/inbound` with {"from","to","text","url","parts"?,"outOfOrder"?}. */
  private async sendInboundFromControl(provider: string, rawBody: string, res: ServerResponse): Promise<void> {
    const request = parseInboundRequest(rawBody);
    if (!request) return send(res, 400, { 'content-type': 'text/plain' }, 'expected JSON {"from","to","text","url","parts"?,"outOfOrder"?}');
    const sent = await this.sendInbound(provider, request);
    send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ sent }));
  }
}

export interface SimulatedInboundRequest extends SimulatedInbound {
  /** The router's inbound webhook for this provider with its token, as `GET /v1/admin/providers/:id/webhooks` shows it. */
  readonly url: string;
  readonly parts?: number;
  readonly outOfOrder?: boolean;
}

export interface SentInbound {
  readonly providerMessageId: string;
  /** Undefined when the router could not be reached. */
  readonly statusCode: number | undefined;
}

function parseInboundRequest(rawBody: string): SimulatedInboundRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(rawBody || '{}');
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { from, to, text, url, parts, outOfOrder } = value as Record<string, unknown>;
  if (typeof from !== 'string' || typeof to !== 'string' || typeof text !== 'string' || typeof url !== 'string' || !URL.canParse(url)) return undefined;
  if (parts !== undefined && !(Number.isInteger(parts) && Number(parts) >= 1 && Number(parts) <= 10)) return undefined;
  return { from, to, text, url, parts: parts === undefined ? undefined : Number(parts), outOfOrder: outOfOrder === true };
}

/** The text cut into `count` parts of about equal length (by code point), one concat ref for all. */
function inboundParts(text: string, count: number, newId: () => string): SimulatedInboundPart[] {
  const characters = [...text];
  const total = Math.max(1, Math.min(count, characters.length));
  if (total === 1) return [{ providerMessageId: newId(), text }];
  const ref = String(Math.floor(Math.random() * 256));
  const cut = (index: number) => Math.floor((index * characters.length) / total);
  return Array.from({ length: total }, (_, index) => ({
    providerMessageId: newId(),
    text: characters.slice(cut(index), cut(index + 1)).join(''),
    concat: { ref, total, part: index + 1 },
  }));
}

function pickOutcome(weights: Partial<Record<SimulatedOutcome, number>>): SimulatedOutcome {
  const entries = Object.entries(weights) as [SimulatedOutcome, number][];
  const total = entries.reduce((sum, [, weight]) => sum + Math.max(0, weight), 0);
  let draw = Math.random() * total;
  for (const [outcome, weight] of entries) {
    draw -= Math.max(0, weight);
    if (draw < 0) return outcome;
  }
  return entries[0]?.[0] ?? 'delivered';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** One try of a DLR callback: the router's status code, or undefined when it could not be reached. */
async function callBack(callback: OutgoingCallback): Promise<number | undefined> {
  try {
    const response = await undiciRequest(callback.url, { method: callback.method, headers: callback.headers, body: callback.body });
    await response.body.dump();
    return response.statusCode;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, statusCode: number, headers: OutgoingHttpHeaders, body: string): void {
  res.writeHead(statusCode, headers);
  res.end(body);
}

function sendResponse(res: ServerResponse, response: HttpResponse): void {
  send(res, response.statusCode, { ...response.headers }, response.body);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
