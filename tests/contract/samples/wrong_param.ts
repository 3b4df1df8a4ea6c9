// Must NOT type-check: `add` takes numbers, and the generated client says so.
import { AppClient, type EchoCaller } from "./services.js";

export async function wrong(peer: EchoCaller): Promise<void> {
  const app = new AppClient(peer);
  await app.add("1", 2); // EXPECTED-ERROR TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.
}
