import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

export interface TemporalClientOptions {
  readonly address: string;
  readonly namespace: string;
  /** Longest any one call may take, its retries included, unless the caller sets a shorter deadline. */
  readonly callTimeoutMs: number;
}

/**
 * A deadline on every call that has none. It runs outside the SDK's retry interceptor, so it bounds
 * the call with all its retries: without it, a call whose answer never comes (a frozen HTTP/2
 * connection, a server that stopped answering) is retried forever.
 */
function defaultDeadline(timeoutMs: number): Interceptor {
  return (options, nextCall) => new InterceptingCall(nextCall({ ...options, deadline: options.deadline ?? Date.now() + timeoutMs }));
}

/**
 * A Temporal client on a connection of its own. gRPC shares one HTTP/2 connection between every
 * channel to the same address with the same options (its global subchannel pool), so two
 * `Connection.connect` calls in one process are one TCP connection underneath, and one stalled call
 * stalls every other user of it. The API's submits and the workers' background work each get one of
 * these, so neither can wait behind the other.
 */
export async function connectTemporalClient(options: TemporalClientOptions): Promise<Client> {
  const connection = await Connection.connect({
    address: options.address,
    channelArgs: { 'grpc.use_local_subchannel_pool': 1 },
    interceptors: [defaultDeadline(options.callTimeoutMs), makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
  });
  return new Client({ connection, namespace: options.namespace });
}
