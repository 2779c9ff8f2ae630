/**
 * djira client: requests, subscriptions and pushes over Socket.IO.
 *
 * The wire contract is docs/protocol.md; the user guide is docs/client.md.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

/** The verb of a request. */
export type Action = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "SUBSCRIPTION" | "UNSUBSCRIPTION";

/**
 * What happened to the instance a push is about; `join` and `leave` are presence pushes
 * (observers declared with `presence=True`), whose `data` is `{user: PresenceMember}`.
 */
/**
 * `"reset"` is not a change: the server could not number some pushes of the room (its
 * backend was unreachable), so subscribers may have missed them. The client calls
 * {@link SubscribeOptions.onReset} instead of delivering it.
 */
export type PushType = "create" | "update" | "delete" | "join" | "leave" | "reset";

/** A connection's user in presence: both `null` for an anonymous connection. */
export interface PresenceMember {
  id: string | number | null;
  username: string | null;
}

/** A user present in a room, with how many of its connections are subscribed. */
export interface PresenceUser {
  id: string | number;
  username: string;
  connections: number;
}

/** Who is subscribed to a room, on every server (docs/observers.md, "Presence"). */
export interface Presence {
  room: string;
  /** Subscribed connections, anonymous ones included. */
  connections: number;
  /** One entry per signed-in user, sorted by username. */
  users: PresenceUser[];
  /** Anonymous connections. */
  anonymous: number;
}

/** The fields of a presence request: those of a subscription; `namespace` defaults to `"presence"`. */
export type PresenceFields = SubscribeFields;

/** The life cycle of a client's connection. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/**
 * Why a request failed: see {@link DjiraError}. `"reset"` is not a failed request: a
 * resubscription could not recover what was pushed while disconnected (see
 * {@link SubscribeOptions.onReset}).
 */
export type DjiraErrorKind = "reply" | "timeout" | "disconnected" | "refused" | "closed" | "invalid" | "reset";

/**
 * Where a push stands in its room's stream: `offset` grows by one per push to the room, and
 * `epoch` names the stream (a new one when the server's history of the room was lost).
 */
export interface Position {
  epoch: string;
  offset: number;
}

/** A reply or a push, as the server sends it. */
export interface Envelope<T = any> {
  status: number;
  event: string;
  namespace?: string | null;
  action?: Action;
  requestId?: string | number;
  data: T;
  /** True when the reply is the one the server kept for the request's `idempotencyKey`. */
  replayed?: boolean;
  /** In a subscription reply: where each room's stream stands (servers keeping history). */
  positions?: Record<string, Position>;
  /**
   * In the reply to a resubscription sent with the positions last seen: whether every push
   * missed meanwhile was sent again (before this reply). `false`: reload the data.
   */
  recovered?: boolean;
}

/** A change the server pushes to the rooms a subscription joined. */
export interface Push<T = any> extends Envelope<T> {
  action: "SUBSCRIPTION";
  type: PushType;
  room: string;
  /** The push's stream (see {@link Position}); absent when the server keeps no history. */
  epoch?: string;
  /** The push's position in its room's stream. */
  offset?: number;
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
  /**
   * Writes only (`POST`, `PUT`, `PATCH`, `DELETE`): a repeat of the key gets the first
   * request's reply instead of running again (docs/client.md, "Idempotent requests"). The
   * client makes one up for every write; give your own to repeat a write across page loads.
   */
  idempotencyKey?: string;
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
  /**
   * Called when a resubscription (after a reconnection) could not recover the pushes missed
   * meanwhile: the server's history of a room no longer reaches back that far (too many
   * pushes, too old, or the server lost it); or, while connected, when the server says a
   * room's pushes may have been missed (a push of type `"reset"`). Reload the data. Without it, `onError` gets a
   * {@link DjiraError} of kind `"reset"`; without either, `console.warn` says so. When the
   * history reaches back, the missed pushes arrive through the callback, in order, once each,
   * before `onSubscribed(reply, true)` (with `reply.recovered` true).
   */
  onReset?: (reply: Envelope) => void;
  /**
   * Called when (re)subscribing fails; without it the failure goes to `console.error`. After a
   * timeout (`kind: "timeout"`) the subscription is sent again, after 1 s, then 2 s, 4 s... up to 30 s.
   */
  onError?: (error: DjiraError) => void;
}

/**
 * A live subscription, returned by {@link Client.subscribe}.
 *
 * Subscriptions of one client with the same hook and fields share one subscription on the
 * server: `UNSUBSCRIPTION` is sent when the last of them unsubscribes.
 */
export interface Subscription {
  readonly hook: string;
  readonly namespace: string | undefined;
  /** Rooms joined, as named by the last subscription reply; empty until then. */
  readonly rooms: readonly string[];
  /** False once unsubscribed, closed, or refused by the server. */
  readonly active: boolean;
  /** Settles with the first subscription reply (rejects with a {@link DjiraError}). */
  readonly ready: Promise<Envelope>;
  /** Stops the callbacks; sends `UNSUBSCRIPTION` when connected and no sibling shares it. */
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
  /**
   * The W3C `traceparent` of the caller's active span, read as each request is made, so that
   * the server's span of the request is its child (docs/observability.md). Left out, it is
   * read from OpenTelemetry's global API when the page registered a context manager and a
   * propagator (`@opentelemetry/api`, e.g. through a `WebTracerProvider`'s `register()`);
   * `false` sends none.
   */
  traceContext?: (() => string | null | undefined) | false;
  /** Any other Socket.IO client option is passed through. */
  [option: string]: unknown;
}

export type Callback<T> = (value: T) => void;

interface Pending {
  hook: string;
  payload: Record<string, unknown>;
  sent: boolean;
  /** Times left to send it again after a reconnection: writes with an idempotency key only. */
  resends: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (reply: Envelope) => void;
  reject: (error: DjiraError) => void;
}

const DEFAULT_TIMEOUT = 10_000;
/** The verbs that change data: each is sent with an idempotency key. */
const WRITES: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/**
 * A write in flight is sent again after one drop, not more: a write that itself closes the
 * connection (too large for the server) would otherwise be sent again for ever.
 */
const RESENDS = 1;

/** Where `@opentelemetry/api` (major version 1) registers a page's context manager and propagator. */
const OTEL_API = Symbol.for("opentelemetry.js.api.1");

interface OtelGlobal {
  context?: { active(): unknown };
  propagation?: {
    inject(context: unknown, carrier: Record<string, string>, setter: typeof carrierSetter): void;
  };
}

const carrierSetter = {
  set(carrier: Record<string, string>, key: string, value: string): void {
    carrier[key] = value;
  },
};

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The `traceparent` of the active OpenTelemetry span, read through the global registry that
 * `@opentelemetry/api` fills (the client imports nothing of it): `undefined` when the page
 * registered no context manager or propagator, or no span is active.
 */
export function activeTraceparent(): string | undefined {
  const api = (globalThis as Record<symbol, unknown>)[OTEL_API] as OtelGlobal | undefined;
  if (!api?.context || !api.propagation) return undefined;
  const carrier: Record<string, string> = {};
  try {
    api.propagation.inject(api.context.active(), carrier, carrierSetter);
  } catch {
    return undefined; // tracing must never fail a request
  }
  return carrier.traceparent;
}

/**
 * A random (version 4) UUID. `crypto.randomUUID` exists only on secure origins (HTTPS,
 * localhost); `getRandomValues` exists everywhere.
 */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

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

/** JSON with sorted keys: equal fields give equal keys whatever their order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Pushes kept for a subscription whose reply has not come yet (its rooms are unknown). */
const MAX_EARLY_PUSHES = 1000;
const FIRST_RETRY = 1000;
const LAST_RETRY = 30_000;
/** Offsets seen past a gap, per room, before the gap is given up on. */
const MAX_AHEAD = 1000;

/**
 * The pushes of one room seen so far: every offset up to `offset`, and those in `ahead`
 * (past a gap, which a push overtaken by another or a catch-up fills). Sent back as the
 * subscription's `since`, so the server resends from the first one not seen.
 */
class RoomStream {
  readonly ahead = new Set<number>();

  constructor(
    public epoch: string,
    public offset: number,
  ) {}

  /** Whether the push at `offset` of `epoch` is new (and note it); false for a duplicate. */
  accept(epoch: string, offset: number): boolean {
    if (epoch !== this.epoch) {
      // Another stream of the room (the server's history was reset): follow it.
      this.epoch = epoch;
      this.offset = offset;
      this.ahead.clear();
      return true;
    }
    if (offset <= this.offset || this.ahead.has(offset)) return false;
    this.ahead.add(offset);
    this.advance();
    if (this.ahead.size > MAX_AHEAD) {
      // A push that never came: stop waiting for it, so memory stays bounded.
      this.offset = Math.min(...this.ahead);
      this.ahead.delete(this.offset);
      this.advance();
    }
    return true;
  }

  /** At least `offset`: what the server says was before this subscription. */
  reach(offset: number): void {
    if (offset <= this.offset) return;
    this.offset = offset;
    for (const seen of this.ahead) if (seen <= offset) this.ahead.delete(seen);
    this.advance();
  }

  private advance(): void {
    while (this.ahead.delete(this.offset + 1)) this.offset++;
  }
}

function isNumbered(push: Push): push is Push & { epoch: string; offset: number } {
  return typeof push.epoch === "string" && typeof push.offset === "number";
}

/** Pushes in arrival order, except that each room's numbered ones are put in offset order. */
function inStreamOrder(pushes: Push[]): Push[] {
  const byRoom = new Map<string, Push[]>();
  for (const push of pushes) {
    const room = byRoom.get(push.room);
    if (room) room.push(push);
    else byRoom.set(push.room, [push]);
  }
  const ordered: Push[] = [];
  for (const room of byRoom.values()) {
    if (room.every(isNumbered)) room.sort((a, b) => (a.offset as number) - (b.offset as number));
    ordered.push(...room);
  }
  return ordered;
}

/** What the user holds: callbacks and options, sharing a {@link ServerSubscription}. */
class LiveSubscription implements Subscription {
  active = true;
  /** True once one of its subscription replies came (for `onSubscribed`'s `resubscribed`). */
  subscribed = false;
  readonly ready: Promise<Envelope>;
  settleReady!: { resolve: (reply: Envelope) => void; reject: (error: DjiraError) => void };

  constructor(
    readonly shared: ServerSubscription,
    private readonly leave: (subscription: LiveSubscription, options?: RequestOptions) => Promise<void>,
    readonly callback: Callback<Push>,
    readonly options: SubscribeOptions,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // Awaiting `ready` is optional: don't let an ignored rejection become an unhandled one.
    this.ready.catch(() => undefined);
  }

  get hook(): string {
    return this.shared.hook;
  }

  get namespace(): string | undefined {
    return this.shared.fields.namespace;
  }

  get rooms(): readonly string[] {
    return this.shared.rooms;
  }

  unsubscribe(options?: RequestOptions): Promise<void> {
    return this.leave(this, options);
  }
}

/** One subscription on the server (one hook, one set of fields) and the users sharing it. */
class ServerSubscription {
  rooms: string[] = [];
  readonly members = new Set<LiveSubscription>();
  /** Its SUBSCRIPTION request, while queued or in flight. */
  sending: { requestId: string; reply: Promise<unknown> } | null = null;
  /** The last subscription reply, for members joining later. */
  reply: Envelope | null = null;
  /** Pushes that came while the reply was awaited, routed once the rooms are known. */
  early: Push[] = [];
  retryTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  retryDelay = FIRST_RETRY;
  /** Each room's pushes seen, by position: for `since` and to drop duplicates. */
  readonly streams = new Map<string, RoomStream>();

  constructor(
    readonly key: string,
    readonly hook: string,
    readonly fields: SubscribeFields,
    readonly timeout: number | undefined,
  ) {}

  /** Whether `push` is for this subscription: its hook, its route and one of its rooms. */
  concerns(event: string, push: Push): boolean {
    return event === this.hook && (this.fields.namespace ?? null) === (push.namespace ?? null);
  }

  /** Deliver `push` to the members; false if it was not delivered (not ours, or seen). */
  deliver(push: Push): boolean {
    if (!this.rooms.includes(push.room)) return false;
    if (isNumbered(push)) {
      const stream = this.streams.get(push.room);
      if (!stream) this.streams.set(push.room, new RoomStream(push.epoch, push.offset));
      else if (!stream.accept(push.epoch, push.offset)) return false; // seen: sent twice around a catch-up
    }
    if (push.type === "reset") return true; // the caller tells the members to reload
    for (const member of [...this.members]) {
      if (member.active) report(member.callback, push);
    }
    return true;
  }

  /** The positions to resubscribe with: the last push seen of each room. */
  since(): Record<string, Position> | undefined {
    if (this.streams.size === 0) return undefined;
    const since: Record<string, Position> = {};
    for (const [room, stream] of this.streams) since[room] = { epoch: stream.epoch, offset: stream.offset };
    return since;
  }

  /**
   * Take a subscription reply's positions, and deliver the pushes that came before it (the
   * missed ones first: they were sent before the reply). Returns whether pushes were lost:
   * sent `since` and the server could not recover every room.
   */
  settle(reply: Envelope, since: Record<string, Position> | undefined, early: Push[]): boolean {
    const positions = reply.positions;
    if (!positions) {
      // No history on the server (now, or reachable): no positions to keep.
      this.streams.clear();
      for (const push of early) this.deliver(push);
      return since !== undefined && reply.recovered === false;
    }
    const lost = since !== undefined && reply.recovered !== true;
    for (const room of [...this.streams.keys()]) {
      if (!(room in positions)) this.streams.delete(room);
    }
    for (const [room, position] of Object.entries(positions)) {
      const stream = this.streams.get(room);
      if (stream && !lost && stream.epoch === position.epoch) continue;
      // A room new to this subscription, or one whose missed pushes are gone: start at the
      // reply's position, but keep pushes that came with the reply (and may be newer than
      // what the app loaded).
      const first = early.filter((p) => p.room === room && isNumbered(p) && p.epoch === position.epoch);
      const start = Math.min(position.offset, ...first.map((p) => (p.offset as number) - 1));
      this.streams.set(room, new RoomStream(position.epoch, start));
    }
    for (const push of inStreamOrder(early)) this.deliver(push);
    for (const [room, position] of Object.entries(positions)) {
      const stream = this.streams.get(room);
      if (stream && stream.epoch === position.epoch) stream.reach(position.offset);
    }
    return lost;
  }
}

/** A connection to a djira server. Create one with {@link connect}. */
export class Client {
  private readonly socket: Socket;
  private readonly timeout: number;
  private readonly traceContext: (() => string | null | undefined) | null;
  private readonly pending = new Map<string, Pending>();
  /** Server subscriptions by hook and fields; each shared by one or more user subscriptions. */
  private readonly subscriptions = new Map<string, ServerSubscription>();
  /** UNSUBSCRIPTIONs in flight by key: subscribing the same again waits for them. */
  private readonly leaving = new Map<string, Promise<unknown>>();
  private readonly listeners = new Map<string, Set<Callback<Envelope>>>();
  private readonly stateListeners = new Set<Callback<StateChange>>();
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private lastId = 0;
  private everConnected = false;
  private closed = false;
  private refusal: ConnectError | null = null;
  private currentState: ConnectionState = "connecting";

  constructor(url?: string, options: ConnectOptions = {}) {
    const { requestTimeout, traceContext, ...socketOptions } = options;
    this.timeout = requestTimeout ?? DEFAULT_TIMEOUT;
    this.traceContext = traceContext === false ? null : (traceContext ?? activeTraceparent);
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
    // Read now, in the caller's context (a request's span is active where it is made).
    const traceparent = this.readTraceparent();
    if (traceparent !== undefined) payload.traceparent = traceparent;
    const write = WRITES.has(String(payload.action).toUpperCase());
    if (write && payload.idempotencyKey === undefined) payload.idempotencyKey = newIdempotencyKey();
    const resends = write && typeof payload.idempotencyKey === "string" ? RESENDS : 0;
    const timeout = options.timeout ?? this.timeout;
    const reply = new Promise<Envelope<T>>((resolve, reject) => {
      const pending: Pending = { hook, payload, sent: false, resends, timer: undefined, resolve, reject };
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
   * namespace and room match. The subscription is sent again after every reconnection, and after
   * a timeout. Subscribing again with the same hook and fields shares the server subscription.
   */
  subscribe<T = any>(
    hook: string,
    fields: SubscribeFields,
    callback: Callback<Push<T>>,
    options: SubscribeOptions = {},
  ): Subscription {
    // What the server identifies a subscription by (headers are not part of it).
    const { namespace, pk, query, data } = fields;
    const key = `${hook}\u0000${canonical({ namespace, pk, query, data })}`;
    let shared = this.subscriptions.get(key);
    const created = !shared;
    shared ??= new ServerSubscription(key, hook, { ...fields }, options.timeout);
    const subscription = new LiveSubscription(shared, (s, o) => this.unsubscribe(s, o), callback as Callback<Push>, options);
    if (this.closed || !this.socket.active) {
      subscription.active = false;
      subscription.settleReady.reject(this.closed ? failure("closed", 0, "The client is closed.") : this.inactiveError());
      return subscription;
    }
    shared.members.add(subscription);
    if (created) {
      this.subscriptions.set(key, shared);
      this.sendSubscription(shared);
    } else if (shared.reply && !shared.sending) {
      // Already subscribed on the server: share its reply.
      const reply = shared.reply;
      subscription.subscribed = true;
      subscription.settleReady.resolve(reply);
      const { onSubscribed } = options;
      if (onSubscribed) queueMicrotask(() => subscription.active && report(onSubscribed, reply, false));
    }
    return subscription;
  }

  /**
   * Who is subscribed to the rooms a subscription with the same fields would join: a `GET` to
   * the hook's presence route (`namespace` defaults to `"presence"`; on the server,
   * `return await self.<observer>.presence_of(scope)`), resolving with one entry per room.
   */
  async presence(hook: string, fields: PresenceFields = {}, options: RequestOptions = {}): Promise<Presence[]> {
    const reply = await this.request<Presence[]>(hook, { namespace: "presence", ...fields, action: "GET" }, options);
    return reply.data;
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
    for (const shared of this.subscriptions.values()) {
      clearTimeout(shared.retryTimer);
      for (const subscription of shared.members) {
        subscription.active = false;
        subscription.settleReady.reject(failure("closed", 0, "The client is closed."));
      }
    }
    this.subscriptions.clear();
    if (defaultClient === this) defaultClient = null;
    this.setState({ state: "disconnected", reason: "io client disconnect" });
  }

  private readTraceparent(): string | undefined {
    if (this.traceContext === null) return undefined;
    let value: string | null | undefined;
    try {
      value = this.traceContext();
    } catch {
      return undefined; // tracing must never fail a request
    }
    return typeof value === "string" && TRACEPARENT.test(value) ? value : undefined;
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

  private rejectAll(error: () => DjiraError): void {
    for (const requestId of [...this.pending.keys()]) this.fail(requestId, error());
  }

  private inactiveError(): DjiraError {
    const refusal = this.refusal;
    return refusal
      ? failure("refused", refusal.status, refusal.message)
      : failure("disconnected", 0, "The client is disconnected; call reconnect().");
  }

  private sendSubscription(shared: ServerSubscription): void {
    clearTimeout(shared.retryTimer);
    shared.retryTimer = undefined;
    // Resubscribing: from the last push seen of each room, so that the server sends the missed ones.
    const since = shared.since();
    const fields = { ...shared.fields, action: "SUBSCRIPTION" as const, ...(since ? { since } : {}) };
    // After an UNSUBSCRIPTION of the same fields: the server handles a socket's events
    // concurrently, so let it finish first or it could undo this subscription.
    const before = this.leaving.get(shared.key);
    const { requestId, reply } = before
      ? this.after(before, shared.hook, fields, shared.timeout)
      : this.enqueue(shared.hook, fields, { timeout: shared.timeout });
    shared.sending = { requestId, reply };
    reply.then(
      (reply) => {
        if (shared.sending?.requestId === requestId) shared.sending = null;
        if (this.subscriptions.get(shared.key) !== shared) return;
        shared.rooms = roomsOf(reply.data);
        shared.reply = reply;
        shared.retryDelay = FIRST_RETRY;
        const early = shared.early;
        shared.early = [];
        if (shared.settle(reply, since, early)) this.reset(shared, reply);
        for (const subscription of [...shared.members]) {
          const resubscribed = subscription.subscribed;
          subscription.subscribed = true;
          subscription.settleReady.resolve(reply);
          const { onSubscribed } = subscription.options;
          if (onSubscribed) report(onSubscribed, reply, resubscribed);
        }
      },
      (error: DjiraError) => {
        if (shared.sending?.requestId === requestId) shared.sending = null;
        const early = shared.early;
        shared.early = [];
        // Held back for the reply that did not come: the rooms known from before still get them.
        if (shared.reply) for (const push of inStreamOrder(early)) shared.deliver(push);
        if (this.subscriptions.get(shared.key) !== shared) return;
        // An error reply ends the subscription; a lost or refused connection does not: it is
        // sent again on the next connection. A timeout is retried with a growing delay.
        const ends = error.kind === "reply" || error.kind === "invalid";
        if (ends) this.subscriptions.delete(shared.key);
        if (error.kind === "timeout") this.retryLater(shared);
        for (const subscription of [...shared.members]) {
          if (ends) subscription.active = false;
          subscription.settleReady.reject(error);
          if (error.kind === "disconnected") continue;
          const { onError } = subscription.options;
          if (onError) report(onError, error);
          else console.error(`djira: subscribing to ${shared.hook} failed:`, error);
        }
      },
    );
  }

  /** Tell a subscription's users that pushes missed while disconnected are lost. */
  private reset(shared: ServerSubscription, reply: Envelope): void {
    const detail = `The pushes to ${shared.hook} missed while disconnected are no longer kept: reload.`;
    for (const subscription of [...shared.members]) {
      if (!subscription.active) continue;
      const { onReset, onError } = subscription.options;
      if (onReset) report(onReset, reply);
      else if (onError) report(onError, new DjiraError("reset", reply.status, { detail }, reply));
      else console.warn(`djira: ${detail}`);
    }
  }

  /** A request sent once `before` settles, with the same timeout and id as any other. */
  private after(
    before: Promise<unknown>,
    hook: string,
    fields: RequestFields,
    timeout: number | undefined,
  ): { requestId: string; reply: Promise<Envelope> } {
    const requestId = `${this.idPrefix}-wait-${++this.lastId}`;
    const reply = before.then(() => {
      const next = this.enqueue(hook, fields, { timeout });
      return next.reply;
    });
    return { requestId, reply };
  }

  private retryLater(shared: ServerSubscription): void {
    clearTimeout(shared.retryTimer);
    const delay = shared.retryDelay;
    shared.retryDelay = Math.min(delay * 2, LAST_RETRY);
    shared.retryTimer = setTimeout(() => {
      shared.retryTimer = undefined;
      // Disconnected: the next connection sends it anyway.
      if (this.subscriptions.get(shared.key) !== shared || shared.sending || !this.socket.connected) return;
      this.sendSubscription(shared);
    }, delay);
  }

  private async unsubscribe(subscription: LiveSubscription, options: RequestOptions = {}): Promise<void> {
    if (!subscription.active) return;
    subscription.active = false;
    subscription.settleReady.reject(failure("closed", 0, "Unsubscribed before the subscription reply."));
    const shared = subscription.shared;
    shared.members.delete(subscription);
    // Siblings with the same hook and fields still use the server subscription.
    if (shared.members.size > 0 || this.subscriptions.get(shared.key) !== shared) return;
    this.subscriptions.delete(shared.key);
    clearTimeout(shared.retryTimer);
    const sending = shared.sending;
    const queued = sending && this.pending.has(sending.requestId) && !this.pending.get(sending.requestId)?.sent;
    if (sending && queued) {
      // Still queued: it never reached the server, so drop it.
      this.fail(sending.requestId, failure("closed", 0, "Unsubscribed before subscribing."));
      return;
    }
    const leaving = (async () => {
      // The server handles a socket's events concurrently: let the SUBSCRIPTION finish first.
      if (sending) await sending.reply.catch(() => undefined);
      // A new connection starts without rooms: there is nothing to leave until connected again.
      if (!this.socket.connected) return;
      await this.request(shared.hook, { ...shared.fields, action: "UNSUBSCRIPTION" }, options);
    })();
    const done = leaving.catch(() => undefined);
    this.leaving.set(shared.key, done);
    try {
      await leaving;
    } finally {
      if (this.leaving.get(shared.key) === done) this.leaving.delete(shared.key);
    }
  }

  private handleConnect(): void {
    this.everConnected = true;
    this.refusal = null;
    // The server forgot this socket's rooms: subscribe again, before sending queued requests
    // so that pushes caused by them find the subscriptions.
    for (const shared of [...this.subscriptions.values()]) {
      if (!shared.sending) this.sendSubscription(shared);
    }
    // Queued requests, and writes in flight when the connection dropped (same key, same id).
    for (const [requestId, pending] of this.pending) {
      if (!pending.sent) this.send(requestId, pending);
    }
    this.setState({ state: "connected" });
  }

  private handleDisconnect(reason: string): void {
    if (this.closed) return;
    if (this.socket.active) {
      // A write in flight may or may not have been applied: one with an idempotency key is
      // sent again, with the same key, once connected (the server answers a key it has seen
      // with the first reply); any other request fails, as does a write dropped twice.
      for (const [requestId, pending] of [...this.pending]) {
        if (!pending.sent) continue;
        if (pending.resends-- > 0) pending.sent = false;
        else this.fail(requestId, failure("disconnected", 0, `Connection lost (${reason}) before the reply.`));
      }
      this.setState({ state: "reconnecting", reason });
    } else {
      this.giveUp(`The server closed the connection (${reason}).`, reason);
    }
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
    for (const shared of [...this.subscriptions.values()]) {
      if (!shared.concerns(event, push)) continue;
      if (shared.sending && shared.early.length < MAX_EARLY_PUSHES) {
        // Held until the reply: its rooms are known then (the server may push before replying),
        // and after a reconnection the missed pushes come first, which a live one may overtake.
        shared.early.push(push);
      } else if (shared.reply && shared.rooms.includes(push.room)) {
        if (shared.deliver(push) && push.type === "reset") this.reset(shared, push);
      }
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

/** {@link Client.presence} on the default client. */
export function presence(hook: string, fields?: PresenceFields, options?: RequestOptions): Promise<Presence[]> {
  return getClient().presence(hook, fields, options);
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

// The typed facade over a client, which modules generated by `manage.py djira_typescript` build.
export { buildApi, problem, type ApiOptions, type ApiSpec, type HookSpec, type JsonSchema, type RouteSpec } from "./typed";
