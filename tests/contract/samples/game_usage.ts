// Must type-check under `tsc --strict --noEmit` against the TypeScript module of the `Game`
// service of echorpc/tests/contract_openrpc.rs, which has every shape the mapping treats
// specially: a trailing `Option` (may be left out), a middle one (required, may be null),
// enums tagged each way serde tags them, unit variants, whole-struct params, `()` as null.
import {
  GameClient,
  registerGame,
  type Color,
  type EchoCaller,
  type EchoRegistrar,
  type Game,
  type Move,
  type Outcome,
  type Piece,
  type Point,
  type Rules,
} from "./services.js";

const at: Point = { x: 3, y: 4 }; // `label`, an `Option` field, left out
const labelled: Point = { x: 1, y: 1, label: "a" };
const unlabelled: Point = { x: 0, y: 0, label: null };

// Unit variants only: a string union.
const colors: Color[] = ["black", "white"];

// Externally tagged: a unit variant is its name; newtype, tuple and struct variants are
// `{ name: content }`.
const pieces: Piece[] = [
  "stone",
  { colored: "black" },
  { stack: [2, "white"] },
  { king: { color: "white", crowned: true } },
];

// Internally tagged: the tag next to the fields, a newtype variant's struct flattened in.
const moves: Move[] = [{ kind: "go", to: at }, { kind: "drop", x: 1, y: 2 }, { kind: "drop", ...labelled }, { kind: "pass" }];

// Adjacently tagged: `type` and `data`; a unit variant has no `data`.
const outcomes: Outcome[] = [
  { type: "win", data: "black" },
  { type: "draw" },
  { type: "score", data: { black: 10, white: 12 } },
];

// The unions narrow on their tags, and every variant is handled.
export function describeMove(m: Move): string {
  switch (m.kind) {
    case "go":
      return `go to ${m.to.x},${m.to.y}`;
    case "drop":
      return `drop at ${m.x},${m.y}${m.label ? ` (${m.label})` : ""}`;
    case "pass":
      return "pass";
    default: {
      const unreachable: never = m;
      return unreachable;
    }
  }
}

export function describeOutcome(o: Outcome): string {
  switch (o.type) {
    case "win":
      return `${o.data} won`;
    case "draw":
      return "draw";
    case "score":
      return `${o.data.black}:${o.data.white}`;
    default: {
      const unreachable: never = o;
      return unreachable;
    }
  }
}

export function describePiece(p: Piece): string {
  if (p === "stone") return "stone";
  if ("colored" in p) return `${p.colored} stone`;
  if ("stack" in p) return `${p.stack[0]} ${p.stack[1]} stones`;
  return `${p.king.crowned ? "crowned " : ""}${p.king.color} king`;
}

export async function play(peer: EchoCaller): Promise<number> {
  const game = new GameClient(peer);
  // A trailing `Option` may be left out, given, or null.
  const id: number = await game.place(at);
  await game.place(at, "corner");
  await game.place(unlabelled, null);
  // A middle `Option` must be passed: a value, or null.
  const marked: Piece = await game.mark(null, at);
  await game.mark("center", labelled, { stack: [3, "black"] });
  await game.mark(null, at, null);
  // Whole params: the move itself, the rules struct itself.
  let points = 0;
  for (const m of moves) points += (await game.play(m)).length;
  const rules: Rules = await game.configure({ size: 19, first: "black" });
  await game.configure({ size: 9, komi: 6.5, first: "white" });
  await game.configure({ size: 13, komi: null, first: colors[0] });
  // `()` resolves to null; an `Option` result is `| null`.
  const reset: null = await game.reset();
  const winner: Color | null = await game.finish(outcomes[0]);
  // Events publish and resolve to nothing.
  const published: void = await game.moved({ kind: "pass" });
  await game.finished({ type: "draw" }, pieces);
  return id + points + rules.size + (reset === null ? 0 : 1) + (winner ? 1 : 0) + (published === undefined ? 0 : 1) + describePiece(marked).length;
}

// A TypeScript implementation of `Game`: plain and async functions, the optional trailing
// argument seen as possibly undefined, the middle one as possibly null.
export function serve(peer: EchoRegistrar): void {
  const impl: Game = {
    place: (where, note) => where.x + (note === undefined ? 0 : (note ?? "").length),
    play: async (m) => (m.kind === "go" ? [m.to] : []),
    reset: () => {},
    put: async () => true,
    moved: (m) => {
      void describeMove(m);
    },
    mark: (label, _where, piece) => piece ?? (label === null ? "stone" : { colored: "white" }),
    configure: async (rules) => ({ ...rules, komi: rules.komi ?? 6.5 }),
    finish: (outcome) => (outcome.type === "win" ? outcome.data : null),
    finished: async (outcome, all) => {
      void describeOutcome(outcome);
      void all.map(describePiece);
    },
  };
  registerGame(peer, impl);
}
