// A GraphQL Code Generator plugin (codegen.yml): the safelist manifest of the documents' operations, a JSON
// object from the SHA-256 (hex) of each operation's text to that text, the text being the operation and the
// fragments it uses, printed as a client sending the typed document prints it. The gateway runs only these
// operations when SAFELIST_PATH names the file (gateway/src/safelist.ts). Plain JavaScript, as codegen
// loads plugins with require().
const { createHash } = require("node:crypto");
const { Kind, print, visit } = require("graphql");

module.exports = {
  plugin(_schema, documents) {
    const fragments = new Map();
    for (const file of documents)
      for (const definition of file.document.definitions)
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    const manifest = {};
    for (const file of documents)
      for (const definition of file.document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        // The fragments it uses, each after those it uses itself, as typed-document-node orders them.
        const used = new Map();
        const collect = (node) =>
          visit(node, {
            FragmentSpread(spread) {
              const fragment = fragments.get(spread.name.value);
              if (fragment && !used.has(spread.name.value)) {
                used.set(spread.name.value, null);
                collect(fragment);
                used.delete(spread.name.value);
                used.set(spread.name.value, fragment);
              }
            },
          });
        collect(definition);
        const text = print({ kind: Kind.DOCUMENT, definitions: [definition, ...used.values()] });
        manifest[createHash("sha256").update(text).digest("hex")] = text;
      }
    return `${JSON.stringify(manifest, null, 2)}\n`;
  },
};
