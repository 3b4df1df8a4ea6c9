// The browser side of `cargo run --example chat`: the browser's own WebSocket, a small peer
// with the shape the generated module expects, and the generated AppClient/registerCallbacks.
import { AppClient, registerCallbacks, type Chat, type EchoCaller, type EchoRegistrar } from "./services.js";

type Handler = (params: any) => unknown;
type Pending = { resolve: (value: any) => void; reject: (error: Error) => void };

/** A minimal JSON-RPC 2.0 peer over one WebSocket: calls, events, handlers, heartbeat. */
class BrowserPeer implements EchoCaller, EchoRegistrar {
  private readonly socket: WebSocket;
  private readonly pending = new Map<number, Pending>();
  private readonly methods = new Map<string, Handler>();
  private readonly events = new Map<string, Handler[]>();
  private nextId = 1;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    this.socket.onmessage = (event) => void this.receive(String(event.data));
    this.socket.onclose = () => {
      for (const call of this.pending.values()) call.reject(new Error("connection closed"));
      this.pending.clear();
    };
  }

  request(method: string, params?: unknown): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });
    });
  }

  publish(method: string, params?: unknown): void {
    this.send({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) });
  }

  register(method: string, handler: Handler): void {
    this.methods.set(method, handler);
  }

  subscribe(method: string, callback: Handler): void {
    this.events.set(method, [...(this.events.get(method) ?? []), callback]);
  }

  private send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  private async receive(text: string): Promise<void> {
    const parsed = JSON.parse(text);
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof message.method === "string") {
        if (message.method === "ping") {
          this.send({ jsonrpc: "2.0", method: "pong" });
        } else if ("id" in message) {
          await this.answer(message);
        } else {
          for (const callback of this.events.get(message.method) ?? []) callback(message.params);
        }
      } else {
        const call = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (call && "error" in message) call.reject(new Error(message.error.message));
        else if (call) call.resolve(message.result);
      }
    }
  }

  private async answer(message: { id: unknown; method: string; params?: unknown }): Promise<void> {
    const handler = this.methods.get(message.method);
    if (!handler) {
      this.send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
      return;
    }
    try {
      const result = await handler(message.params);
      this.send({ jsonrpc: "2.0", id: message.id, result: result ?? null });
    } catch (err) {
      this.send({ jsonrpc: "2.0", id: message.id, error: { code: -32603, message: String(err) } });
    }
  }
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`no #${id} on the page`);
  return found as T;
}

function addItem(listId: string, text: string, className?: string): void {
  const item = document.createElement("li");
  item.textContent = text;
  if (className) item.className = className;
  const list = element<HTMLUListElement>(listId);
  list.appendChild(item);
  list.scrollTop = list.scrollHeight;
}

async function main(): Promise<void> {
  const name = new URLSearchParams(location.search).get("name") ?? "guest";
  const url = `${document.body.dataset.ws}?token=secret&role=web&client_id=${encodeURIComponent(name)}`;
  const peer = new BrowserPeer(url);
  // What the server may call on this page: typed by the generated `Callbacks` interface.
  registerCallbacks(peer, {
    double(x: unknown) {
      addItem("log", `server asked me to double ${JSON.stringify(x)}`);
      return typeof x === "number" ? x * 2 : null;
    },
    chat(msg: Chat) {
      addItem("messages", msg.text);
    },
  });
  await peer.opened;
  const app = new AppClient(peer);
  const who = await app.whoami();
  element("status").textContent = `connected as ${who.client_id} (role ${who.role})`;
  const api = await peer.request("rpc.discover");
  element("api").textContent =
    `rpc.discover: OpenRPC ${api.openrpc}, ${api.methods.length} methods, ${api["x-echorpc-callbacks"].length} callbacks`;

  element<HTMLFormElement>("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = element<HTMLInputElement>("text");
    if (!input.value) return;
    const msg: Chat = { text: `${name}: ${input.value}` };
    void app.chat(msg);
    addItem("messages", msg.text, "mine");
    input.value = "";
  });
  element<HTMLFormElement>("double-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const x = Number(element<HTMLInputElement>("number").value);
    const answer = await app.askDouble(x);
    element("double-result").textContent = JSON.stringify(answer);
  });
}

main().catch((err) => {
  element("status").textContent = `error: ${err}`;
});
