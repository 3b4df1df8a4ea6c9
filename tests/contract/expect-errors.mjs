// Checks that `tsc` rejected a sample with exactly the errors its source marks, and no others.
// A marked line ends with `// EXPECTED-ERROR TSnnnn: fragment`: tsc must report error TSnnnn on
// that line, with `fragment` in its message (one marker per expected error; the message's
// first line is compared). Usage: node expect-errors.mjs SAMPLE.ts TSC_LOG
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const [sample, log] = process.argv.slice(2);
if (!sample || !log) {
  console.error("usage: node expect-errors.mjs SAMPLE.ts TSC_LOG");
  process.exit(2);
}

const expected = [];
readFileSync(sample, "utf8")
  .split("\n")
  .forEach((text, i) => {
    const marker = text.match(/\/\/ EXPECTED-ERROR (TS\d+): (.+)$/);
    if (marker) expected.push({ line: i + 1, code: marker[1], fragment: marker[2].trim() });
  });
if (expected.length === 0) {
  console.error(`${sample}: no EXPECTED-ERROR markers`);
  process.exit(2);
}

// tsc's lines look like `path/sample.ts(12,5): error TS2322: Type ... is not assignable ...`.
const name = basename(sample);
const reported = [];
let other = 0;
for (const text of readFileSync(log, "utf8").split("\n")) {
  const error = text.match(/^(.*)\((\d+),(\d+)\): error (TS\d+): (.*)$/);
  if (!error) continue;
  if (basename(error[1]) !== name) other++;
  else reported.push({ line: Number(error[2]), code: error[4], message: error[5] });
}

let failures = 0;
if (other > 0) {
  console.error(`${other} error(s) in files other than ${name}`);
  failures++;
}
const unmatched = [...reported];
for (const want of expected) {
  const at = unmatched.findIndex(
    (got) => got.line === want.line && got.code === want.code && got.message.includes(want.fragment),
  );
  if (at < 0) {
    console.error(`${name}:${want.line}: expected ${want.code} containing ${JSON.stringify(want.fragment)}`);
    failures++;
  } else {
    unmatched.splice(at, 1);
  }
}
for (const got of unmatched) {
  console.error(`${name}:${got.line}: unexpected ${got.code}: ${got.message}`);
  failures++;
}
if (failures > 0) process.exit(1);
console.log(`${name}: exactly the ${expected.length} expected errors`);
