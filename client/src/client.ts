/**
 * djira client: requests, subscriptions and pushes over Socket.IO.
 *
 * The wire contract is docs/protocol.md; the user guide is docs/client.md.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

/** The verb of a request. */
export type Action = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "SUBSCRIPTION" | "UNSUBSCRIPTION";

/** What happened to the instance a push is about. */
export type PushType = "create" | "update" | "delete";

/** The life cycle of a client's connection. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** Why a request failed: see {@link DjiraError}. */
export type DjiraErrorKind = "reply" | "timeout" | "disconnected" | "refused" | "closed" | "invalid";

/** A reply or a push, as the server sends it. */
export interface Envelope<T = any> {
  status: number;
  event: string;
  namespace?: string | null;
  action?: Action;
  requestId?: string | number;
  data: T;
}

/** A change the server pushes to the rooms a subscription joined. */
export interface Push<T = any> extends Envelope<T> {
  action: "SUBSCRIPTION";
  type: PushType;
  room: string;
}

/** The fields of a request; every one is optional. */
export interface RequestFields {
  /** Route inside the hook; left out, a model hook picks its CRUD route from `action` and `pk`. */
  namespace?: string;
  /** The verb; `GET` when left out. */
  action?: Action;
  /** Lookup value for a detail route. */
  pk?: string | number;
  /** The body, handed to serializers. */
  data?: unknown;
  /** Filters, search, ordering, pagination. */
  query?: Record<string, unknown>;
  /** Free metadata for server middleware. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  /** Milliseconds to wait for the reply, queueing time included; 0 waits for ever. */
  timeout?: number;
}

/** The fields of a subscription: those of a request, with the action fixed to `SUBSCRIPTION`. */
export type SubscribeFields = Omit<RequestFields, "action">;

export interface SubscribeOptions extends RequestOptions {
  /** Called with the server's reply after the first subscription and after each resubscription. */
  onSubscribed?: (reply: Envelope, resubscribed: boolean) => void;
  /** Called when (re)subscribing fails; without it the failure goes to `console.error`. */
  onError?: (error: DjiraError) => void;
}

/** A live subscription, returned by {@link Client.subscribe}. */
export interface Subscription {
  readonly hook: string;
  readonly namespace: string | undefined;
  /** Rooms joined, as named by the last subscription reply. */
  readonly rooms: readonly string[];
  /** False once unsubscribed, closed, or refused by the server. */
  readonly active: boolean;
  /** Settles with the first subscription reply (rejects with a {@link DjiraError}). */
  readonly ready: Promise<Envelope>;
  /** Stops the callbacks and sends `UNSUBSCRIPTION` when connected. */
  unsubscribe(options?: RequestOptions): Promise<void>;
}

/** Why the server (or the network) refused a connection. */
export interface ConnectError {
  message: string;
  /** 401 or 403 when the server refused; 0 when it could not be reached. */
  status: number;
}

export interface StateChange {
  state: ConnectionState;
  /** Socket.IO's disconnect reason, e.g. `"transport close"`. */
  reason?: string;
  error?: ConnectError;
}

export type AuthData = Record<string, unknown>;

export interface ConnectOptions {
  /** Sent with every (re)connection; a function is called each time, e.g. to read a fresh token. */
  auth?: AuthData | ((callback: (data: AuthData) => void) => void);
  /** Default request timeout in milliseconds (10000). */
  requestTimeout?: number;
  /** Socket.IO path on the server ("/socket.io"). */
  path?: string;
  transports?: ("polling" | "websocket" | "webtransport")[];
  /** Delay before the first reconnection attempt, in milliseconds (1000). */
  reconnectionDelay?: number;
  /** Longest delay between reconnection attempts, in milliseconds (5000). */
  reconnectionDelayMax?: number;
  /** Give up after this many attempts (Infinity). */
  reconnectionAttempts?: number;
  withCredentials?: boolean;
  /** Any other Socket.IO client option is passed through. */
  [option: string]: unknown;
}

export type Callback<T> = (value: T) => void;

interface Pending {
  hook: string;
  payload: Record<string, unknown>;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (reply: Envelope) => void;
  reject: (error: DjiraError) => void;
}

const DEFAULT_TIMEOUT = 10_000;

/** A failed request: an error reply (`kind: "reply"`, `status` >= 400) or a client-side failure. */
export class DjiraError<T = any> extends Error {
  /**
   * The reply's status; 408 when no reply came in time (`kind: "timeout"`); the refusal's status
   * (401/403) when the connection was refused; 0 when the connection was lost or closed.
   */
  readonly status: number;
  /** The reply's `data` (DRF's error detail), or `{detail}` for a client-side failure. */
  readonly data: T;
  /** The whole reply, when there was one. */
  readonly envelope: Envelope<T> | null;
  readonly kind: DjiraErrorKind;

  constructor(kind: DjiraErrorKind, status: number, data: T, envelope: Envelope<T> | null = null) {
    super(`${status} ${describe(data)}`);
    this.name = "DjiraError";
    this.kind = kind;
    this.status = status;
    this.data = data;
    this.envelope = envelope;
  }
}

function describe(data: unknown): string {
  if (data && typeof data === "object" && typeof (data as { detail?: unknown }).detail === "string") {
    return (data as { detail: string }).detail;
  }
  try {
    return JSON.stringify(data) ?? String(data);
  } catch {
    return String(data);
  }
}

function failure(kind: DjiraErrorKind, status: number, detail: string): DjiraError<{ detail: string }> {
  return new DjiraError(kind, status, { detail });
}

/** Call a user callback; if it throws, rethrow later so that the other callbacks still run. */
function report<A extends unknown[]>(callback: (...args: A) => void, ...args: A): void {
  try {
    callback(...args);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null && typeof (value as Envelope).status === "number";
}

function roomsOf(data: unknown): string[] {
  const rooms = Array.isArray(data) ? data : (data as { rooms?: unknown } | null)?.rooms;
  return Array.isArray(rooms) ? rooms.filter((room): room is string => typeof room === "string") : [];
}

class LiveSubscription implements Subscription {
  rooms: string[] = [];
  active = true;
  /** Its SUBSCRIPTION request, while queued or in flight. */
  sending: { requestId: string; reply: Promise<unknown> } | null = null;
  subscribed = false;
  readonly ready: Promise<Envelope>;
  settleReady!: { resolve: (reply: Envelope) => void; reject: (error: DjiraError) => void };

  constructor(
    private readonly leave: (subscription: LiveSubscription, options?: RequestOptions) => Promise<void>,
    readonly hook: string,
    readonly fields: SubscribeFields,
    readonly callback: Callback<Push>,
    readonly options: SubscribeOptions,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // Awaiting `ready` is optional: don't let an ignored rejection become an unhandled one.
    this.ready.catch(() => undefined);
  }

  get namespace(): string | undefined {
    return this.fields.namespace;
  }

  unsubscribe(options?: RequestOptions): Promise<void> {
    return this.leave(this, options);
  }
}

/** A connection to a djira server. Create one with {@link connect}. */
export class Client {
  private readonly socket: Socket;
  private readonly timeout: number;
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly listeners = new Map<string, Set<Callback<Envelope>>>();
  private readonly stateListeners = new Set<Callback<StateChange>>();
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private lastId = 0;
  private everConnected = false;
  private closed = false;
  private refusal: ConnectError | null = null;
  private currentState: ConnectionState = "connecting";

  constructor(url?: string, options: ConnectOptions = {}) {
    const { requestTimeout, ...socketOptions } = options;
    this.timeout = requestTimeout ?? DEFAULT_TIMEOUT;
    // Each client owns its connection, so closing one never affects another.
    const settings = { forceNew: true, ...socketOptions } as Partial<ManagerOptions & SocketOptions>;
    this.socket = url === undefined ? io(settings) : io(url, settings);
    this.socket.on("connect", () => this.handleConnect());
    this.socket.on("disconnect", (reason) => this.handleDisconnect(reason));
    this.socket.on("connect_error", (error) => this.handleConnectError(error));
    this.socket.io.on("reconnect_failed", () => {
      this.socket.disconnect(); // inactive from now on, until reconnect()
      this.giveUp("Gave up reconnecting.");
    });
    this.socket.onAny((event: string, message: unknown) => this.handleEvent(event, message));
  }

  /** The connection's current state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /**
   * Send a request and resolve with its reply (status < 400).
   *
   * Rejects with a {@link DjiraError}: the error reply, a timeout (408), a lost connection (0)
   * or a refused one (401/403). A request made while disconnected waits for the connection,
   * within its timeout.
   */
  request<T = any>(hook: string, fields: RequestFields = {}, options: RequestOptions = {}): Promise<Envelope<T>> {
    return this.enqueue<T>(hook, fields, options).reply;
  }

  private enqueue<T>(
    hook: string,
    fields: RequestFields,
    options: RequestOptions,
  ): { requestId: string; reply: Promise<Envelope<T>> } {
    const requestId = `${this.idPrefix}-${++this.lastId}`;
    if (this.closed) return { requestId, reply: Promise.reject(failure("closed", 0, "The client is closed.")) };
    if (!this.socket.active) return { requestId, reply: Promise.reject(this.inactiveError()) };
    const payload: Record<string, unknown> = { action: "GET", requestId };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) payload[key] = value;
    }
    payload.requestId = requestId;
    const timeout = options.timeout ?? this.timeout;
    const reply = new Promise<Envelope<T>>((resolve, reject) => {
      const pending: Pending = { hook, payload, sent: false, timer: undefined, resolve, reject };
      if (timeout > 0) {
        const detail = `No reply to ${hook} ${String(payload.action)} within ${timeout} ms.`;
        pending.timer = setTimeout(() => this.fail(requestId, failure("timeout", 408, detail)), timeout);
      }
      this.pending.set(requestId, pending);
      if (this.socket.connected) this.send(requestId, pending);
    });
    return { requestId, reply };
  }

  /**
   * Subscribe through a route that accepts `SUBSCRIPTION`; `callback` gets each push whose hook,
   * namespace and room match. The subscription is sent again after every reconnection.
   */
  subscribe<T = any>(
    hook: string,
    fields: SubscribeFields,
    callback: Callback<Push<T>>,
    options: SubscribeOptions = {},
  ): Subscription {
    const subscription = new LiveSubscription((s, o) => this.unsubscribe(s, o), hook, fields, callback, options);
    if (this.closed || !this.socket.active) {
      subscription.active = false;
      subscription.settleReady.reject(this.closed ? failure("closed", 0, "The client is closed.") : this.inactiveError());
      return subscription;
    }
    this.subscriptions.add(subscription);
    this.sendSubscription(subscription);
    return subscription;
  }

  /** Listen to every message the server emits on `hook` (pushes included); returns an off function. */
  on<T = any>(hook: string, callback: Callback<Envelope<T>>): () => void {
    let callbacks = this.listeners.get(hook);
    if (!callbacks) this.listeners.set(hook, (callbacks = new Set()));
    const listener = callback as Callback<Envelope>;
    callbacks.add(listener);
    return () => {
      callbacks.delete(listener);
    };
  }

  /** Be told of each connection state change; returns an off function. */
  onState(callback: Callback<StateChange>): () => void {
    this.stateListeners.add(callback);
    return () => {
      this.stateListeners.delete(callback);
    };
  }

  /** Connect again after the server refused or dropped the connection (not after `close()`). */
  reconnect(): void {
    if (this.closed || this.socket.active) return;
    this.refusal = null;
    this.setState({ state: "connecting" });
    this.socket.connect();
  }

  /** Disconnect for good; pending requests reject with status 0 and subscriptions end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.disconnect();
    this.rejectAll(() => failure("closed", 0, "The client is closed."));
    for (const subscription of this.subscriptions) {
      subscription.active = false;
      subscription.settleReady.reject(failure("closed", 0, "The client is closed."));
    }
    this.subscriptions.clear();
    if (defaultClient === this) defaultClient = null;
    this.setState({ state: "disconnected", reason: "io client disconnect" });
  }

  private send(requestId: string, pending: Pending): void {
    pending.sent = true;
    try {
      this.socket.emit(pending.hook, pending.payload, (reply: unknown) => this.settle(requestId, reply));
    } catch (error) {
      // Socket.IO refuses reserved event names ("connect", ...) by throwing.
      this.fail(requestId, failure("invalid", 0, `Cannot send on "${pending.hook}": ${String(error)}`));
    }
  }

  private settle(requestId: string, reply: unknown): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    if (!isEnvelope(reply)) {
      pending.reject(new DjiraError("invalid", 0, { detail: "The reply is not a djira envelope.", reply }));
    } else if (reply.status >= 400) {
      pending.reject(new DjiraError("reply", reply.status, reply.data, reply));
    } else {
      pending.resolve(reply);
    }
  }

  private fail(requestId: string, error: DjiraError): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  private rejectAll(error: () => DjiraError, onlySent = false): void {
    for (const [requestId, pending] of [...this.pending]) {
      if (!onlySent || pending.sent) this.fail(requestId, error());
    }
  }

  private inactiveError(): DjiraError {
    const refusal = this.refusal;
    return refusal
      ? failure("refused", refusal.status, refusal.message)
      : failure("disconnected", 0, "The client is disconnected; call reconnect().");
  }

  private sendSubscription(subscription: LiveSubscription): void {
    const { timeout } = subscription.options;
    const resubscribed = subscription.subscribed;
    const fields = { ...subscription.fields, action: "SUBSCRIPTION" as const };
    const { requestId, reply } = this.enqueue(subscription.hook, fields, { timeout });
    subscription.sending = { requestId, reply };
    reply.then(
      (reply) => {
        subscription.sending = null;
        if (!subscription.active) return;
        subscription.subscribed = true;
        subscription.rooms = roomsOf(reply.data);
        subscription.settleReady.resolve(reply);
        if (subscription.options.onSubscribed) report(subscription.options.onSubscribed, reply, resubscribed);
      },
      (error: DjiraError) => {
        subscription.sending = null;
        if (!subscription.active) return;
        // An error reply ends the subscription; a lost or refused connection or a timeout does
        // not: it is sent again on the next connection.
        if (error.kind === "reply" || error.kind === "invalid") {
          subscription.active = false;
          this.subscriptions.delete(subscription);
        }
        subscription.settleReady.reject(error);
        if (error.kind === "disconnected") return;
        if (subscription.options.onError) report(subscription.options.onError, error);
        else console.error(`djira: subscribing to ${subscription.hook} failed:`, error);
      },
    );
  }

  private async unsubscribe(subscription: LiveSubscription, options: RequestOptions = {}): Promise<void> {
    if (!subscription.active) return;
    subscription.active = false;
    this.subscriptions.delete(subscription);
    subscription.settleReady.reject(failure("closed", 0, "Unsubscribed before the subscription reply."));
    const sending = subscription.sending;
    if (sending && !this.pending.get(sending.requestId)?.sent) {
      // Still queued: it never reached the server, so drop it.
      this.fail(sending.requestId, failure("closed", 0, "Unsubscribed before subscribing."));
      return;
    }
    // The server handles a socket's events concurrently: let the SUBSCRIPTION finish first.
    if (sending) await sending.reply.catch(() => undefined);
    // A new connection starts without rooms: there is nothing to leave until connected again.
    if (!this.socket.connected) return;
    await this.request(subscription.hook, { ...subscription.fields, action: "UNSUBSCRIPTION" }, options);
  }

  private handleConnect(): void {
    this.everConnected = true;
    this.refusal = null;
    // The server forgot this socket's rooms: subscribe again, before sending queued requests
    // so that pushes caused by them find the subscriptions.
    for (const subscription of [...this.subscriptions]) {
      if (!subscription.sending) this.sendSubscription(subscription);
    }
    for (const [requestId, pending] of this.pending) {
      if (!pending.sent) this.send(requestId, pending);
    }
    this.setState({ state: "connected" });
  }

  private handleDisconnect(reason: string): void {
    if (this.closed) return;
    // A request in flight may or may not have been applied: never resend it, fail it.
    this.rejectAll(() => failure("disconnected", 0, `Connection lost (${reason}) before the reply.`), true);
    if (this.socket.active) this.setState({ state: "reconnecting", reason });
    else this.giveUp(`The server closed the connection (${reason}).`, reason);
  }

  private handleConnectError(error: Error & { data?: unknown }): void {
    if (this.closed) return;
    const data = (error.data ?? {}) as { message?: unknown; status?: unknown };
    const refusal: ConnectError = {
      message: typeof data.message === "string" ? data.message : error.message,
      status: typeof data.status === "number" ? data.status : 0,
    };
    if (this.socket.active) {
      // The network failed; Socket.IO keeps trying.
      this.setState({ state: this.everConnected ? "reconnecting" : "connecting", error: refusal });
    } else {
      // The server refused the connection; Socket.IO won't retry on its own.
      this.refusal = refusal;
      this.giveUp(refusal.message, undefined, refusal);
    }
  }

  private giveUp(detail: string, reason?: string, error?: ConnectError): void {
    this.rejectAll(() => (error ? failure("refused", error.status, detail) : failure("disconnected", 0, detail)));
    this.setState({ state: "disconnected", reason, error });
  }

  private handleEvent(event: string, message: unknown): void {
    if (!isEnvelope(message)) return;
    // A reply the server emitted instead of acknowledging: it is not a push.
    if (message.requestId !== undefined && this.pending.has(String(message.requestId))) return;
    for (const callback of [...(this.listeners.get(event) ?? [])]) report(callback, message);
    if (message.action !== "SUBSCRIPTION" || typeof (message as Push).type !== "string") return;
    const push = message as Push;
    for (const subscription of [...this.subscriptions]) {
      if (subscription.hook !== event || !subscription.active) continue;
      if (subscription.namespace !== undefined && subscription.namespace !== (push.namespace ?? undefined)) continue;
      if (subscription.rooms.length > 0 && !subscription.rooms.includes(push.room)) continue;
      report(subscription.callback, push);
    }
  }

  private setState(change: StateChange): void {
    this.currentState = change.state;
    for (const callback of [...this.stateListeners]) report(callback, change);
  }
}

let defaultClient: Client | null = null;

/**
 * Open a connection; the first client opened becomes the default one that the module-level
 * functions use.
 *
 * @param url Server URL; the page's origin when left out.
 */
export function connect(url?: string, options?: ConnectOptions): Client;
export function connect(options?: ConnectOptions): Client;
export function connect(urlOrOptions?: string | ConnectOptions, options: ConnectOptions = {}): Client {
  const client =
    typeof urlOrOptions === "string" ? new Client(urlOrOptions, options) : new Client(undefined, urlOrOptions ?? options);
  defaultClient ??= client;
  return client;
}

/** The default client, connected to the page's origin on first use. */
export function getClient(): Client {
  return defaultClient ?? connect();
}

/** {@link Client.request} on the default client. */
export function request<T = any>(hook: string, fields?: RequestFields, options?: RequestOptions): Promise<Envelope<T>> {
  return getClient().request<T>(hook, fields, options);
}

/** {@link Client.subscribe} on the default client. */
export function subscribe<T = any>(
  hook: string,
  fields: SubscribeFields,
  callback: Callback<Push<T>>,
  options?: SubscribeOptions,
): Subscription {
  return getClient().subscribe<T>(hook, fields, callback, options);
}

/** {@link Client.on} on the default client. */
export function on<T = any>(hook: string, callback: Callback<Envelope<T>>): () => void {
  return getClient().on<T>(hook, callback);
}

/** {@link Client.onState} on the default client. */
export function onState(callback: Callback<StateChange>): () => void {
  return getClient().onState(callback);
}

/** Close the default client, if there is one; the next module-level call opens a new one. */
export function close(): void {
  defaultClient?.close();
}
