import type { DeliveryReportStatus } from '../domain/status';
import type { Encoding } from '../domain/encoding';

/** Secrets of one provider account, read from the environment variable its `credentialsRef` names. */
export type Credentials = Readonly<Record<string, string>>;

/** One SMS as an adapter needs it to build the provider's submit request. */
export interface OutboundSms {
  /** Our message id; sent as the provider's client reference wherever it has one. */
  readonly messageId: string;
  /** E.164 with the leading '+'. */
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly encoding: Encoding;
  /** Absolute URL of our DLR webhook for this provider. */
  readonly deliveryReportUrl: string;
  readonly validitySeconds?: number;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query, appended to the provider's base URL. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/**
 * What a provider's answer to a submit means for the message.
 * - accepted: the provider took it; `providerMessageIds` has one id per SMS part where the provider
 *   returns one per part (Vonage), else exactly one.
 * - transient: not taken, worth retrying on this provider (throttled, 5xx).
 * - permanent: not taken, retrying on this provider cannot help (invalid number, auth, balance).
 */
export type SubmitOutcome =
  | { readonly kind: 'accepted'; readonly providerMessageIds: readonly string[] }
  | { readonly kind: 'transient'; readonly code: string; readonly reason: string; readonly retryAfterMs?: number }
  | {
      readonly kind: 'permanent';
      readonly code: string;
      readonly reason: string;
      /** The provider refuses because the recipient opted out (Twilio 21610): no other provider may send either. */
      readonly recipientOptedOut?: true;
    };

/** A provider's DLR callback exactly as it reached our webhook. */
export interface InboundCallback {
  readonly method: string;
  /** The full URL the provider called, with scheme, host and query string (Twilio signs it). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: string;
}

/** A delivery report once its adapter parsed and mapped it. */
export interface DeliveryReport {
  /** Our message id when the provider echoed our reference. */
  readonly messageId?: string;
  readonly providerMessageId: string;
  readonly status: DeliveryReportStatus;
  /** The provider's own status word, kept for the event log. */
  readonly providerStatus: string;
  readonly errorCode?: string;
  readonly errorReason?: string;
  /** True when the error says another route may still reach the handset. */
  readonly retryableOnOtherRoute?: boolean;
  /** ISO 8601; when the provider gives none, the time we received it. */
  readonly occurredAt: string;
}

/** One module per wire format implements this; nothing provider-specific lives elsewhere. */
export interface ProviderAdapter {
  readonly name: string;
  buildSubmitRequest(sms: OutboundSms, credentials: Credentials): HttpRequest;
  classifySubmitResponse(response: HttpResponse): SubmitOutcome;
  /**
   * Authenticates and parses a DLR callback. Throws DeliveryReportAuthError when the caller cannot
   * prove it is the provider, DeliveryReportFormatError when the payload is malformed.
   */
  parseDeliveryReport(callback: InboundCallback, credentials: Credentials): DeliveryReport[];
  /**
   * True when, with these credentials, every DLR and inbound callback must carry the provider's own
   * valid signature: such a callback is authenticated without our token.
   */
  verifiesSignatures(credentials: Credentials): boolean;
}

// ---- Inbound SMS (mobile originated) ----

/** One SMS a handset sent to one of our numbers, once its adapter authenticated and parsed it. */
export interface InboundSms {
  /** The provider's id of this message (of this part, for a concatenated part); the dedupe key. */
  readonly providerMessageId: string;
  /** The handset, E.164 with '+' (or short-code digits). */
  readonly from: string;
  /** Our number or short code it was sent to. */
  readonly to: string;
  /** The text as received; for `binary`, the payload as the provider encodes it (Vonage hex, generic base64). */
  readonly text: string;
  readonly encoding: InboundEncoding;
  /** ISO 8601; when the provider gives none, the time we received it. */
  readonly receivedAt: string;
  /** Present on one part of a concatenated message we must reassemble. */
  readonly concat?: InboundConcatPart;
  /** The provider's own opt-out classification, where it has one (Twilio Advanced Opt-Out). */
  readonly providerOptOut?: 'STOP' | 'START' | 'HELP';
}

export type InboundEncoding = 'gsm7' | 'ucs2' | 'binary';

export interface InboundConcatPart {
  /** Shared by every part of one message from one sender. */
  readonly ref: string;
  readonly total: number;
  /** 1-based. */
  readonly part: number;
}

/** What the provider expects back once we stored its inbound message. */
export interface InboundAcknowledgement {
  readonly statusCode: number;
  readonly contentType?: string;
  readonly body?: string;
}

/** An adapter whose provider can deliver inbound SMS implements this beside ProviderAdapter. */
export interface InboundAdapter {
  /**
   * Authenticates and parses an inbound-message webhook. Throws DeliveryReportAuthError when the
   * caller cannot prove it is the provider (fail closed whenever a secret is configured), and
   * InboundFormatError (or DeliveryReportFormatError from the shared transport parsing) when the
   * payload is malformed or a field is out of bounds.
   */
  parseInbound(callback: InboundCallback, credentials: Credentials): InboundSms[];
  readonly inboundAcknowledgement: InboundAcknowledgement;
}
