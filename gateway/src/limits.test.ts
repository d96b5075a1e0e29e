import { buildSchema, parse, validate } from "graphql";
import { rootFieldLimit } from "./limits";

const schema = buildSchema(`type Query { a: Int b: Int c: Int } type Mutation { m: Int }`);
const problems = (document: string, max = 3) =>
  validate(schema, parse(document), [rootFieldLimit(max)]).map((e) => e.message);

describe("rootFieldLimit", () => {
  it("counts an operation's root fields, aliases and fragments included, introspection aside", () => {
    expect(problems(`{ a b c __typename }`)).toEqual([]);
    expect(problems(`{ a b c x: a }`)).toEqual(["Root field limit of 3 exceeded, found 4."]);
    expect(problems(`{ a ...F ... on Query { c } } fragment F on Query { b x: b }`)).toEqual([
      "Root field limit of 3 exceeded, found 4.",
    ]);
    // A fragment spread twice selects the same fields: counted once.
    expect(problems(`{ ...F ...F } fragment F on Query { a b }`)).toEqual([]);
  });

  it("counts each operation of a document on its own", () => {
    expect(problems(`query One { a b c } query Two { a b }`)).toEqual([]);
    expect(problems(`query One { a b c } mutation Two { m x: m y: m z: m }`)).toEqual([
      "Root field limit of 3 exceeded, found 4.",
    ]);
  });
});
