import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type ConnectionOptions,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy, type DataConverter } from '@temporalio/common';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { CancelResult, MessageOutcome, MessagePolicy, RouteChooser } from '../domain/message';
import { acceptedSearchAttributes, SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { isFinalStatus, type MessageStatus } from '../domain/status';
import { cancelUpdate, messageWorkflow, statusQuery } from '../workflows';
import { mapConcurrently } from '../concurrency';
import { FinalStatusTimeoutError, MessageConflictError, MessageNotFoundError } from './errors';
import {
  conflictingField,
  DEFAULT_MESSAGE_POLICY,
  DEFAULT_SEND_LIMITS,
  fingerprintOf,
  prepareBatch,
  prepareMessage,
  type BatchInput,
  type MessageInput,
  type PreparedMessage,
  type RejectedRecipient,
  type RequestContext,
  type RequestFingerprint,
  type SendLimits,
} from './request';

/** What `send` answers for a message Temporal has taken. */
export interface AcceptedMessage {
  readonly id: string;
  /** The number in E.164. */
  readonly to: string;
  readonly status: 'accepted' | 'scheduled';
  /** The client reference was seen before: this is the existing message, not a new one. */
  readonly duplicate?: true;
}

/** What `sendBatch` answers: the messages started (or found again) and the recipients not sent to. */
export interface BatchResult {
  readonly messages: readonly AcceptedMessage[];
  readonly errors: readonly RejectedRecipient[];
}

/** Where a message stands. */
export interface MessageStatusView {
  readonly id: string;
  readonly status: MessageStatus;
  /** True once the status will not change again (a late DLR may still annotate `unknown`). */
  readonly final: boolean;
  readonly providerId?: string;
  readonly providerMessageId?: string;
  readonly errorCode?: string;
  readonly reason?: string;
}

/** A message some store remembers (the REST API's PostgreSQL), for references Temporal may have forgotten. */
export interface KnownMessage {
  readonly id: string;
  readonly clientRef: string | null;
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly callbackUrl: string | null;
  readonly sendAt: Date | null;
}

/** Looks up an account's messages by client reference. */
export type KnownMessageLookup = (accountId: string, clientRefs: readonly string[]) => Promise<readonly KnownMessage[]>;

/** How an SmsRouterClient sends: limits, policy and where else to look for known client references. */
export interface SendSettings {
  /** Defaults to the deployment defaults (10 parts, 1000 recipients). */
  readonly limits?: Partial<SendLimits>;
  /** Defaults to the deployment defaults (1 resend, callbacks retried for a day). */
  readonly policy?: Partial<MessagePolicy>;
  /**
   * Consulted before starting messages with a client reference: Temporal forgets a finished
   * workflow after the namespace's retention period, a database does not.
   */
  readonly knownMessages?: KnownMessageLookup;
  /**
   * Picks a message's first route when it is accepted, for a starter that holds the route table
   * (the REST API): its workflow then submits without a routing step, one history event and local
   * activity fewer (MessageRequest.route). Without it, or when it finds none, the workflow routes.
   */
  readonly routeAtAcceptance?: RouteChooser;
}

/** `new SmsRouterClient(...)` around an existing Temporal client. */
export interface SmsRouterClientOptions extends SendSettings {
  /** A Temporal client for the namespace the router's workers poll. */
  readonly client: Client;
  /** The account every message is sent as; it must exist in the router's database. */
  readonly accountId: string;
}

/** `SmsRouterClient.connect(...)`: the SDK opens (and `close()` closes) its own connection. */
export interface SmsRouterConnectOptions extends SendSettings {
  /** Temporal frontend, `host:port`. */
  readonly address: string;
  /** Defaults to `default`. */
  readonly namespace?: string;
  readonly accountId: string;
  readonly tls?: ConnectionOptions['tls'];
  /** Temporal Cloud API key. */
  readonly apiKey?: ConnectionOptions['apiKey'];
  /**
   * Must match the router's workers: with PAYLOAD_ENCRYPTION_KEY set there, pass
   * `payloadDataConverter(parsePayloadKeys(key))` from `smsrouter/client`.
   */
  readonly dataConverter?: DataConverter;
}

/** `waitForFinal` options. */
export interface WaitOptions {
  /** Defaults to 60 s. */
  readonly timeoutMs?: number;
}

/** `watch` options. */
export interface WatchOptions {
  /** How often the message is asked for its status; defaults to 250 ms. */
  readonly pollIntervalMs?: number;
}

/** The memo key holding a message's request fingerprint. */
export const FINGERPRINT_MEMO = 'smsrouterRequestFingerprint';

/** Concurrent starts, a bounded number at a time so a large batch does not flood the frontend. */
const START_CONCURRENCY = 64;

const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_POLL_MS = 250;

type StartOutcome = { readonly accepted: AcceptedMessage } | { readonly conflict: MessageConflictError };

/**
 * Sends SMS through smsrouter by starting its message workflows directly on Temporal: the one
 * place that validates, normalises and names a message, shared with the REST API and the CLI.
 * Whoever holds access to the Temporal namespace is trusted to send as the account it names.
 */
export class SmsRouterClient {
  /** The Temporal client underneath. */
  readonly temporal: Client;
  /** The account every message is sent as. */
  readonly accountId: string;
  private readonly limits: SendLimits;
  private readonly policy: MessagePolicy;
  private readonly knownMessages: KnownMessageLookup | undefined;
  private readonly routeAtAcceptance: RouteChooser | undefined;
  private readonly ownedConnection: Connection | undefined;

  /**
   * Wraps an existing Temporal client; `ownedConnection` is one this client closes on `close()`
   * (what `connect` passes).
   */
  constructor(options: SmsRouterClientOptions, ownedConnection?: Connection) {
    if (typeof options.accountId !== 'string' || options.accountId.length === 0) throw new TypeError('accountId must be a non-empty string');
    this.temporal = options.client;
    this.accountId = options.accountId;
    this.limits = { ...DEFAULT_SEND_LIMITS, ...options.limits };
    this.policy = { ...DEFAULT_MESSAGE_POLICY, ...options.policy };
    this.knownMessages = options.knownMessages;
    this.routeAtAcceptance = options.routeAtAcceptance;
    this.ownedConnection = ownedConnection;
  }

  /** Connects to Temporal; `close()` closes the connection again. */
  static async connect(options: SmsRouterConnectOptions): Promise<SmsRouterClient> {
    const { address, namespace = 'default', tls, apiKey, dataConverter, ...rest } = options;
    const connection = await Connection.connect({ address, tls, apiKey });
    return new SmsRouterClient({ ...rest, client: new Client({ connection, namespace, dataConverter }) }, connection);
  }

  /** Closes the connection `connect` opened; a client passed in is left open for its owner. */
  async close(): Promise<void> {
    await this.ownedConnection?.close();
  }

  /**
   * Sends one message. Throws InvalidMessageError (nothing started) or MessageConflictError (its
   * clientRef names a different message); the same request again answers the same message with
   * `duplicate: true`.
   */
  async send(message: MessageInput): Promise<AcceptedMessage> {
    const [outcome] = await this.startAll([prepareMessage(message, this.context())]);
    if (!outcome) throw new Error('no outcome for the message');
    if ('conflict' in outcome) throw outcome.conflict;
    return outcome.accepted;
  }

  /**
   * Sends the same content to many numbers. Invalid content throws InvalidMessageError and starts
   * nothing; invalid numbers, and recipients whose clientRef names a different message, are listed
   * in `errors` while the others are sent.
   */
  async sendBatch(batch: BatchInput): Promise<BatchResult> {
    const prepared = prepareBatch(batch, this.context());
    const outcomes = await this.startAll(prepared.messages);
    const messages: AcceptedMessage[] = [];
    const errors: RejectedRecipient[] = [...prepared.rejected];
    outcomes.forEach((outcome, position) => {
      if ('accepted' in outcome) {
        messages.push(outcome.accepted);
        return;
      }
      const message = prepared.messages[position];
      const { field, message: text } = outcome.conflict;
      const index = message?.index ?? position;
      errors.push({ index, to: message?.request.to ?? '', error: { code: 'conflict', message: text, field: field === 'to' ? `recipients[${index}]` : field } });
    });
    errors.sort((a, b) => a.index - b.index);
    return { messages, errors };
  }

  /**
   * Where a message stands, running or finished, as long as Temporal keeps it (finished ones for
   * the namespace's retention period). Throws MessageNotFoundError otherwise, also for another
   * account's message.
   */
  async status(id: string): Promise<MessageStatusView> {
    const { handle, description } = await this.describeOwn(id);
    if (description.status.name === 'RUNNING') {
      const state = await handle.query(statusQuery);
      return { id, status: state.status, final: isFinalStatus(state.status), providerId: state.providerId, providerMessageId: state.providerMessageId };
    }
    return this.finishedView(id, handle, description);
  }

  /** Resolves with the final status; throws FinalStatusTimeoutError after `timeoutMs` (the message goes on). */
  async waitForFinal(id: string, options: WaitOptions = {}): Promise<MessageStatusView> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const { handle, description } = await this.describeOwn(id);
    if (description.status.name !== 'RUNNING') return this.finishedView(id, handle, description);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return viewOf(id, await this.temporal.withAbortSignal(abort.signal, () => handle.result()));
    } catch (error) {
      if (abort.signal.aborted) throw new FinalStatusTimeoutError(id, timeoutMs, (await this.status(id)).status);
      if (error instanceof WorkflowFailedError) return this.finishedView(id, handle, await handle.describe());
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Yields the message's status each time it changes, ending with the final one. It asks every
   * `pollIntervalMs`, so a state that lasts less than that may go unseen; PostgreSQL's
   * MessageEvent rows (`GET /v1/messages/:id`) hold every change.
   */
  async *watch(id: string, options: WatchOptions = {}): AsyncGenerator<MessageStatusView> {
    const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    let last: string | undefined;
    for (;;) {
      const view = await this.status(id);
      const key = `${view.status}/${view.providerId ?? ''}`;
      if (key !== last) {
        last = key;
        yield view;
      }
      if (view.final) return;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Cancels a message that has not reached a provider yet (scheduled, or between retries).
   * `cancelled` says whether it came in time; `status` is where the message stands.
   */
  async cancel(id: string): Promise<CancelResult> {
    const { handle, description } = await this.describeOwn(id);
    if (description.status.name === 'RUNNING') {
      try {
        return await handle.executeUpdate(cancelUpdate);
      } catch (error) {
        // It finished between the two calls.
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }
    return { cancelled: false, status: (await this.finishedView(id, handle, await handle.describe())).status };
  }

  private context(): RequestContext {
    return { accountId: this.accountId, limits: this.limits, policy: this.policy, now: new Date() };
  }

  private async describeOwn(id: string): Promise<{ handle: WorkflowHandle<typeof messageWorkflow>; description: WorkflowExecutionDescription }> {
    const handle = this.temporal.workflow.getHandle<typeof messageWorkflow>(id);
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new MessageNotFoundError(id);
      throw error;
    }
    if (description.type !== 'messageWorkflow' || description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.account) !== this.accountId) {
      throw new MessageNotFoundError(id);
    }
    return { handle, description };
  }

  private async finishedView(id: string, handle: WorkflowHandle<typeof messageWorkflow>, description: WorkflowExecutionDescription): Promise<MessageStatusView> {
    if (description.status.name === 'COMPLETED') return viewOf(id, await handle.result());
    // Terminated or failed by hand (ops): there is no outcome, and the message will not move again.
    return {
      id,
      status: 'unknown',
      final: true,
      errorCode: `workflow_${description.status.name.toLowerCase()}`,
      reason: `the message workflow ended ${description.status.name} without an outcome`,
    };
  }

  private async startAll(messages: readonly PreparedMessage[]): Promise<StartOutcome[]> {
    const known = await this.knownByReference(messages);
    const outcomes = new Array<StartOutcome>(messages.length);
    await mapConcurrently(messages, START_CONCURRENCY, async (message, index) => {
      const existing = message.request.clientRef ? known.get(message.request.clientRef) : undefined;
      outcomes[index] = existing ? this.againstKnown(message, existing) : await this.start(message);
    });
    return outcomes;
  }

  private async knownByReference(messages: readonly PreparedMessage[]): Promise<Map<string, KnownMessage>> {
    const references = messages.flatMap((message) => (message.request.clientRef ? [message.request.clientRef] : []));
    if (!this.knownMessages || references.length === 0) return new Map();
    const known = await this.knownMessages(this.accountId, references);
    return new Map(known.flatMap((message) => (message.clientRef ? [[message.clientRef, message] as const] : [])));
  }

  private againstKnown(message: PreparedMessage, existing: KnownMessage): StartOutcome {
    const stored = fingerprintOf({ to: existing.to, from: existing.from, body: existing.body, callbackUrl: existing.callbackUrl, sendAt: existing.sendAt });
    return this.duplicateOrConflict(message, existing.id, stored);
  }

  private duplicateOrConflict(message: PreparedMessage, existingId: string, stored: RequestFingerprint | undefined): StartOutcome {
    const field = stored ? conflictingField(stored, message.fingerprint) : undefined;
    if (field) return { conflict: new MessageConflictError(existingId, message.request.clientRef ?? '', field === 'to' ? message.toField : field) };
    return { accepted: { id: existingId, to: message.request.to, status: initialStatus(message), duplicate: true } };
  }

  private async start(message: PreparedMessage): Promise<StartOutcome> {
    const { request } = message;
    try {
      await startMessageWorkflow(this.temporal, message, this.routeAtAcceptance);
      return { accepted: { id: request.messageId, to: request.to, status: initialStatus(message) } };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      // The same client reference again, running or finished: the same content is the one message.
      const description = await this.temporal.workflow.getHandle(request.messageId).describe();
      return this.duplicateOrConflict(message, request.messageId, storedFingerprint(description.memo?.[FINGERPRINT_MEMO]));
    }
  }
}

/**
 * Starts a prepared message's workflow; throws WorkflowExecutionAlreadyStartedError when its id
 * ran before. Shared with the campaign activity, which starts the messages of a campaign. With
 * `routeAtAcceptance`, a message sent now carries its first route (MessageRequest.route).
 */
export async function startMessageWorkflow(temporal: Client, message: PreparedMessage, routeAtAcceptance?: RouteChooser): Promise<void> {
  const route = routeAtAcceptance && initialStatus(message) === 'accepted' ? await routeAtAcceptance(message.request) : undefined;
  const request = route ? { ...message.request, route } : message.request;
  await temporal.workflow.start(messageWorkflow, {
    taskQueue: ROUTER_TASK_QUEUE,
    workflowId: request.messageId,
    // A finished message's id is never reused: the same client reference later is still a duplicate.
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [request],
    memo: { [FINGERPRINT_MEMO]: message.fingerprint },
    typedSearchAttributes: acceptedSearchAttributes(request),
  });
}

/** A workflow started before fingerprints existed has none: its reference can only be a duplicate. */
function storedFingerprint(memo: unknown): RequestFingerprint | undefined {
  if (typeof memo !== 'object' || memo === null) return undefined;
  return Object.fromEntries(Object.entries(memo).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function initialStatus(message: PreparedMessage): 'accepted' | 'scheduled' {
  const { sendAt } = message.request;
  return sendAt && Date.parse(sendAt) > Date.now() ? 'scheduled' : 'accepted';
}

function viewOf(id: string, outcome: MessageOutcome): MessageStatusView {
  return { id, final: isFinalStatus(outcome.status), ...outcome };
}
