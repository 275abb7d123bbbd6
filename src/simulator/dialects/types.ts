import type { Credentials, HttpResponse } from '../../providers/types';

/** A submit as the simulator understood it, whatever the wire format. */
export interface SimulatedSubmit {
  readonly to: string;
  readonly from: string;
  readonly body: string;
  /** The client reference the router sent (our message id), when the format has one. */
  readonly reference?: string;
  /** Where to send the DLR; falls back to the simulator's configured default. */
  readonly callbackUrl?: string;
}

/** The request as the simulator's HTTP server received it. */
export interface SimulatorRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: string;
}

/** Failures the simulator can be told to answer with, in each format's own words. */
/** `opted_out`: the recipient sent STOP to the sender, in the dialect's own words where it has any (Twilio 21610). */
export type SimulatedFailure = 'throttled' | 'server_error' | 'invalid_number' | 'auth' | 'opted_out';

/** Final outcomes the simulator can report in a DLR. */
export type SimulatedOutcome = 'delivered' | 'undelivered' | 'expired' | 'rejected';

export interface OutgoingCallback {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * One provider wire format, seen from the provider's side. The simulator uses it to answer the
 * router exactly as the real provider would, and to call the router's DLR webhook back.
 */
export interface SimulatorDialect {
  readonly name: string;
  /** One provider message id per SMS part (Vonage), rather than one per message. */
  readonly idPerPart: boolean;
  /** True when this request is a submit in this format. */
  isSubmit(request: SimulatorRequest): boolean;
  /** Returns undefined when the request is not a valid submit (the simulator answers 400). */
  parseSubmit(request: SimulatorRequest): SimulatedSubmit | undefined;
  acceptedResponse(submit: SimulatedSubmit, providerMessageIds: readonly string[]): HttpResponse;
  failureResponse(failure: SimulatedFailure, retryAfterSeconds: number): HttpResponse;
  /** The signed DLR callback for one provider message id, as the provider would send it. */
  deliveryReport(
    submit: SimulatedSubmit,
    providerMessageId: string,
    outcome: SimulatedOutcome | 'enroute',
    callbackUrl: string,
    credentials: Credentials,
  ): OutgoingCallback;
}

/** An inbound SMS a simulated handset sends to one of the router's numbers. */
export interface SimulatedInbound {
  /** E.164 with '+'. */
  readonly from: string;
  /** E.164 with '+', or short-code digits. */
  readonly to: string;
  readonly text: string;
}

/** One part of a simulated inbound SMS: the whole text unless the format sends concatenated parts. */
export interface SimulatedInboundPart {
  readonly providerMessageId: string;
  readonly text: string;
  /** Set on parts of a concatenated message. */
  readonly concat?: { readonly ref: string; readonly total: number; readonly part: number };
}

/** How a provider calls the router's inbound webhook, in its own format and signature. */
export interface SimulatorInboundDialect {
  /** Vonage and the generic format forward concatenated parts one by one; the others join them first. */
  readonly sendsParts: boolean;
  inboundCallback(sms: SimulatedInbound, part: SimulatedInboundPart, url: string, credentials: Credentials): OutgoingCallback;
}
