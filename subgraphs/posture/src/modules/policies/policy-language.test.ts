import {
  compileCondition,
  PolicyLanguageError,
  validateCondition,
  type PolicyProblem,
  type PolicyResource,
} from "./policy-language";

// ----------------------------------------------------------------------------------------------------------------
// Fixtures: realistic ARM payloads
// ----------------------------------------------------------------------------------------------------------------

const storage: PolicyResource = {
  id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/Microsoft.Storage/storageAccounts/stprodlogs",
  type: "Microsoft.Storage/storageAccounts",
  kind: "StorageV2",
  name: "stprodlogs",
  location: "westeurope",
  resourceGroup: "rg-prod",
  tags: { env: "Prod", "cost.center": "CC-42", "owner team": "secops", "it's": "quoted" },
  properties: {
    minimumTlsVersion: "TLS1_0",
    supportsHttpsTrafficOnly: true,
    allowBlobPublicAccess: false,
    publicNetworkAccess: "Enabled",
    largeFileSharesState: null,
    keyExpirationPeriodInDays: 90,
    creationTime: "2024-03-01T10:00:00.0000000Z",
    capabilities: ["BlobVersioning", "SFTP"],
    "odata.type": "Microsoft.Storage/accounts",
    encryption: {
      keySource: "Microsoft.Storage",
      services: { blob: { enabled: true, keyType: "Account" }, file: { enabled: true } },
    },
    networkAcls: {
      bypass: "AzureServices",
      defaultAction: "Allow",
      ipRules: [
        { value: "203.0.113.0/24", action: "Allow" },
        { value: "198.51.100.7", action: "Allow" },
      ],
      virtualNetworkRules: [],
    },
    primaryEndpoints: { blob: "https://stprodlogs.blob.core.windows.net/" },
  },
};

type Rule = {
  name: string;
  direction: string;
  access: string;
  source: string;
  port?: string;
  ports?: string[];
  priority?: number;
};

function nsg(rules: Rule[]): PolicyResource {
  return {
    id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-web",
    type: "Microsoft.Network/networkSecurityGroups",
    kind: "",
    name: "nsg-web",
    location: "westeurope",
    resourceGroup: "rg-net",
    tags: {},
    properties: {
      provisioningState: "Succeeded",
      securityRules: rules.map((rule, i) => ({
        name: rule.name,
        properties: {
          protocol: "Tcp",
          priority: rule.priority ?? 100 * (i + 1),
          direction: rule.direction,
          access: rule.access,
          sourceAddressPrefix: rule.source,
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          ...(rule.port !== undefined ? { destinationPortRange: rule.port } : {}),
          ...(rule.ports !== undefined ? { destinationPortRanges: rule.ports } : {}),
        },
      })),
    },
  };
}

const webNsg = nsg([
  { name: "allow-https", direction: "Inbound", access: "Allow", source: "Internet", port: "443" },
  { name: "allow-rdp", direction: "Inbound", access: "Allow", source: "*", port: "3389", priority: 300 },
  { name: "deny-all", direction: "Inbound", access: "Deny", source: "*", port: "*", priority: 4096 },
]);
const lockedNsg = nsg([
  { name: "allow-https", direction: "Inbound", access: "Allow", source: "Internet", port: "443" },
  { name: "deny-rdp", direction: "Inbound", access: "Deny", source: "*", port: "3389" },
  { name: "allow-rdp-out", direction: "Outbound", access: "Allow", source: "*", port: "3389" },
]);
const emptyNsg = nsg([]);

/** Azure's built-in shape: an NSG rule allowing RDP from the internet. */
const rdpFromInternet = {
  count: {
    field: "properties.securityRules[*]",
    where: {
      allOf: [
        { field: "properties.securityRules[*].properties.direction", equals: "Inbound" },
        { field: "properties.securityRules[*].properties.access", equals: "Allow" },
        {
          field: "properties.securityRules[*].properties.sourceAddressPrefix",
          in: ["*", "Internet", "0.0.0.0/0"],
        },
        { field: "properties.securityRules[*].properties.destinationPortRange", in: ["3389", "*"] },
      ],
    },
  },
  greater: 0,
};

const holds = (condition: unknown, resource: PolicyResource = storage) =>
  compileCondition(condition).test(resource);

/** A resource that is `storage` with other properties. */
const withProperties = (properties: Record<string, unknown>): PolicyResource => ({ ...storage, properties });

// ----------------------------------------------------------------------------------------------------------------
// Operators
// ----------------------------------------------------------------------------------------------------------------

type Kind = "true" | "false" | "missing" | "case" | "more";
interface OperatorCase {
  kind: Kind;
  name: string;
  condition: Record<string, unknown>;
  expected: boolean;
  resource?: PolicyResource;
}
const c = (
  kind: Kind,
  name: string,
  condition: Record<string, unknown>,
  expected: boolean,
  resource?: PolicyResource,
): OperatorCase => ({ kind, name, condition, expected, resource });

const TLS = "properties.minimumTlsVersion";
const MISSING = "properties.diagnostics.retentionDays";
const PORT = "properties.securityRules[1].properties.destinationPortRange";
const PRIORITY = "properties.securityRules[1].properties.priority";

const OPERATOR_CASES: Record<string, OperatorCase[]> = {
  equals: [
    c("true", "same string", { field: TLS, equals: "TLS1_0" }, true),
    c("false", "other string", { field: TLS, equals: "TLS1_2" }, false),
    c("missing", "missing field", { field: MISSING, equals: 7 }, false),
    c("missing", "missing field equals null", { field: MISSING, equals: null }, true),
    c(
      "missing",
      "null property equals null",
      { field: "properties.largeFileSharesState", equals: null },
      true,
    ),
    c("missing", "present property does not equal null", { field: TLS, equals: null }, false),
    c("case", "string compares case-insensitively", { field: TLS, equals: "tls1_0" }, true),
    c(
      "case",
      "operator, key and path in any case",
      { FIELD: "PROPERTIES.MinimumTLSVersion", EQUALS: "TLS1_0" },
      true,
    ),
    c("more", "boolean", { field: "properties.supportsHttpsTrafficOnly", equals: true }, true),
    c("more", "boolean mismatch", { field: "properties.allowBlobPublicAccess", equals: true }, false),
    c(
      "more",
      "boolean equals its string form",
      { field: "properties.supportsHttpsTrafficOnly", equals: "True" },
      true,
    ),
    c(
      "more",
      "boolean does not equal other strings",
      { field: "properties.supportsHttpsTrafficOnly", equals: "yes" },
      false,
    ),
    c("more", "number", { field: "properties.keyExpirationPeriodInDays", equals: 90 }, true),
    c("more", "number mismatch", { field: "properties.keyExpirationPeriodInDays", equals: 30 }, false),
    c(
      "more",
      "number equals a numeric string",
      { field: "properties.keyExpirationPeriodInDays", equals: "90" },
      true,
    ),
    c("more", "numeric string equals a number", { field: PORT, equals: 3389 }, true, webNsg),
    c(
      "more",
      "number does not equal a non-numeric string",
      { field: "properties.keyExpirationPeriodInDays", equals: "ninety" },
      false,
    ),
    c(
      "more",
      "object: deep, keys case-insensitive",
      { field: "properties.encryption.services.file", equals: { Enabled: "true" } },
      true,
    ),
    c(
      "more",
      "object: different value",
      { field: "properties.encryption.services.file", equals: { enabled: false } },
      false,
    ),
    c(
      "more",
      "object: extra key",
      { field: "properties.encryption.services.file", equals: { enabled: true, x: 1 } },
      false,
    ),
    c(
      "more",
      "array: deep, elements case-insensitive",
      { field: "properties.capabilities", equals: ["blobversioning", "SFTP"] },
      true,
    ),
    c(
      "more",
      "array: order matters",
      { field: "properties.capabilities", equals: ["SFTP", "BlobVersioning"] },
      false,
    ),
    c("more", "array vs scalar", { field: "properties.capabilities", equals: "SFTP" }, false),
    c("more", "type", { field: "type", equals: "microsoft.storage/storageAccounts" }, true),
    c("more", "name", { field: "name", equals: "STPRODLOGS" }, true),
    c("more", "kind", { field: "kind", equals: "storagev2" }, true),
    c("more", "location", { field: "location", equals: "WestEurope" }, true),
    c("more", "id", { field: "id", equals: storage.id.toUpperCase() }, true),
    c("more", "resourceGroup", { field: "resourceGroup", equals: "RG-PROD" }, true),
    c("more", "null location equals null", { field: "location", equals: null }, true, {
      ...storage,
      location: null,
    }),
  ],
  notEquals: [
    c("true", "other string", { field: TLS, notEquals: "TLS1_2" }, true),
    c("false", "same string", { field: TLS, notEquals: "TLS1_0" }, false),
    c("missing", "missing field", { field: MISSING, notEquals: 7 }, true),
    c("missing", "missing field vs null", { field: MISSING, notEquals: null }, false),
    c("case", "string compares case-insensitively", { field: TLS, notEquals: "tls1_0" }, false),
    c("more", "number vs numeric string", { field: PRIORITY, notEquals: "300" }, false, webNsg),
  ],
  in: [
    c("true", "listed", { field: "location", in: ["northeurope", "westeurope"] }, true),
    c("false", "not listed", { field: "location", in: ["eastus", "westus"] }, false),
    c("missing", "missing field", { field: MISSING, in: [1, 7, 30] }, false),
    c("missing", "missing field in a list with null", { field: MISSING, in: [null, 7] }, true),
    c("case", "case-insensitive", { field: "location", in: ["WESTEUROPE"] }, true),
    c("more", "numeric string in numbers", { field: PORT, in: [22, 3389] }, true, webNsg),
    c(
      "more",
      "array value listed as a whole",
      { field: "properties.capabilities", in: [["BlobVersioning", "SFTP"]] },
      true,
    ),
    c("more", "empty list", { field: "location", in: [] }, false),
  ],
  notIn: [
    c("true", "not listed", { field: "location", notIn: ["eastus", "westus"] }, true),
    c("false", "listed", { field: "location", notIn: ["westeurope"] }, false),
    c("missing", "missing field", { field: MISSING, notIn: [7] }, true),
    c("case", "case-insensitive", { field: "location", notIn: ["WestEurope"] }, false),
  ],
  contains: [
    c(
      "true",
      "substring",
      { field: "properties.primaryEndpoints.blob", contains: "blob.core.windows.net" },
      true,
    ),
    c("false", "no substring", { field: "properties.primaryEndpoints.blob", contains: "queue" }, false),
    c("missing", "missing field", { field: MISSING, contains: "x" }, false),
    c(
      "case",
      "substring case-insensitively",
      { field: "properties.primaryEndpoints.blob", contains: "BLOB.Core" },
      true,
    ),
    c(
      "case",
      "array element case-insensitively",
      { field: "properties.capabilities", contains: "sftp" },
      true,
    ),
    c("more", "array element", { field: "properties.capabilities", contains: "BlobVersioning" }, true),
    c("more", "array without the element", { field: "properties.capabilities", contains: "NFSv3" }, false),
    c(
      "more",
      "array of objects contains an object",
      { field: "properties.networkAcls.ipRules", contains: { value: "198.51.100.7", action: "allow" } },
      true,
    ),
    c(
      "more",
      "number is not a string",
      { field: "properties.keyExpirationPeriodInDays", contains: "9" },
      false,
    ),
    c(
      "more",
      "string does not contain a number",
      { field: "properties.primaryEndpoints.blob", contains: 1 },
      false,
    ),
  ],
  notContains: [
    c("true", "no substring", { field: "properties.primaryEndpoints.blob", notContains: "queue" }, true),
    c("false", "substring", { field: "properties.primaryEndpoints.blob", notContains: "stprodlogs" }, false),
    c("missing", "missing field", { field: MISSING, notContains: "x" }, true),
    c("case", "case-insensitive", { field: "properties.capabilities", notContains: "SFtp" }, false),
  ],
  containsKey: [
    c("true", "key present", { field: "properties.encryption.services", containsKey: "blob" }, true),
    c("false", "key absent", { field: "properties.encryption.services", containsKey: "queue" }, false),
    c("missing", "missing field", { field: MISSING, containsKey: "x" }, false),
    c(
      "case",
      "key case-insensitively",
      { field: "properties.encryption.services", containsKey: "BLOB" },
      true,
    ),
    c("more", "tags object", { field: "tags", containsKey: "Cost.Center" }, true),
    c("more", "null-valued key is a key", { field: "properties", containsKey: "largeFileSharesState" }, true),
    c("more", "string has no keys", { field: TLS, containsKey: "length" }, false),
    c("more", "prototype members are not keys", { field: "properties", containsKey: "constructor" }, false),
  ],
  notContainsKey: [
    c("true", "key absent", { field: "properties.encryption.services", notContainsKey: "queue" }, true),
    c("false", "key present", { field: "properties.encryption.services", notContainsKey: "file" }, false),
    c("missing", "missing field", { field: MISSING, notContainsKey: "x" }, true),
    c("case", "case-insensitive", { field: "tags", notContainsKey: "ENV" }, false),
  ],
  like: [
    c("true", "prefix wildcard", { field: "name", like: "stprod*" }, true),
    c("false", "no match", { field: "name", like: "*dev*" }, false),
    c("missing", "missing field", { field: MISSING, like: "*" }, false),
    c("case", "case-insensitive", { field: "name", like: "STPROD*" }, true),
    c("more", "no wildcard is whole-string equality", { field: "name", like: "stprodlogs" }, true),
    c("more", "no wildcard, partial", { field: "name", like: "stprod" }, false),
    c("more", "suffix wildcard", { field: "type", like: "*/storageAccounts" }, true),
    c("more", "several wildcards", { field: "name", like: "st*od*gs" }, true),
    c("more", "several wildcards in the wrong order", { field: "name", like: "st*gs*od" }, false),
    c("more", "parts must not overlap", { field: "name", like: "stprodlogs*logs" }, false),
    c("more", "star matches empty", { field: "name", like: "stprodlogs*" }, true),
    c("more", "number by its text", { field: PORT, like: "33*" }, true, webNsg),
    c("more", "object never matches", { field: "properties.encryption", like: "*" }, false),
  ],
  notLike: [
    c("true", "no match", { field: "name", notLike: "*dev*" }, true),
    c("false", "match", { field: "name", notLike: "*logs" }, false),
    c("missing", "missing field", { field: MISSING, notLike: "*" }, true),
    c("case", "case-insensitive", { field: "name", notLike: "*LOGS" }, false),
  ],
  match: [
    c("true", "digits and literals", { field: TLS, match: "TLS#_#" }, true),
    c("false", "letter expected where a digit is", { field: TLS, match: "TLS?_#" }, false),
    c("missing", "missing field", { field: MISSING, match: "##" }, false),
    c("case", "match is case-sensitive", { field: TLS, match: "tls#_#" }, false),
    c("more", "dot is any character", { field: TLS, match: "T.S..." }, true),
    c("more", "question mark is a letter", { field: "name", match: "??????????" }, true),
    c("more", "whole string only", { field: "name", match: "?????????" }, false),
    c("more", "pattern with dashes", { field: "resourceGroup", match: "??-????" }, true),
  ],
  notMatch: [
    c("true", "no match", { field: TLS, notMatch: "TLS#_#_#" }, true),
    c("false", "match", { field: TLS, notMatch: "TLS#_#" }, false),
    c("missing", "missing field", { field: MISSING, notMatch: "##" }, true),
    c("case", "case-sensitive", { field: TLS, notMatch: "tls#_#" }, true),
  ],
  matchInsensitively: [
    c("true", "same case", { field: TLS, matchInsensitively: "TLS#_#" }, true),
    c("false", "no match", { field: TLS, matchInsensitively: "SSL#_#" }, false),
    c("missing", "missing field", { field: MISSING, matchInsensitively: "##" }, false),
    c("case", "other case", { field: TLS, matchInsensitively: "tls#_#" }, true),
  ],
  notMatchInsensitively: [
    c("true", "no match", { field: TLS, notMatchInsensitively: "SSL#_#" }, true),
    c("false", "match", { field: TLS, notMatchInsensitively: "TLS#_#" }, false),
    c("missing", "missing field", { field: MISSING, notMatchInsensitively: "##" }, true),
    c("case", "other case", { field: TLS, notMatchInsensitively: "tLs#_#" }, false),
  ],
  exists: [
    c("true", "present field exists", { field: TLS, exists: true }, true),
    c("false", "present field, exists false", { field: TLS, exists: false }, false),
    c("missing", "missing field, exists false", { field: MISSING, exists: false }, true),
    c("missing", "missing field, exists true", { field: MISSING, exists: true }, false),
    c(
      "missing",
      "null property does not exist",
      { field: "properties.largeFileSharesState", exists: true },
      false,
    ),
    c("case", "string operand in any case", { field: TLS, Exists: "TRUE" }, true),
    c("case", "false as a string", { field: MISSING, exists: "False" }, true),
    c(
      "more",
      "false-valued property exists",
      { field: "properties.allowBlobPublicAccess", exists: true },
      true,
    ),
    c("more", "missing tag", { field: "tags.owner", exists: false }, true),
    c("more", "tags object exists", { field: "tags", exists: true }, true),
  ],
  greater: [
    c("true", "number", { field: "properties.keyExpirationPeriodInDays", greater: 30 }, true),
    c("false", "equal number", { field: "properties.keyExpirationPeriodInDays", greater: 90 }, false),
    c("missing", "missing field", { field: MISSING, greater: 0 }, false),
    c("case", "strings case-insensitively", { field: TLS, greater: "tls0_9" }, true),
    c(
      "more",
      "number vs numeric string operand",
      { field: "properties.keyExpirationPeriodInDays", greater: "89.5" },
      true,
    ),
    c("more", "numeric string field vs number", { field: PORT, greater: 1024 }, true, webNsg),
    c(
      "more",
      "ISO dates compare as strings",
      { field: "properties.creationTime", greater: "2024-01-01T00:00:00Z" },
      true,
    ),
    c(
      "more",
      "boolean is not comparable",
      { field: "properties.supportsHttpsTrafficOnly", greater: 0 },
      false,
    ),
    c(
      "more",
      "number vs non-numeric string",
      { field: "properties.keyExpirationPeriodInDays", greater: "abc" },
      false,
    ),
    c("more", "strings are ordinal, not numeric", { field: PORT, greater: "443" }, false, webNsg),
  ],
  greaterOrEquals: [
    c("true", "equal number", { field: "properties.keyExpirationPeriodInDays", greaterOrEquals: 90 }, true),
    c(
      "false",
      "smaller number",
      { field: "properties.keyExpirationPeriodInDays", greaterOrEquals: 91 },
      false,
    ),
    c("missing", "missing field", { field: MISSING, greaterOrEquals: 0 }, false),
    c("case", "equal strings in other case", { field: TLS, greaterOrEquals: "tls1_0" }, true),
    c("more", "dates", { field: "properties.creationTime", greaterOrEquals: "2025-01-01" }, false),
  ],
  less: [
    c("true", "number", { field: PRIORITY, less: 4096 }, true, webNsg),
    c("false", "equal number", { field: PRIORITY, less: 300 }, false, webNsg),
    c("missing", "missing field", { field: MISSING, less: 100 }, false),
    c("case", "strings case-insensitively", { field: TLS, less: "tls1_2" }, true),
    c("more", "array is not comparable", { field: "properties.capabilities", less: "z" }, false),
  ],
  lessOrEquals: [
    c("true", "equal number", { field: PRIORITY, lessOrEquals: 300 }, true, webNsg),
    c("false", "greater number", { field: PRIORITY, lessOrEquals: 299 }, false, webNsg),
    c("missing", "missing field", { field: MISSING, lessOrEquals: 100 }, false),
    c("case", "equal strings in other case", { field: TLS, lessOrEquals: "tls1_0" }, true),
    c(
      "more",
      "dates",
      { field: "properties.creationTime", lessOrEquals: "2024-03-01T10:00:00.0000000Z" },
      true,
    ),
  ],
};

describe("operators", () => {
  describe.each(Object.entries(OPERATOR_CASES))("%s", (_operator, cases) => {
    it.each(cases)("[$kind] $name → $expected", ({ condition, expected, resource }) => {
      expect(holds(condition, resource)).toBe(expected);
    });
  });

  it("covers every operator with a true, false, missing-field and case-insensitivity case", () => {
    const operators = [
      ...["equals", "in", "contains", "containsKey", "like", "match", "matchInsensitively"].flatMap((o) => [
        o,
        `not${o[0].toUpperCase()}${o.slice(1)}`,
      ]),
      "exists",
      "greater",
      "greaterOrEquals",
      "less",
      "lessOrEquals",
    ];
    expect(Object.keys(OPERATOR_CASES).sort()).toEqual([...operators].sort());
    for (const operator of operators) {
      const kinds = new Set(OPERATOR_CASES[operator].map((x) => x.kind));
      expect([operator, ["true", "false", "missing", "case"].every((k) => kinds.has(k as Kind))]).toEqual([
        operator,
        true,
      ]);
    }
  });
});

describe("value conditions", () => {
  it.each([
    ["equals, case-insensitive", { value: "westeurope", equals: "WestEurope" }, true],
    ["notEquals", { value: "westeurope", notEquals: "WestEurope" }, false],
    ["array contains", { value: [1, 2, 3], contains: 2 }, true],
    ["object containsKey", { value: { a: 1 }, containsKey: "A" }, true],
    ["null does not exist", { value: null, exists: false }, true],
    ["like", { value: "Standard_LRS", like: "standard_*" }, true],
    ["greater", { value: "10", greater: 9 }, true],
    ["escaped leading bracket is a literal", { value: "[[literal]", equals: "[[LITERAL]" }, true],
    ["escaped literal keeps one bracket", { value: "[[literal]", like: "[literal*" }, true],
    ["escaped bracket in an operand", { field: "name", equals: "[[stprodlogs]" }, false],
  ])("%s", (_name, condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Paths
// ----------------------------------------------------------------------------------------------------------------

describe("field paths", () => {
  const ambiguous = withProperties({ mode: "lower", Mode: "upper", nested: { "Key.With.Dots": "dotted" } });

  it.each([
    ["tags.<name>", { field: "tags.env", equals: "prod" }, storage, true],
    ["tag names are case-insensitive", { field: "tags.ENV", equals: "Prod" }, storage, true],
    ["tags['<name with dots>']", { field: "tags['cost.center']", equals: "CC-42" }, storage, true],
    ["tags['<name with spaces>']", { field: "tags['owner team']", equals: "SecOps" }, storage, true],
    ["tags[<name>] without quotes", { field: "tags[owner team]", equals: "secops" }, storage, true],
    ["doubled quote inside brackets", { field: "tags['it''s']", equals: "quoted" }, storage, true],
    ["missing tag", { field: "tags['cost.centre']", exists: true }, storage, false],
    ["root in any case", { field: "TAGS.env", exists: true }, storage, true],
    [
      "properties segments case-insensitively",
      { field: "Properties.NetworkAcls.DEFAULTACTION", equals: "Allow" },
      storage,
      true,
    ],
    ["exact segment match first", { field: "properties.Mode", equals: "upper" }, ambiguous, true],
    ["exact segment match first (lower)", { field: "properties.mode", equals: "lower" }, ambiguous, true],
    [
      "bracketed property name",
      { field: "properties['odata.type']", like: "Microsoft.Storage/*" },
      storage,
      true,
    ],
    [
      "bracketed nested name, case-insensitive",
      { field: "properties.nested['key.with.dots']", equals: "dotted" },
      ambiguous,
      true,
    ],
    [
      "numeric index",
      { field: "properties.networkAcls.ipRules[1].value", equals: "198.51.100.7" },
      storage,
      true,
    ],
    [
      "index out of range is missing",
      { field: "properties.networkAcls.ipRules[5].value", exists: false },
      storage,
      true,
    ],
    ["index on an object is missing", { field: "properties.encryption[0]", exists: false }, storage, true],
    [
      "prototype members are not properties",
      { field: "properties.constructor", exists: false },
      storage,
      true,
    ],
    ["__proto__ is not a property", { field: "properties.__proto__", exists: false }, storage, true],
    [
      "path through a string is missing",
      { field: "properties.minimumTlsVersion.length", exists: false },
      storage,
      true,
    ],
    ["whole properties object", { field: "properties", containsKey: "encryption" }, storage, true],
  ])("%s", (_name, condition, resource, expected) => {
    expect(holds(condition, resource)).toBe(expected);
  });
});

describe("[*] outside count: the condition must hold for every member", () => {
  const nested = withProperties({
    a: [{ b: [{ c: 1 }, { c: 1 }] }, { b: [{ c: 1 }] }],
    mixed: [{ b: [{ c: 1 }] }, { b: [{ c: 2 }] }],
  });

  it.each([
    [
      "all members match",
      { field: "properties.networkAcls.ipRules[*].action", equals: "Allow" },
      storage,
      true,
    ],
    [
      "one member differs",
      { field: "properties.networkAcls.ipRules[*].value", equals: "203.0.113.0/24" },
      storage,
      false,
    ],
    [
      "empty array holds vacuously",
      { field: "properties.networkAcls.virtualNetworkRules[*].action", equals: "Allow" },
      storage,
      true,
    ],
    ["missing array holds vacuously", { field: "properties.missing[*].x", equals: "x" }, storage, true],
    ["non-array holds vacuously", { field: "properties.minimumTlsVersion[*]", equals: "x" }, storage, true],
    [
      "missing member value",
      { field: "properties.networkAcls.ipRules[*].description", exists: false },
      storage,
      true,
    ],
    [
      "missing member value, exists true",
      { field: "properties.networkAcls.ipRules[*].description", exists: true },
      storage,
      false,
    ],
    [
      "negative operator on members",
      { field: "properties.networkAcls.ipRules[*].value", notEquals: "10.0.0.0/8" },
      storage,
      true,
    ],
    [
      "trailing [*]: every element listed",
      { field: "properties.capabilities[*]", in: ["BlobVersioning", "sftp", "NFSv3"] },
      storage,
      true,
    ],
    [
      "trailing [*]: not every element",
      { field: "properties.capabilities[*]", equals: "SFTP" },
      storage,
      false,
    ],
    [
      "not over [*] (some member differs)",
      { not: { field: "properties.capabilities[*]", equals: "SFTP" } },
      storage,
      true,
    ],
    ["nested [*][*] all match", { field: "properties.a[*].b[*].c", equals: 1 }, nested, true],
    ["nested [*][*] one differs", { field: "properties.mixed[*].b[*].c", equals: 1 }, nested, false],
    ["[*] after an index", { field: "properties.a[0].b[*].c", equals: 1 }, nested, true],
  ])("%s", (_name, condition, resource, expected) => {
    expect(holds(condition, resource)).toBe(expected);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// count
// ----------------------------------------------------------------------------------------------------------------

describe("count", () => {
  const ports = nsg([
    { name: "A", direction: "Inbound", access: "Allow", source: "*", ports: ["80", "443"] },
    { name: "B", direction: "Inbound", access: "Allow", source: "*", ports: ["22", "8080"] },
    { name: "C", direction: "Inbound", access: "Deny", source: "*", ports: ["3389"] },
  ]);
  const ipRules = (operator: string, operand: unknown) => ({
    count: { field: "properties.networkAcls.ipRules[*]" },
    [operator]: operand,
  });
  const rulesWithPorts = (where: Record<string, unknown>) => ({
    count: { field: "properties.securityRules[*]", where },
    equals: 1,
  });

  it.each([
    ["RDP from the internet is counted", rdpFromInternet, webNsg, true],
    ["per-member: conditions met by different rules do not combine", rdpFromInternet, lockedNsg, false],
    ["no rules", rdpFromInternet, emptyNsg, false],
    ["without where: array length", ipRules("equals", 2), storage, true],
    ["notEquals", ipRules("notEquals", 2), storage, false],
    ["greater", ipRules("greater", 1), storage, true],
    ["greaterOrEquals", ipRules("greaterOrEquals", 3), storage, false],
    ["less", ipRules("less", 3), storage, true],
    ["lessOrEquals", ipRules("lessOrEquals", 1), storage, false],
    ["in", ipRules("in", [0, 2]), storage, true],
    ["notIn", ipRules("notIn", [0, 2]), storage, false],
    [
      "empty array counts 0",
      { count: { field: "properties.networkAcls.virtualNetworkRules[*]" }, equals: 0 },
      storage,
      true,
    ],
    ["missing array counts 0", { count: { field: "properties.missing[*]" }, equals: 0 }, storage, true],
    ["non-array counts 0", { count: { field: "properties.minimumTlsVersion[*]" }, less: 1 }, storage, true],
    [
      "keys in any case",
      {
        COUNT: {
          Field: "properties.securityRules[*]",
          WHERE: { field: "properties.securityRules[*].properties.access", equals: "deny" },
        },
        Equals: 1,
      },
      webNsg,
      true,
    ],
    [
      "where on the counted path itself: the current element",
      {
        count: {
          field: "properties.capabilities[*]",
          where: { field: "properties.capabilities[*]", equals: "sftp" },
        },
        equals: 1,
      },
      storage,
      true,
    ],
    [
      "where on a field outside the array reads the resource",
      {
        count: { field: "properties.securityRules[*]", where: { field: "location", equals: "westeurope" } },
        equals: 3,
      },
      webNsg,
      true,
    ],
    [
      "where with [*] below the current element: all of its members",
      rulesWithPorts({
        field: "properties.securityRules[*].properties.destinationPortRanges[*]",
        like: "3*",
      }),
      ports,
      true,
    ],
    [
      "nested count: inner array of the current element only",
      rulesWithPorts({
        allOf: [
          { field: "properties.securityRules[*].properties.access", equals: "Allow" },
          {
            count: {
              field: "properties.securityRules[*].properties.destinationPortRanges[*]",
              where: {
                field: "properties.securityRules[*].properties.destinationPortRanges[*]",
                in: ["22", "3389"],
              },
            },
            greater: 0,
          },
        ],
      }),
      ports,
      true,
    ],
    [
      "nested count: where reads the outer element",
      {
        count: {
          field: "properties.securityRules[*]",
          where: {
            count: {
              field: "properties.securityRules[*].properties.destinationPortRanges[*]",
              where: {
                allOf: [
                  { field: "properties.securityRules[*].name", equals: "b" },
                  { field: "properties.securityRules[*].properties.destinationPortRanges[*]", greater: 1000 },
                ],
              },
            },
            equals: 1,
          },
        },
        equals: 1,
      },
      ports,
      true,
    ],
    [
      "flattened count across nested arrays",
      { count: { field: "properties.securityRules[*].properties.destinationPortRanges[*]" }, equals: 5 },
      ports,
      true,
    ],
    [
      "flattened count with where",
      {
        count: {
          field: "properties.securityRules[*].properties.destinationPortRanges[*]",
          where: {
            field: "properties.securityRules[*].properties.destinationPortRanges[*]",
            in: ["22", "3389"],
          },
        },
        equals: 2,
      },
      ports,
      true,
    ],
  ])("%s", (_name, condition, resource, expected) => {
    expect(holds(condition, resource)).toBe(expected);
  });

  it("keeps the count condition reusable across resources (no state leaks between calls)", () => {
    const compiled = compileCondition(rdpFromInternet);
    expect([webNsg, lockedNsg, webNsg, emptyNsg, webNsg].map((r) => compiled.test(r))).toEqual([
      true,
      false,
      true,
      false,
      true,
    ]);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Logical operators
// ----------------------------------------------------------------------------------------------------------------

describe("logical operators", () => {
  const tls10 = { field: TLS, equals: "TLS1_0" };
  const tls12 = { field: TLS, equals: "TLS1_2" };
  const storageType = { field: "type", equals: "Microsoft.Storage/storageAccounts" };

  it.each([
    ["allOf, all hold", { allOf: [storageType, tls10] }, true],
    ["allOf, one fails", { allOf: [storageType, tls12] }, false],
    ["anyOf, one holds", { anyOf: [tls12, tls10] }, true],
    ["anyOf, none holds", { anyOf: [tls12, { field: "location", equals: "eastus" }] }, false],
    ["not of a holding condition", { not: tls10 }, false],
    ["not of a failing condition", { not: tls12 }, true],
    ["double not", { not: { not: tls10 } }, true],
    ["single-element allOf", { allOf: [tls10] }, true],
    ["keys in any case", { ALLOF: [{ AnyOf: [tls12, { NOT: tls12 }] }] }, true],
    [
      "Azure-style: storage account without secure transfer or with old TLS",
      {
        allOf: [
          storageType,
          {
            anyOf: [
              { field: "properties.supportsHttpsTrafficOnly", equals: false },
              { field: TLS, notIn: ["TLS1_2", "TLS1_3"] },
            ],
          },
        ],
      },
      true,
    ],
  ])("%s", (_name, condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Malformed resources
// ----------------------------------------------------------------------------------------------------------------

describe("malformed resources never throw", () => {
  const cyclic: Record<string, unknown> = { securityRules: [] };
  cyclic.self = cyclic;
  (cyclic.securityRules as unknown[]).push(cyclic);
  const throwing = Object.defineProperty({}, "minimumTlsVersion", {
    enumerable: true,
    get() {
      throw new Error("boom");
    },
  }) as Record<string, unknown>;

  const malformed: [string, PolicyResource][] = [
    ["properties null", { ...storage, properties: null as unknown as Record<string, unknown> }],
    ["properties an array", { ...storage, properties: [] as unknown as Record<string, unknown> }],
    ["properties a string", { ...storage, properties: "x" as unknown as Record<string, unknown> }],
    ["properties with nulls", withProperties({ securityRules: null, networkAcls: { ipRules: [null, 1] } })],
    [
      "array where an object is expected",
      withProperties({ networkAcls: [], encryption: [[1]], securityRules: { properties: {} } }),
    ],
    [
      "string where an array is expected",
      withProperties({ securityRules: "rule", capabilities: "SFTP", networkAcls: { ipRules: "x" } }),
    ],
    [
      "array members of the wrong type",
      withProperties({ securityRules: [null, 1, "x", [], { properties: null }] }),
    ],
    ["tags null", { ...storage, tags: null as unknown as Record<string, string> }],
    ["tags an array", { ...storage, tags: ["env"] as unknown as Record<string, string> }],
    ["location and resource group null", { ...storage, location: null, resourceGroup: null }],
    ["cyclic properties", withProperties(cyclic)],
    ["throwing getter", withProperties(throwing)],
    ["resource null", null as unknown as PolicyResource],
    ["resource a number", 7 as unknown as PolicyResource],
  ];
  const conditions = [
    ...Object.values(OPERATOR_CASES).flatMap((cases) => cases.map((x) => x.condition)),
    rdpFromInternet,
    { field: "properties.securityRules[*].properties.access", equals: "Allow" },
    { field: "properties", equals: { securityRules: [] } },
    { field: "properties.self", equals: { self: { self: { self: {} } } } },
    { field: "properties.securityRules", contains: { securityRules: [] } },
    {
      count: {
        field: "properties.networkAcls.ipRules[*]",
        where: { field: "properties.networkAcls.ipRules[*].value", like: "10.*" },
      },
      equals: 0,
    },
    { count: { field: "properties.securityRules[*].properties.destinationPortRanges[*]" }, greater: 0 },
    { field: "tags['cost.center']", exists: false },
  ].map((condition) => compileCondition(condition));

  it.each(malformed)("%s", (_name, resource) => {
    for (const compiled of conditions) {
      const result = compiled.test(resource);
      expect(typeof result).toBe("boolean");
      const explanation = compiled.explain(resource);
      expect(explanation === null || typeof explanation === "string").toBe(true);
      expect(explanation !== null).toBe(result);
    }
  });

  it.each([
    [
      "[*] through a string holds vacuously",
      { field: "properties.securityRules[*].properties.access", equals: "Allow" },
      withProperties({ securityRules: "rule" }),
      true,
    ],
    [
      "count through a string is 0",
      { count: { field: "properties.securityRules[*]" }, equals: 0 },
      withProperties({ securityRules: "rule" }),
      true,
    ],
    [
      "count of wrong-typed members",
      {
        count: {
          field: "properties.securityRules[*]",
          where: { field: "properties.securityRules[*].properties.access", exists: false },
        },
        equals: 5,
      },
      withProperties({ securityRules: [null, 1, "x", [], { properties: null }] }),
      true,
    ],
    [
      "path through an array is missing",
      { field: "properties.networkAcls.defaultAction", exists: false },
      withProperties({ networkAcls: [] }),
      true,
    ],
    [
      "null properties: nothing exists",
      { field: TLS, exists: false },
      { ...storage, properties: null as unknown as Record<string, unknown> },
      true,
    ],
    [
      "null tags: no tag exists",
      { field: "tags.env", exists: false },
      { ...storage, tags: null as unknown as Record<string, string> },
      true,
    ],
    [
      "cyclic data compares without looping",
      { field: "properties.self", equals: { self: { self: {} } } },
      withProperties(cyclic),
      false,
    ],
    [
      "throwing getter: the condition does not hold",
      { field: TLS, exists: false },
      withProperties(throwing),
      false,
    ],
  ])("%s", (_name, condition, resource, expected) => {
    expect(holds(condition, resource)).toBe(expected);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Validation
// ----------------------------------------------------------------------------------------------------------------

type Expected = [path: string, message: string];
const problemsOf = (condition: unknown, options?: { maxDepth?: number; maxNodes?: number }): Expected[] =>
  validateCondition(condition, options).map((p: PolicyProblem) => [p.path, p.message]);
/** Problems as [path, message fragment]: the message must contain the fragment. */
const like = (expected: Expected[]) =>
  expected.map(([path, message]) => [path, expect.stringContaining(message)]);

describe("validation", () => {
  const leaf = { field: "name", equals: "x" };

  it.each([
    ["a simple leaf", leaf],
    [
      "every operator with a well-typed operand",
      { allOf: Object.values(OPERATOR_CASES).map((cases) => cases[0].condition) },
    ],
    ["the RDP rule", rdpFromInternet],
    ["a shared (acyclic) sub-condition", { allOf: [leaf, leaf, { not: leaf }] }],
    ["escaped brackets", { field: "name", in: ["[[x]", "[[y]"] }],
    ["exists as a string", { field: "name", exists: "false" }],
    ["count compared with in", { count: { field: "properties.a[*]" }, in: [1, 2] }],
    ["32 levels of nesting", Array.from({ length: 32 }).reduce<unknown>((inner) => ({ not: inner }), leaf)],
  ])("accepts %s", (_name, condition) => {
    expect(validateCondition(condition)).toEqual([]);
  });

  describe("structure", () => {
    it.each<[string, unknown, Expected[]]>([
      [
        "unknown operator",
        { field: "name", equal: "x" },
        [
          ["$.equal", 'unknown operator "equal" (did you mean "equals"?)'],
          ["$", 'missing operator for "field"'],
        ],
      ],
      [
        "unknown key far from any operator",
        { field: "name", equals: "x", severity: "high" },
        [["$.severity", 'unknown operator "severity"']],
      ],
      [
        "two operators in one object",
        { field: "name", equals: "a", notEquals: "b" },
        [["$", 'exactly one operator; found "equals" and "notEquals"']],
      ],
      ["missing operator", { field: "name" }, [["$", 'missing operator for "field"']]],
      [
        "operator without subject",
        { equals: "x" },
        [["$", 'missing "field", "value" or "count" for operator "equals"']],
      ],
      ["empty object", {}, [["$", "empty condition"]]],
      [
        "logical and field together",
        { allOf: [leaf], field: "name", equals: "x" },
        [["$", 'found "allOf" and "field" and "equals"']],
      ],
      ["two logical operators", { allOf: [leaf], anyOf: [leaf] }, [["$", 'found "allOf" and "anyOf"']]],
      [
        "field and value together",
        { field: "name", value: "x", equals: "x" },
        [["$", 'exactly one of field, value or count; found "field" and "value"']],
      ],
      [
        "duplicate key in another case",
        { field: "name", Field: "type", equals: "x" },
        [["$.Field", 'duplicate key "Field"']],
      ],
      [
        "where outside count",
        { field: "name", equals: "x", where: leaf },
        [["$.where", '"where" is only allowed inside "count"']],
      ],
      [
        "allOf not an array",
        { allOf: leaf },
        [["$.allOf", "allOf must be an array of conditions, got an object"]],
      ],
      ["anyOf empty", { anyOf: [] }, [["$.anyOf", "anyOf must not be empty"]]],
      ["not an array", { not: [leaf] }, [["$.not", "must be a condition object, got an array"]]],
      [
        "array element not an object",
        { allOf: [leaf, 1, "x"] },
        [
          ["$.allOf[1]", "got the number 1"],
          ["$.allOf[2]", "got the string"],
        ],
      ],
      ["root an array", [leaf], [["$", "must be a condition object, got an array"]]],
      ["root null", null, [["$", "must be a condition object, got null"]]],
      [
        "field not a string",
        { field: 5, equals: 5 },
        [["$.field", "field must be a string, got the number 5"]],
      ],
      [
        "nested paths are named",
        { allOf: [leaf, leaf, { not: { anyOf: [{ field: "name", in: "x" }] } }] },
        [["$.allOf[2].not.anyOf[0].in", "in needs an array"]],
      ],
      [
        "odd keys are quoted in paths",
        { field: "name", "my key": 1 },
        [
          ['$["my key"]', 'unknown operator "my key"'],
          ["$", "missing operator"],
        ],
      ],
    ])("%s", (_name, condition, expected) => {
      expect(problemsOf(condition)).toEqual(like(expected));
    });
  });

  describe("operand types", () => {
    it.each<[string, unknown, string]>([
      ["in", "westeurope", "in needs an array, got the string"],
      ["notIn", { a: 1 }, "notIn needs an array, got an object"],
      ["containsKey", 1, "containsKey needs a string, got the number 1"],
      ["notContainsKey", ["a"], "notContainsKey needs a string, got an array"],
      ["like", 1, "like needs a string"],
      ["notLike", null, "notLike needs a string, got null"],
      ["match", [], "match needs a string"],
      ["notMatch", true, "notMatch needs a string, got true"],
      ["matchInsensitively", {}, "matchInsensitively needs a string"],
      ["notMatchInsensitively", 3, "notMatchInsensitively needs a string"],
      ["exists", "yes", "exists needs true or false"],
      ["exists", 1, "exists needs true or false"],
      ["greater", true, "greater needs a number or a string, got true"],
      ["greaterOrEquals", null, "greaterOrEquals needs a number or a string"],
      ["less", [1], "less needs a number or a string, got an array"],
      ["lessOrEquals", {}, "lessOrEquals needs a number or a string"],
      ["equals", undefined, "is not a JSON value (got undefined)"],
      ["notEquals", () => 1, "is not a JSON value (got a function)"],
      ["contains", NaN, "is not a JSON value"],
      ["notContains", new Date(0), "is not a JSON value (got a non-plain object)"],
      ["equals", BigInt(1), "is not a JSON value (got a bigint)"],
      ["in", [1, Symbol("s")], "is not a JSON value (got a symbol)"],
    ])("%s: %p", (operator, operand, message) => {
      const problems = validateCondition({ field: "name", [operator]: operand });
      expect(problems).toHaveLength(1);
      expect(problems[0].path).toMatch(new RegExp(`^\\$\\.${operator}(\\[\\d+\\])?$`));
      expect(problems[0].message).toContain(message);
    });
  });

  describe("count", () => {
    it.each<[string, unknown, Expected[]]>([
      [
        "string operator",
        { count: { field: "properties.a[*]" }, like: "1*" },
        [["$.like", 'operator "like" cannot be used with count']],
      ],
      [
        "non-numeric operand",
        { count: { field: "properties.a[*]" }, equals: "1" },
        [["$.equals", "a count is compared with a number"]],
      ],
      [
        "non-numeric list element",
        { count: { field: "properties.a[*]" }, in: [1, "2"] },
        [["$.in[1]", "a count is compared with numbers"]],
      ],
      [
        "field not ending in [*]",
        { count: { field: "properties.a[*].b" }, equals: 1 },
        [["$.count.field", "count field must be an array path ending in [*]"]],
      ],
      ["field without [*]", { count: { field: "name" }, equals: 1 }, [["$.count.field", "ending in [*]"]]],
      [
        "value count",
        { count: { value: [1, 2], name: "n", where: leaf }, equals: 1 },
        [["$.count.value", "value count is not supported"]],
      ],
      ["missing field", { count: { where: leaf }, equals: 1 }, [["$.count", 'count needs "field"']]],
      [
        "unknown key",
        { count: { field: "properties.a[*]", filter: leaf }, equals: 1 },
        [["$.count.filter", 'unknown key "filter" in count']],
      ],
      ["not an object", { count: "properties.a[*]", equals: 1 }, [["$.count", "count must be an object"]]],
      [
        "bad where",
        { count: { field: "properties.a[*]", where: { field: "properties.a[*].b", in: 1 } }, equals: 1 },
        [["$.count.where.in", "in needs an array"]],
      ],
    ])("%s", (_name, condition, expected) => {
      expect(problemsOf(condition)).toEqual(like(expected));
    });
  });

  describe("field paths", () => {
    it.each<[string, string]>([
      ["foo", 'unknown field "foo"'],
      ["", "it is empty"],
      ["properties..x", "empty property name at position 11"],
      ["properties.", "empty property name"],
      ["properties.a.", "empty property name"],
      ["properties.a[", 'unterminated "["'],
      ["properties.a['b", "unterminated quoted name"],
      ["properties.a['b'x]", 'expected "]" after the quoted name'],
      ["properties.a[x]", "expected [*], [<index>] or ['<name>']"],
      ["properties.a[-1]", "expected [*], [<index>] or ['<name>']"],
      ["properties.a[*]x", 'unexpected "x"'],
      ["properties.a b", "needs brackets"],
      ["properties[*]", "must follow a property name"],
      ["properties[0].a", "must follow a property name"],
      ["propertiesx.a", 'unknown field "propertiesx"'],
      [".properties", 'unknown field ""'],
      ["name.first", '"name" has no sub-fields'],
      ["type[*]", '"type" has no sub-fields'],
      ["tags.", "empty tag name"],
      ["tags.a.b", "need tags['<name>']"],
      ["tags[*]", "tags are addressed by name"],
      ["tags['a'].b", "tags have no sub-fields"],
      ["tags['']", "empty name in brackets"],
      [`properties${".a".repeat(65)}`, "more than 64 segments"],
      ["properties.x".padEnd(2000, "x"), "longer than 1024 characters"],
    ])("%p", (field, message) => {
      expect(problemsOf({ field, exists: true })).toEqual(like([["$.field", `invalid field path`]]));
      expect(problemsOf({ field, exists: true })[0][1]).toContain(message);
    });
  });

  describe("template expressions", () => {
    const message = "template expressions are not supported";
    it.each<[string, unknown, string]>([
      ["field", { field: "[concat('tags[', parameters('tagName'), ']')]", exists: false }, "$.field"],
      ["operand", { field: TLS, notEquals: "[parameters('minimumTlsVersion')]" }, "$.notEquals"],
      ["whole in-list", { field: "location", notIn: "[parameters('allowedLocations')]" }, "$.notIn"],
      ["in-list element", { field: "location", in: ["westeurope", "[parameters('extra')]"] }, "$.in[1]"],
      ["value", { value: "[resourceGroup().location]", equals: "westeurope" }, "$.value"],
      [
        "nested in an object operand",
        { field: "properties.encryption", equals: { keySource: "[variables('k')]" } },
        "$.equals.keySource",
      ],
      ["logical operand", { allOf: "[parameters('conditions')]" }, "$.allOf"],
      ["not operand", { not: "[parameters('condition')]" }, "$.not"],
      ["count operand", { count: { field: "properties.a[*]" }, greater: "[parameters('max')]" }, "$.greater"],
      ["count field", { count: { field: "[parameters('array')]" }, greater: 0 }, "$.count.field"],
    ])("%s", (_name, condition, path) => {
      expect(problemsOf(condition)).toEqual(like([[path, message]]));
    });
  });

  describe("limits and hostile input", () => {
    /** `levels` nested wrappers around a leaf, built without recursion. */
    const nest = (levels: number, wrap: (inner: unknown) => unknown) => {
      let condition: unknown = leaf;
      for (let i = 0; i < levels; i++) condition = wrap(condition);
      return condition;
    };

    it.each<[string, (inner: unknown) => unknown, string]>([
      ["not", (inner) => ({ not: inner }), ".not"],
      ["allOf", (inner) => ({ allOf: [inner] }), ".allOf[0]"],
      ["anyOf", (inner) => ({ anyOf: [leaf, inner] }), ".anyOf[1]"],
      [
        "count.where",
        (inner) => ({ count: { field: "properties.a[*]", where: inner }, greater: 0 }),
        ".count.where",
      ],
    ])("reports nesting 1,000 deep (%s) at the level that exceeds 32", (_name, wrap, step) => {
      const condition = nest(1000, wrap);
      const first = step === ".anyOf[1]" ? ".anyOf[0]" : step;
      const problems = validateCondition(condition);
      expect(problems).toEqual([
        {
          path: `$${step.repeat(32)}${first}`,
          message: expect.stringContaining("nested too deeply: more than 32 levels"),
        },
      ]);
    });

    it("does not overflow the stack at 100,000 levels", () => {
      const problems = validateCondition(nest(100_000, (inner) => ({ not: inner })));
      expect(problems).toHaveLength(1);
      expect(problems[0].path).toBe(`$${".not".repeat(33)}`);
    });

    it("honours maxDepth", () => {
      expect(
        problemsOf(
          nest(3, (inner) => ({ not: inner })),
          { maxDepth: 3 },
        ),
      ).toEqual([]);
      expect(
        problemsOf(
          nest(4, (inner) => ({ not: inner })),
          { maxDepth: 3 },
        ),
      ).toEqual(like([["$.not.not.not.not", "more than 3 levels"]]));
    });

    it("reports a 100,000-node condition where the limit is exceeded", () => {
      const condition = {
        allOf: Array.from({ length: 100_000 }, (_, i) => ({ field: "name", equals: `n${i}` })),
      };
      // The root object and the allOf array are nodes 1 and 2, so element 1998 is node 2001.
      expect(problemsOf(condition)).toEqual(
        like([["$.allOf[1998]", "condition is too large: more than 2000 nodes"]]),
      );
    });

    it("counts literal values as nodes too", () => {
      // root, field and in-array are nodes 1-3, so element 1997 is node 2001.
      const condition = { field: "location", in: Array.from({ length: 100_000 }, (_, i) => `region-${i}`) };
      expect(problemsOf(condition)).toEqual(like([["$.in[1997]", "more than 2000 nodes"]]));
      // root 1, field 1, in-array 1, three elements = 6 nodes.
      expect(problemsOf({ field: "location", in: ["a", "b", "c"] }, { maxNodes: 6 })).toEqual([]);
      expect(problemsOf({ field: "location", in: ["a", "b", "c"] }, { maxNodes: 5 })).toEqual(
        like([["$.in[2]", "more than 5 nodes"]]),
      );
    });

    it("stops at the node limit of a wide and deep tree without exploring it", () => {
      const wide = {
        anyOf: Array.from({ length: 1000 }, () => nest(30, (inner) => ({ allOf: [inner, leaf] }))),
      };
      const problems = validateCondition(wide);
      expect(problems).toHaveLength(1);
      expect(problems[0].message).toContain("more than 2000 nodes");
    });

    it("rejects literals nested deeper than 64 levels", () => {
      let value: unknown = 1;
      for (let i = 0; i < 10_000; i++) value = [value];
      expect(problemsOf({ field: "properties.a", equals: value })).toEqual(
        like([[`$.equals${"[0]".repeat(64)}`, "nested deeper than 64 levels"]]),
      );
    });

    it.each<[string, () => unknown, Expected[]]>([
      ["a function", () => () => leaf, [["$", "is not a JSON value (got a function)"]]],
      ["undefined", () => undefined, [["$", "is not a JSON value (got undefined)"]]],
      ["a symbol", () => Symbol("x"), [["$", "is not a JSON value (got a symbol)"]]],
      ["a Map", () => new Map([["field", "name"]]), [["$", "is not a JSON value (got a non-plain object)"]]],
      [
        "a cyclic condition",
        () => {
          const cyclic: Record<string, unknown> = {};
          cyclic.not = { anyOf: [leaf, cyclic] };
          return cyclic;
        },
        [["$.not.anyOf[1]", "cyclic reference"]],
      ],
      [
        "a cyclic operand",
        () => {
          const list: unknown[] = ["a"];
          list.push(list);
          return { field: "name", in: list };
        },
        [["$.in[1]", "cyclic reference"]],
      ],
      [
        "an operand that is the condition itself",
        () => {
          const self: Record<string, unknown> = { field: "properties.x" };
          self.equals = self;
          return self;
        },
        [["$.equals", "cyclic reference"]],
      ],
      ["a null-prototype object", () => Object.assign(Object.create(null), leaf), []],
      [
        "a Proxy that throws",
        () =>
          new Proxy(
            {},
            {
              ownKeys() {
                throw new Error("trap");
              },
            },
          ),
        [["$", "condition could not be read: trap"]],
      ],
      [
        "a throwing getter",
        () =>
          Object.defineProperty({ field: "name" }, "equals", {
            enumerable: true,
            get() {
              throw new Error("getter");
            },
          }),
        [["$", "condition could not be read: getter"]],
      ],
    ])("never throws for %s", (_name, make, expected) => {
      const input = make();
      expect(problemsOf(input)).toEqual(like(expected));
    });

    it("ignores unusable limit options", () => {
      const deep = nest(33, (inner) => ({ not: inner }));
      for (const options of [{ maxDepth: 0 }, { maxDepth: NaN }, { maxDepth: -5 }, { maxNodes: Infinity }]) {
        expect(problemsOf(deep, options)).toEqual(like([[`$${".not".repeat(33)}`, "more than 32 levels"]]));
      }
    });
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Compilation
// ----------------------------------------------------------------------------------------------------------------

describe("compileCondition", () => {
  it("throws PolicyLanguageError carrying every problem", () => {
    const condition = { allOf: [{ field: "foo", equals: 1 }, { field: "name", equal: "x" }, { anyOf: [] }] };
    let error: unknown;
    try {
      compileCondition(condition);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyLanguageError);
    expect(error).toBeInstanceOf(Error);
    const problems = (error as PolicyLanguageError).problems;
    expect(problems.map((p) => p.path)).toEqual([
      "$.allOf[0].field",
      "$.allOf[1].equal",
      "$.allOf[1]",
      "$.allOf[2].anyOf",
    ]);
    expect((error as Error).message).toContain('$.allOf[1].equal: unknown operator "equal"');
  });

  it("throws (not overflows) for a 1,000-deep condition", () => {
    let condition: unknown = { field: "name", exists: true };
    for (let i = 0; i < 1000; i++) condition = { not: condition };
    expect(() => compileCondition(condition)).toThrow(PolicyLanguageError);
  });

  it("lists the fields read, canonically spelt and de-duplicated", () => {
    expect(compileCondition(rdpFromInternet).fields).toEqual([
      "properties.securityRules[*]",
      "properties.securityRules[*].properties.direction",
      "properties.securityRules[*].properties.access",
      "properties.securityRules[*].properties.sourceAddressPrefix",
      "properties.securityRules[*].properties.destinationPortRange",
    ]);
    expect(
      compileCondition({
        anyOf: [
          { field: "TAGS['env']", exists: false },
          { field: "tags.env", equals: "dev" },
          { field: "tags['cost.center']", exists: false },
          { field: "RESOURCEGROUP", like: "rg-*" },
          { value: "x", equals: "x" },
          { field: "properties['odata.type']", exists: true },
        ],
      }).fields,
    ).toEqual(["tags.env", "tags['cost.center']", "resourceGroup", "properties['odata.type']"]);
  });

  it("copies operands, so later changes to the input do not change the compiled condition", () => {
    const allowed = ["westeurope"];
    const condition = { field: "location", in: allowed };
    const compiled = compileCondition(condition);
    allowed.push("eastus");
    condition.field = "name";
    expect(compiled.test({ ...storage, location: "eastus" })).toBe(false);
    expect(compiled.test(storage)).toBe(true);
  });

  it("applies custom limits", () => {
    expect(() => compileCondition({ not: { not: leafOf("name") } }, { maxDepth: 1 })).toThrow(
      /more than 1 levels/,
    );
    expect(() => compileCondition(leafOf("name"), { maxNodes: 2 })).toThrow(/more than 2 nodes/);
  });
});

function leafOf(field: string) {
  return { field, exists: true };
}

describe("explain", () => {
  it.each<[string, unknown, PolicyResource, string | null]>([
    [
      "a leaf with its actual value",
      { field: TLS, equals: "TLS1_0" },
      storage,
      'properties.minimumTlsVersion is "TLS1_0" (equals "TLS1_0")',
    ],
    ["null when the condition does not hold", { field: TLS, equals: "TLS1_2" }, storage, null],
    [
      "a missing field",
      { field: MISSING, exists: "false" },
      storage,
      "properties.diagnostics.retentionDays is missing (exists false)",
    ],
    [
      "allOf: every leaf",
      {
        allOf: [
          { field: "type", equals: "Microsoft.Storage/storageAccounts" },
          { field: TLS, notIn: ["TLS1_2"] },
        ],
      },
      storage,
      'type is "Microsoft.Storage/storageAccounts" (equals "Microsoft.Storage/storageAccounts"); properties.minimumTlsVersion is "TLS1_0" (notIn ["TLS1_2"])',
    ],
    [
      "anyOf: only the leaves that held",
      {
        anyOf: [
          { field: TLS, equals: "TLS1_2" },
          { field: "properties.supportsHttpsTrafficOnly", equals: true },
        ],
      },
      storage,
      "properties.supportsHttpsTrafficOnly is true (equals true)",
    ],
    [
      "not: why the inner condition failed",
      {
        not: {
          anyOf: [
            { field: TLS, equals: "TLS1_2" },
            { field: "location", in: ["eastus"] },
          ],
        },
      },
      storage,
      'properties.minimumTlsVersion is "TLS1_0" (not equals "TLS1_2"); location is "westeurope" (not in ["eastus"])',
    ],
    [
      "[*] with every member",
      { field: "properties.networkAcls.ipRules[*].action", equals: "Allow" },
      storage,
      'properties.networkAcls.ipRules[*].action is ["Allow", "Allow"] (every member: equals "Allow")',
    ],
    [
      "[*] over an empty array",
      { field: "properties.networkAcls.virtualNetworkRules[*].action", equals: "Allow" },
      storage,
      'properties.networkAcls.virtualNetworkRules[*].action has no members (every member: equals "Allow")',
    ],
    [
      "count with the members that were counted",
      rdpFromInternet,
      webNsg,
      "count of properties.securityRules[*] where the condition holds is 1 (greater 0) [member 1: " +
        'properties.securityRules[*].properties.direction is "Inbound" (equals "Inbound"), ' +
        'properties.securityRules[*].properties.access is "Allow" (equals "Allow"), ' +
        'properties.securityRules[*].properties.sourceAddressPrefix is "*" (in ["*","Internet","0.0.0.0/0"]), ' +
        'properties.securityRules[*].properties.destinationPortRange is "3389" (in ["3389","*"])]',
    ],
    [
      "count without where",
      { count: { field: "properties.capabilities[*]" }, equals: 2 },
      storage,
      "count of properties.capabilities[*] is 2 (equals 2)",
    ],
    [
      "not over a count",
      { not: { count: { field: "properties.capabilities[*]" }, greater: 5 } },
      storage,
      "count of properties.capabilities[*] is 2 (not greater 5)",
    ],
    [
      "a value condition",
      { value: "westeurope", equals: "WestEurope" },
      storage,
      'value "westeurope" (equals "WestEurope")',
    ],
  ])("%s", (_name, condition, resource, expected) => {
    expect(compileCondition(condition).explain(resource)).toBe(expected);
  });
});

describe("greater/less compare date-times as instants, as Azure does for date values", () => {
  const at = (creationTime: string): PolicyResource => ({
    ...storage,
    properties: { ...storage.properties, creationTime },
  });
  const holds = (condition: Record<string, unknown>, creationTime: string) =>
    compileCondition(condition).test(at(creationTime));

  it("orders times written with different offsets by the instant they name", () => {
    // 01:00 at +02:00 is 23:00 UTC the day before.
    expect(
      holds({ field: "properties.creationTime", less: "2025-01-01T00:00:00Z" }, "2025-01-01T01:00:00+02:00"),
    ).toBe(true);
    expect(
      holds(
        { field: "properties.creationTime", greater: "2025-01-01T00:00:00Z" },
        "2024-12-31T20:00:00-05:00",
      ),
    ).toBe(true);
  });

  it("takes ARM's seven fractional digits and a missing fraction as the same instant", () => {
    const condition = { field: "properties.creationTime", greaterOrEquals: "2024-03-01T10:00:00Z" };
    expect(holds(condition, "2024-03-01T10:00:00.0000000Z")).toBe(true);
    expect(
      holds(
        { field: "properties.creationTime", lessOrEquals: "2024-03-01T10:00:00Z" },
        "2024-03-01T10:00:00.0000000Z",
      ),
    ).toBe(true);
    expect(
      holds(
        { field: "properties.creationTime", less: "2024-03-01T10:00:00.5Z" },
        "2024-03-01T10:00:00.4999999Z",
      ),
    ).toBe(true);
  });

  it("compares a date with a date-time (a date is its midnight, UTC) and leaves other strings ordinal", () => {
    expect(holds({ field: "properties.creationTime", greater: "2024-03-01" }, "2024-03-01T00:00:01Z")).toBe(
      true,
    );
    expect(holds({ field: "properties.creationTime", less: "2024-03-02" }, "2024-03-01T23:59:59+00:00")).toBe(
      true,
    );
    // Not a date: strings still compare case-insensitively, character by character.
    expect(holds({ field: "properties.creationTime", greater: "tls1_0" }, "TLS1_2")).toBe(true);
  });
});
