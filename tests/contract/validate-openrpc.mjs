// Validates an OpenRPC document against the OpenRPC meta-schema (npm @open-rpc/meta-schema,
// whose schemas point at the JSON Schema meta-schema of npm @json-schema-tools/meta-schema),
// then compiles every schema in it with ajv, so a $ref that points nowhere fails too.
// Usage: node validate-openrpc.mjs FILE [METHOD...]  (METHODs: names that must be present)
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import openrpcMeta from "@open-rpc/meta-schema";
import jsonSchemaMeta from "@json-schema-tools/meta-schema";

const [file, ...expected] = process.argv.slice(2);
if (!file) {
  console.error("usage: node validate-openrpc.mjs FILE [METHOD...]");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, validateFormats: false });
ajv.addSchema(jsonSchemaMeta.default ?? jsonSchemaMeta, "https://meta.json-schema.tools");
const validate = ajv.compile(openrpcMeta.default ?? openrpcMeta);
let failures = 0;
if (!validate(doc)) {
  console.error(`${file}: not a valid OpenRPC document:`);
  for (const error of validate.errors) console.error(`  ${error.instancePath} ${error.message}`);
  failures++;
}

// Every schema, resolved against the document's components, must compile.
const components = { $id: "doc", components: doc.components ?? {}, definitions: {} };
const checker = new Ajv({ strict: false, allErrors: true, validateFormats: false });
checker.addSchema(components);
const methods = [...doc.methods, ...(doc["x-echorpc-callbacks"] ?? [])];
for (const method of methods) {
  const descriptors = [...method.params, ...(method.result ? [method.result] : [])];
  for (const descriptor of descriptors) {
    const schema = JSON.parse(
      JSON.stringify(descriptor.schema).replaceAll('"#/components/', '"doc#/components/'),
    );
    try {
      checker.compile(schema);
    } catch (err) {
      console.error(`${method.name}/${descriptor.name}: schema does not compile: ${err.message}`);
      failures++;
    }
  }
}
const names = new Set(methods.map((m) => m.name));
for (const name of expected) {
  if (!names.has(name)) {
    console.error(`${file}: method ${name} missing`);
    failures++;
  }
}
if (failures > 0) process.exit(1);
console.log(`${file}: valid OpenRPC ${doc.openrpc}, ${doc.methods.length} methods, ${methods.length - doc.methods.length} callbacks`);
