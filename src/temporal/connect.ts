import { InterceptingCall, ListenerBuilder, RequesterBuilder, status, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionLike } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { payloadDataConverter } from '../codec';
import type { Config } from '../config';

export interface TemporalClientOptions {
  readonly address: string;
  readonly namespace: string;
  /** Longest any one call may take, its retries included, unless the caller sets a shorter deadline. */
  readonly callTimeoutMs: number;
  /** How payloads are encoded (encrypted when PAYLOAD_ENCRYPTION_KEY is set); Temporal's default otherwise. */
  readonly dataConverter?: DataConverter;
}

/** A client of the router's namespace as the configuration describes it. */
export function temporalClientOptionsFrom(config: Config): TemporalClientOptions {
  return {
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
    callTimeoutMs: config.TEMPORAL_CALL_TIMEOUT_SECONDS * 1000,
    dataConverter: payloadDataConverter(config.PAYLOAD_ENCRYPTION_KEY),
  };
}

/** A client on a connection of its own, and the way to close it without leaving calls behind. */
export interface TemporalClient {
  readonly client: Client;
  readonly connection: ConnectionLike;
  /** Cancels the calls still in flight, then closes the connection. */
  close(): Promise<void>;
}

/**
 * A deadline on every call that has none, and each call kept in `inFlight` until it ends. It runs
 * outside the SDK's retry interceptor, so the deadline bounds the call with all its retries: without
 * it, a call whose answer never comes (a frozen HTTP/2 connection, a server that stopped answering)
 * is retried forever.
 */
function deadlineAndTracking(timeoutMs: number, inFlight: Set<InterceptingCall>): Interceptor {
  return (options, nextCall) => {
    const requester = new RequesterBuilder()
      .withStart((metadata, _listener, next) => {
        next(
          metadata,
          new ListenerBuilder()
            .withOnReceiveStatus((callStatus, forward) => {
              inFlight.delete(call);
              forward(callStatus);
            })
            .build(),
        );
      })
      .build();
    const call = new InterceptingCall(nextCall({ ...options, deadline: options.deadline ?? Date.now() + timeoutMs }), requester);
    inFlight.add(call);
    return call;
  };
}

/**
 * A Temporal client on a connection of its own. gRPC shares one HTTP/2 connection between every
 * channel to the same address with the same options (its global subchannel pool), so two
 * `Connection.connect` calls in one process are one TCP connection underneath, and one stalled call
 * stalls every other user of it. The API's submits and the workers' forwarder each get one of these,
 * so neither can wait behind the other.
 */
export async function connectTemporalClient(options: TemporalClientOptions): Promise<TemporalClient> {
  const inFlight = new Set<InterceptingCall>();
  const connection = await Connection.connect({
    address: options.address,
    channelArgs: { 'grpc.use_local_subchannel_pool': 1 },
    interceptors: [deadlineAndTracking(options.callTimeoutMs, inFlight), makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
  });
  return {
    client: new Client({ connection, namespace: options.namespace, dataConverter: options.dataConverter }),
    connection,
    async close() {
      // Cancelled is final; a call cut off by the closing channel instead would be retried by the
      // SDK on a channel that no longer exists, and throw from a timer.
      for (const call of inFlight) call.cancelWithStatus(status.CANCELLED, 'Temporal client closing');
      inFlight.clear();
      await connection.close();
    },
  };
}
