// Must NOT type-check: each marked line breaks one rule of the `Game` module's types, and tsc
// must report exactly the marked errors (checked by expect-errors.mjs).
import { GameClient, registerGame, type EchoCaller, type Move, type Outcome, type Piece, type Point } from "./services.js";

const at: Point = { x: 3, y: 4 };

export async function wrong(peer: EchoCaller): Promise<void> {
  const game = new GameClient(peer);
  // An internally tagged enum with a tag it does not have.
  const jump: Move = { kind: "jump", to: at }; // EXPECTED-ERROR TS2322: Type '"jump"' is not assignable to type '"go" | "drop" | "pass"'.
  // A struct variant without its field.
  await game.play({ kind: "go" }); // EXPECTED-ERROR TS2345: Argument of type '{ kind: "go"; }' is not assignable to parameter of type 'Move'.
  // An externally tagged variant under its Rust name instead of serde's.
  const piece: Piece = { Colored: "black" }; // EXPECTED-ERROR TS2353: Object literal may only specify known properties, and 'Colored' does not exist in type
  // An adjacently tagged variant with content of the wrong type.
  const win: Outcome = { type: "win", data: "red" }; // EXPECTED-ERROR TS2322: Type '"red"' is not assignable to type 'Color'.
  // A middle `Option` left out: it is required (null is the way to say "none").
  await game.mark(at); // EXPECTED-ERROR TS2554: Expected 2-3 arguments, but got 1.
  // Whole-struct params without a required field.
  await game.configure({ size: 19 }); // EXPECTED-ERROR TS2345: Argument of type '{ size: number; }' is not assignable to parameter of type 'Rules'.
  // `()` resolves to null, not undefined.
  const reset: undefined = await game.reset(); // EXPECTED-ERROR TS2322: Type 'null' is not assignable to type 'undefined'.
  void [jump, piece, win, reset];
}

// A client passes its handlers nothing after the params: an implementation registered on one
// cannot take a connection.
interface ClientPeer {
  register(method: string, handler: (params: any) => unknown): void;
  subscribe(method: string, callback: (data: any) => unknown): void;
}
export function serveOnClient(peer: ClientPeer): void {
  registerGame(peer, {
    place: (at, _note, conn: EchoCaller) => at.x + (conn ? 1 : 0), // EXPECTED-ERROR TS2322: is not assignable to type '(at: Point, note?: string | null | undefined) => Awaitable<number>'.
    play: () => [],
    reset: () => null,
    put: () => true,
    moved: () => {},
    mark: () => "stone",
    configure: (rules) => rules,
    finish: () => null,
    finished: () => {},
  });
}
