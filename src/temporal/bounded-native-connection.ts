import { Metadata as GrpcMetadata, status } from '@grpc/grpc-js';
import { Client, type CallContext, type ConnectionLike, type Metadata } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalClient, TemporalClientOptions } from './connect';

/** A failure shaped as the SDK's gRPC errors are (isGrpcServiceError), so callers read it as one. */
export class BoundedCallError extends Error {
  override readonly name = 'BoundedCallError';
  readonly details: string;
  readonly metadata = new GrpcMetadata();

  constructor(
    readonly code: status.DEADLINE_EXCEEDED | status.CANCELLED,
    message: string,
  ) {
    super(message);
    this.details = message;
  }
}

/**
 * A Temporal connection on the SDK's native (Rust) client, with what our grpc-js connections get
 * from their interceptors (src/temporal/connect.ts): a deadline on every call that has none, retries
 * included, and close() ending the calls still in flight. SDK 1.24's NativeConnection passes a
 * deadline to the server but ignores AbortSignals, and its retries may outlast a deadline; so each
 * call also races its deadline, its context's AbortSignal and close() here. A call given up on keeps
 * running in the native client until its own deadline; nothing waits for it.
 */
export class BoundedNativeConnection implements ConnectionLike {
  readonly workflowService: ConnectionLike['workflowService'];
  readonly operatorService: ConnectionLike['operatorService'];
  readonly plugins: ConnectionLike['plugins'] = [];
  private readonly inFlight = new Set<(error: BoundedCallError) => void>();

  constructor(
    private readonly native: NativeConnection,
    private readonly callTimeoutMs: number,
  ) {
    this.workflowService = this.bounded(native.workflowService);
    this.operatorService = this.bounded(native.operatorService);
  }

  ensureConnected(): Promise<void> {
    return this.native.ensureConnected();
  }

  withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> {
    return this.native.withDeadline(deadline, fn);
  }

  withMetadata<R>(metadata: Metadata, fn: () => Promise<R>): Promise<R> {
    return this.native.withMetadata(metadata, fn);
  }

  withAbortSignal<R>(abortSignal: AbortSignal, fn: () => Promise<R>): Promise<R> {
    return this.native.withAbortSignal(abortSignal, fn);
  }

  /** Ends every call in flight as cancelled, then closes the native client. */
  async close(): Promise<void> {
    for (const end of [...this.inFlight]) end(new BoundedCallError(status.CANCELLED, 'Temporal client closing'));
    await this.native.close();
  }

  /** The service with each of its RPC methods bounded: protobufjs makes each one an own function of it, beside its rpcImpl. */
  private bounded<Service extends object>(service: Service): Service {
    const rpcMethods = new Set(
      Object.getOwnPropertyNames(service).filter((name) => name !== 'rpcImpl' && typeof Reflect.get(service, name) === 'function'),
    );
    return new Proxy(service, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof property !== 'string' || !rpcMethods.has(property) || typeof value !== 'function') return value;
        return (...args: unknown[]): Promise<unknown> => this.boundedCall(() => Promise.resolve<unknown>(Reflect.apply(value, target, args)));
      },
    });
  }

  private boundedCall<R>(call: () => Promise<R>): Promise<R> {
    const context: CallContext = this.native.callContextStorage.getStore() ?? {};
    const deadline = context.deadline === undefined ? Date.now() + this.callTimeoutMs : new Date(context.deadline).getTime();
    const abortSignal = context.abortSignal;
    return new Promise<R>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (settle: () => void): void => {
        if (!this.inFlight.delete(cancel)) return;
        clearTimeout(timer);
        abortSignal?.removeEventListener('abort', onAbort);
        settle();
      };
      const cancel = (error: BoundedCallError) => finish(() => reject(error));
      const onAbort = () => cancel(new BoundedCallError(status.CANCELLED, 'Temporal call cancelled'));
      this.inFlight.add(cancel);
      if (abortSignal?.aborted) {
        onAbort();
        return;
      }
      timer = setTimeout(() => cancel(new BoundedCallError(status.DEADLINE_EXCEEDED, 'Temporal call past its deadline')), Math.max(0, deadline - Date.now()));
      abortSignal?.addEventListener('abort', onAbort, { once: true });
      this.native.withDeadline(deadline, call).then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }
}

/**
 * connectTemporalClient's client on the SDK's native (Rust) connection, for a process that runs
 * workers and so has the native runtime (kept out of connect.ts, which the API imports). About 0.4×
 * the CPU per call of grpc-js (203 against 523 µs per signal, measured in the issue 11 note): it
 * counts where the forwarder sends a signal per delivery report. A native connection is its own TCP
 * connection.
 */
export async function connectNativeTemporalClient(options: TemporalClientOptions): Promise<TemporalClient> {
  const connection = new BoundedNativeConnection(await NativeConnection.connect({ address: options.address }), options.callTimeoutMs);
  return {
    client: new Client({ connection, namespace: options.namespace, dataConverter: options.dataConverter }),
    connection,
    close: () => connection.close(),
  };
}
