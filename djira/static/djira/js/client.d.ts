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
/**
 * The `traceparent` of the active OpenTelemetry span, read through the global registry that
 * `@opentelemetry/api` fills (the client imports nothing of it): `undefined` when the page
 * registered no context manager or propagator, or no span is active.
 */
export declare function activeTraceparent(): string | undefined;
/**
 * A random (version 4) UUID. `crypto.randomUUID` exists only on secure origins (HTTPS,
 * localhost); `getRandomValues` exists everywhere.
 */
export declare function newIdempotencyKey(): string;
/** A failed request: an error reply (`kind: "reply"`, `status` >= 400) or a client-side failure. */
export declare class DjiraError<T = any> extends Error {
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
    constructor(kind: DjiraErrorKind, status: number, data: T, envelope?: Envelope<T> | null);
}
/** A connection to a djira server. Create one with {@link connect}. */
export declare class Client {
    private readonly socket;
    private readonly timeout;
    private readonly traceContext;
    private readonly pending;
    /** Server subscriptions by hook and fields; each shared by one or more user subscriptions. */
    private readonly subscriptions;
    /** UNSUBSCRIPTIONs in flight by key: subscribing the same again waits for them. */
    private readonly leaving;
    private readonly listeners;
    private readonly stateListeners;
    private readonly idPrefix;
    private lastId;
    private everConnected;
    private closed;
    private refusal;
    private currentState;
    constructor(url?: string, options?: ConnectOptions);
    /** The connection's current state. */
    get state(): ConnectionState;
    get connected(): boolean;
    /**
     * Send a request and resolve with its reply (status < 400).
     *
     * Rejects with a {@link DjiraError}: the error reply, a timeout (408), a lost connection (0)
     * or a refused one (401/403). A request made while disconnected waits for the connection,
     * within its timeout.
     */
    request<T = any>(hook: string, fields?: RequestFields, options?: RequestOptions): Promise<Envelope<T>>;
    private enqueue;
    /**
     * Subscribe through a route that accepts `SUBSCRIPTION`; `callback` gets each push whose hook,
     * namespace and room match. The subscription is sent again after every reconnection, and after
     * a timeout. Subscribing again with the same hook and fields shares the server subscription.
     */
    subscribe<T = any>(hook: string, fields: SubscribeFields, callback: Callback<Push<T>>, options?: SubscribeOptions): Subscription;
    /**
     * Who is subscribed to the rooms a subscription with the same fields would join: a `GET` to
     * the hook's presence route (`namespace` defaults to `"presence"`; on the server,
     * `return await self.<observer>.presence_of(scope)`), resolving with one entry per room.
     */
    presence(hook: string, fields?: PresenceFields, options?: RequestOptions): Promise<Presence[]>;
    /** Listen to every message the server emits on `hook` (pushes included); returns an off function. */
    on<T = any>(hook: string, callback: Callback<Envelope<T>>): () => void;
    /** Be told of each connection state change; returns an off function. */
    onState(callback: Callback<StateChange>): () => void;
    /** Connect again after the server refused or dropped the connection (not after `close()`). */
    reconnect(): void;
    /** Disconnect for good; pending requests reject with status 0 and subscriptions end. */
    close(): void;
    private readTraceparent;
    private send;
    private settle;
    private fail;
    private rejectAll;
    private inactiveError;
    private sendSubscription;
    /** Tell a subscription's users that pushes missed while disconnected are lost. */
    private reset;
    /** A request sent once `before` settles, with the same timeout and id as any other. */
    private after;
    private retryLater;
    private unsubscribe;
    private handleConnect;
    private handleDisconnect;
    private handleConnectError;
    private giveUp;
    private handleEvent;
    private setState;
}
/**
 * Open a connection; the first client opened becomes the default one that the module-level
 * functions use.
 *
 * @param url Server URL; the page's origin when left out.
 */
export declare function connect(url?: string, options?: ConnectOptions): Client;
export declare function connect(options?: ConnectOptions): Client;
/** The default client, connected to the page's origin on first use. */
export declare function getClient(): Client;
/** {@link Client.request} on the default client. */
export declare function request<T = any>(hook: string, fields?: RequestFields, options?: RequestOptions): Promise<Envelope<T>>;
/** {@link Client.subscribe} on the default client. */
export declare function subscribe<T = any>(hook: string, fields: SubscribeFields, callback: Callback<Push<T>>, options?: SubscribeOptions): Subscription;
/** {@link Client.presence} on the default client. */
export declare function presence(hook: string, fields?: PresenceFields, options?: RequestOptions): Promise<Presence[]>;
/** {@link Client.on} on the default client. */
export declare function on<T = any>(hook: string, callback: Callback<Envelope<T>>): () => void;
/** {@link Client.onState} on the default client. */
export declare function onState(callback: Callback<StateChange>): () => void;
/** Close the default client, if there is one; the next module-level call opens a new one. */
export declare function close(): void;
export { buildApi, problem, type ApiOptions, type ApiSpec, type HookSpec, type JsonSchema, type RouteSpec } from "./typed";
