import { buildSchema, operationFromDocument } from "@apollo/federation-internals";
import { computeResponse } from "@apollo/gateway/dist/resultShaping";
import { parse } from "graphql";
import { shapeResponse } from "./result-shaping";

/** An API schema with what Rampart's graph has (objects, enums, lists, non-null) and what it may get. */
const schema = buildSchema(`
  type Query {
    node(id: ID!): Node
    search(text: String): [SearchResult!]!
    resources(first: Int = 5): ResourceConnection!
    count: Int
  }
  interface Node { id: ID! }
  union SearchResult = Resource | Alert
  enum Severity { LOW HIGH }
  scalar JSON
  type ResourceConnection { totalCount: Int! nodes: [Resource!]! }
  type Resource implements Node { id: ID! name: String! tags: JSON account: Account alerts: [Alert]! }
  type Account implements Node { id: ID! name: String }
  type Alert implements Node { id: ID! severity: Severity! score: Float resource: Resource }
`);

const operations: Record<string, string> = {
  objects: `query Objects($first: Int) {
    resources(first: $first) { totalCount nodes { __typename id label: name tags account { name id }
      alerts { id severity score } ...Names } }
  }
  fragment Names on Resource { name account { name } }`,
  prototypeNames: `{ __proto__: count resources { constructor: totalCount toString: nodes { hasOwnProperty: id } } }`,
  abstract: `query Abstract($id: ID!, $withId: Boolean!, $skipName: Boolean = false) {
    node(id: $id) { __typename id ... on Resource { name @skip(if: $skipName) alerts { severity } }
      ... on Account { name } kind: __typename }
    search(text: "x") { ... on Node { id @include(if: $withId) } ... on Alert { severity resource { name } }
      ... on Resource { name } __typename }
    count
  }`,
};

const variables: Record<string, Record<string, unknown>> = {
  objects: {},
  prototypeNames: {},
  abstract: { id: "1", withId: true },
};

/** What the subgraphs could send for each operation: correct answers, then broken ones. */
const inputs: Record<string, unknown[]> = {
  // Response names that Object.prototype has: each stays the answer's own field.
  prototypeNames: [
    JSON.parse(
      '{"__proto__": 3, "resources": {"constructor": 1, "toString": [{"hasOwnProperty": "r1"}, {"hasOwnProperty": "r2"}]}}',
    ),
    { resources: { toString: [{}] } },
    {},
  ],
  objects: [
    {
      resources: {
        totalCount: 2,
        nodes: [
          {
            __typename: "Resource",
            id: "r1",
            label: "vm-1",
            name: "vm-1",
            tags: { a: [1, "x"] },
            account: { name: "Azure", id: "a1" },
            alerts: [{ id: "x1", severity: "HIGH", score: 1.5 }, null],
          },
          {
            __typename: "Resource",
            id: "r2",
            label: "vm-2",
            name: "vm-2",
            tags: null,
            account: null,
            alerts: [],
          },
        ],
      },
    },
    // A non-null field missing: nulls its object, then the list element, then the list, up to the root.
    { resources: { totalCount: 1, nodes: [{ __typename: "Resource", id: "r1", label: null, alerts: [] }] } },
    // An invalid enum value, an Int that is a string, a Float that is a string.
    {
      resources: {
        totalCount: "1",
        nodes: [
          { id: "r1", label: "a", name: "a", alerts: [{ id: "x", severity: "SEVERE", score: "high" }] },
        ],
      },
    },
    // A nullable list element nulled, an unknown __typename.
    {
      resources: {
        totalCount: 1,
        nodes: [{ __typename: "Nope", id: "r1", label: "a", name: "a", alerts: [null] }],
      },
    },
    { resources: null },
    {},
  ],
  abstract: [
    {
      node: { __typename: "Resource", id: "r1", name: "vm", alerts: [{ severity: "LOW" }], kind: "Resource" },
      search: [
        { __typename: "Alert", id: "x1", severity: "HIGH", resource: { name: "vm" } },
        { __typename: "Resource", id: "r1", name: "vm" },
      ],
      count: 3,
    },
    {
      node: { __typename: "Account", id: "a1", name: null },
      search: [{ __typename: "Alert", id: "x1", severity: null, resource: null }],
      count: 1.5,
    },
    // No __typename: type conditions are decided on the field's type; a search result that is not an object.
    { node: { id: "a1", name: "n" }, search: [{ id: "x" }], count: null },
    { node: null, search: null, count: 2 },
    { node: { __typename: "Node", id: "1" }, search: [], count: 0 },
  ],
};

describe("shapeResponse", () => {
  it.each(Object.keys(operations))("answers as @apollo/gateway's computeResponse: %s", (name) => {
    const operation = operationFromDocument(schema, parse(operations[name]));
    const introspectionHandling = () => ({ introspected: true });
    for (const input of inputs[name])
      for (const vars of [variables[name], { ...variables[name], withId: false, skipName: true, first: 2 }]) {
        // Twice: the second run reads what the first compiled.
        for (let run = 0; run < 2; run++) {
          const args = () => ({
            operation,
            variables: vars,
            input: structuredClone(input) as Record<string, unknown>,
            introspectionHandling,
          });
          const expected = computeResponse(args());
          const actual = shapeResponse(args());
          expect(JSON.stringify(actual.data)).toBe(JSON.stringify(expected.data));
          expect(actual.errors.map((e) => e.toJSON())).toEqual(expected.errors.map((e) => e.toJSON()));
        }
      }
  });

  it("reports errors with the path and message a client reads", () => {
    const operation = operationFromDocument(schema, parse(operations.objects));
    const { data, errors } = shapeResponse({
      operation,
      input: structuredClone(inputs.objects[1]) as Record<string, unknown>,
      introspectionHandling: () => null,
    });
    expect(data).toBeNull();
    expect(errors.map((e) => [e.message, e.path])).toEqual([
      ["Cannot return null for non-nullable field Resource.label.", ["resources", "nodes", 0, "label"]],
    ]);
  });

  it("fails as computeResponse does on an @include variable that is not a boolean", () => {
    const operation = operationFromDocument(schema, parse(operations.abstract));
    const args = () => ({
      operation,
      variables: { id: "1" },
      input: { search: [{ __typename: "Alert", id: "x1", severity: "LOW" }] },
      introspectionHandling: () => null,
    });
    const message = "Unexpected value undefined for variable $withId of @include(if: $withId)";
    expect(() => computeResponse(args())).toThrow(message);
    expect(() => shapeResponse(args())).toThrow(message);
  });
});
