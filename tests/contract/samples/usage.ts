// Must type-check under `tsc --strict --noEmit` against the generated services.ts: the ways
// a TypeScript user of the `echorpc` package calls a Rust server and offers it callbacks.
import {
  AppClient,
  CallbacksClient,
  registerApp,
  registerCallbacks,
  type App,
  type Callbacks,
  type Chat,
  type Sum,
  type Who,
} from "./services.js";

// Shaped like the package's EchoClient: generic `request`, `publish` returning a promise,
// handlers that receive the params. Nothing in services.ts names this class: typing is
// structural.
class EchoClientLike {
  readonly handlers = new Map<string, (params: any) => unknown>();
  readonly subscribers = new Map<string, (data: any) => unknown>();
  async request<T = any>(method: string, params?: unknown, _timeout?: number): Promise<T> {
    return { method, params } as T;
  }
  async publish(_method: string, _params?: unknown): Promise<void> {}
  register(method: string, handler: (params: any) => unknown): void {
    this.handlers.set(method, handler);
  }
  subscribe(method: string, callback: (data: any) => unknown): void {
    this.subscribers.set(method, callback);
  }
}

// Shaped like a server-side connection, whose `publish` returns nothing.
interface ConnectionLike {
  request(method: string, params?: unknown): Promise<unknown>;
  publish(method: string, params?: unknown): void;
}

// Shaped like EchoServer: handlers get the params and the calling connection.
interface EchoServerLike {
  register(method: string, handler: (params: any, conn: ConnectionLike) => unknown): void;
  subscribe(method: string, callback: (data: any, conn: ConnectionLike) => unknown): void;
}

export async function callTheServer(client: EchoClientLike): Promise<number> {
  const app = new AppClient(client);
  const sum: Sum = await app.add(1, 2);
  const who: Who = await app.whoami();
  const doubled: unknown = await app.askDouble(21);
  const announced: null = await app.announce("web", "hello");
  await app.chat({ text: "hello" });
  const running: number = await app.running();
  const relayed: unknown = await app.askDoubleOf("c1", 21);
  const online: string[] = await app.online("web");
  return online.length + (relayed ? 1 : 0) + sum.sum + who.client_id.length + running + (announced === null ? 0 : 1) + (doubled ? 1 : 0);
}

// Callbacks offered with plain functions...
export function offerPlain(client: EchoClientLike): void {
  registerCallbacks(client, {
    double: (x) => (typeof x === "number" ? x * 2 : null),
    chat: (msg: Chat) => {
      void msg.text.toUpperCase();
    },
  });
}

// ...or with async ones, in a class.
class AsyncCallbacks implements Callbacks {
  async double(x: unknown): Promise<unknown> {
    return typeof x === "number" ? x * 2 : x;
  }
  async chat(msg: Chat): Promise<void> {
    void msg.text;
  }
}
export function offerAsync(client: EchoClientLike): void {
  registerCallbacks(client, new AsyncCallbacks());
}

// A TypeScript server implementing App: after the trait's arguments, each handler gets what
// the server passes its handlers (here the calling connection, as EchoServerLike's `register`
// declares it), and calls that client back through it.
export function serve(server: EchoServerLike): void {
  registerApp(server, {
    add: (a, b) => ({ sum: a + b }),
    whoami: async () => ({ role: "web", client_id: "c1" }),
    askDouble: (x, conn) => new CallbacksClient(conn).double(x),
    askDoubleOf: async (clientId, x, conn) => (clientId === "c1" ? new CallbacksClient(conn).double(x) : null),
    online: (role) => (role === "web" ? ["c1"] : []),
    announce: async () => {},
    chat: (msg, conn) => new CallbacksClient(conn).chat(msg),
    slow: async (ms) => ({ slept: ms }),
    running: () => 0,
  });
}

// An implementation typed without the connection (`App` is `App<[]>`) still fits a server.
export function serveWithoutConnection(server: EchoServerLike): void {
  const impl: App = {
    add: (a, b) => ({ sum: a + b }),
    whoami: async () => ({ role: "web", client_id: "c1" }),
    askDouble: (x) => x,
    askDoubleOf: async () => null,
    online: () => [],
    announce: async () => {},
    chat: () => {},
    slow: async (ms) => ({ slept: ms }),
    running: () => 0,
  };
  registerApp(server, impl);
}
