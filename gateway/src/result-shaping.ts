import * as federation from "@apollo/federation-internals";
import type {
  CompositeType,
  FieldSelection,
  NamedType,
  Operation,
  Schema,
  SelectionSet,
  Type,
} from "@apollo/federation-internals";
import type { GraphQLError } from "graphql";

// Read once: @apollo/federation-internals re-exports through getters, which cost on every access.
const { ERRORS, Variable, isSubtype, isValidLeafValue } = federation;
const TYPENAME = "__typename";

type ResultMap = Record<string, unknown>;
type Path = (string | number)[];

/** A `@skip` or `@include` of one selection: its constant, or the variable it reads. */
interface Condition {
  /** Printed in the error for a variable that is not a boolean, as resultShaping prints it. */
  directive: { toString(): string };
  constant?: boolean;
  variable?: string;
}

interface CompiledField {
  field: true;
  responseName: string;
  skip?: Condition;
  include?: Condition;
  introspection: boolean;
  typename: boolean;
  type: Type;
  selectionSet?: SelectionSet;
  selection: FieldSelection;
}

interface CompiledFragment {
  field: false;
  skip?: Condition;
  include?: Condition;
  typeCondition?: CompositeType;
  selectionSet: SelectionSet;
  /** typeConditionApplies, per `__typename` seen (or per parent type when there is none). */
  applies: Map<string | NamedType, boolean>;
}

type Compiled = CompiledField | CompiledFragment;

interface Parameters {
  schema: Schema;
  variables: Record<string, unknown>;
  errors: GraphQLError[];
  introspectionHandling: (selection: FieldSelection) => unknown;
  newObject: () => ResultMap;
}

/** Selection sets of prepared operations, compiled on first use (they live as long as their operation). */
const compiledSets = new WeakMap<SelectionSet, Compiled[]>();

/** What shaping needs of an operation as a whole, worked out on its first response. */
interface OperationFacts {
  defaultedVariables: Record<string, unknown>;
  /**
   * Makes the answer's objects. Plain objects, which V8 keeps in fast mode and Apollo Server's
   * `JSON.stringify` of the answer serialises on its fast path, unless a field is answered under a name
   * `Object.prototype` has (an alias may be `__proto__` or `constructor`): `Object.create(null)` then, as
   * computeResponse makes them all, so that reading and setting it stays the object's own field.
   */
  newObject: () => ResultMap;
}
const operationFacts = new WeakMap<Operation, OperationFacts>();

const plainObject = (): ResultMap => ({});
const nullPrototypeObject = (): ResultMap => Object.create(null);

function factsOf(operation: Operation): OperationFacts {
  let facts = operationFacts.get(operation);
  if (!facts) {
    facts = {
      defaultedVariables: operation.collectDefaultedVariableValues(),
      newObject: answersPrototypeName(operation.selectionSet, new Set()) ? nullPrototypeObject : plainObject,
    };
    operationFacts.set(operation, facts);
  }
  return facts;
}

/** Whether a field of `selectionSet`, its fragments or subselections is answered as `__proto__`, `toString`… */
function answersPrototypeName(selectionSet: SelectionSet, seen: Set<SelectionSet>): boolean {
  if (seen.has(selectionSet)) return false;
  seen.add(selectionSet);
  return selectionSet
    .selections()
    .some(
      (selection) =>
        (selection.kind === "FieldSelection" && selection.element.responseName() in Object.prototype) ||
        (selection.selectionSet !== undefined && answersPrototypeName(selection.selectionSet, seen)),
    );
}

/**
 * `computeResponse` of `@apollo/gateway` (its `resultShaping`), for operations executed many times: the
 * same walk over the operation and the same answer — values, nulling, `__typename`, type conditions, errors
 * with their messages and paths — with what it looks up again for every value (each selection's
 * `@skip`/`@include`, its field type, whether a fragment's type condition applies to a `__typename`) worked
 * out once per selection set and kept. `result-shaping.test.ts` holds it to `computeResponse`'s output.
 */
export function shapeResponse({
  operation,
  variables,
  input,
  introspectionHandling,
}: {
  operation: Operation;
  variables?: Record<string, unknown>;
  input: ResultMap | null | undefined;
  introspectionHandling: (selection: FieldSelection) => unknown;
}): { data: ResultMap | null | undefined; errors: GraphQLError[] } {
  if (!input) return { data: input, errors: [] };
  const facts = factsOf(operation);
  const schema = operation.schema();
  const parameters: Parameters = {
    schema,
    variables: { __proto__: null, ...facts.defaultedVariables, ...variables },
    errors: [],
    introspectionHandling,
    newObject: facts.newObject,
  };
  const data = facts.newObject();
  const bubbled = applySelectionSet(
    input,
    operation.selectionSet,
    data,
    parameters,
    [],
    schema.schemaDefinition.rootType(operation.rootKind)!,
  );
  return { data: bubbled ? null : data, errors: parameters.errors };
}

function compile(selectionSet: SelectionSet, schema: Schema): Compiled[] {
  let compiled = compiledSets.get(selectionSet);
  if (compiled) return compiled;
  compiled = selectionSet.selections().map((selection): Compiled => {
    const skip = condition(selection.element.appliedDirectivesOf(schema.skipDirective())[0]);
    const include = condition(selection.element.appliedDirectivesOf(schema.includeDirective())[0]);
    if (selection.kind === "FieldSelection") {
      const field = selection.element;
      return {
        field: true,
        responseName: field.responseName(),
        skip,
        include,
        introspection: field.definition.isSchemaIntrospectionField(),
        typename: field.name === TYPENAME,
        type: field.definition.type!,
        selectionSet: selection.selectionSet,
        selection,
      };
    }
    return {
      field: false,
      skip,
      include,
      typeCondition: selection.element.typeCondition,
      selectionSet: selection.selectionSet,
      applies: new Map(),
    };
  });
  compiledSets.set(selectionSet, compiled);
  return compiled;
}

function condition(
  directive: { arguments(): { if: boolean | federation.Variable }; toString(): string } | undefined,
): Condition | undefined {
  if (!directive) return undefined;
  const value = directive.arguments().if;
  return value instanceof Variable
    ? { directive, variable: value.name }
    : { directive, constant: value as boolean };
}

function conditionValue(condition: Condition, variables: Record<string, unknown>): boolean {
  if (condition.variable === undefined) return condition.constant!;
  const value = variables[condition.variable];
  if (value === undefined || typeof value !== "boolean")
    throw new Error(
      `Unexpected value ${String(value)} for variable $${condition.variable} of ${String(condition.directive)}`,
    );
  return value;
}

function skipped(compiled: Compiled, variables: Record<string, unknown>): boolean {
  return (
    (compiled.skip !== undefined && conditionValue(compiled.skip, variables)) ||
    (compiled.include !== undefined && !conditionValue(compiled.include, variables))
  );
}

/** Whether a fragment applies: resultShaping's `typeConditionApplies`, remembered per typename. */
function applies(
  fragment: CompiledFragment,
  schema: Schema,
  typename: unknown,
  parentType: NamedType,
): boolean {
  const { typeCondition } = fragment;
  if (!typeCondition) return true;
  const key = typename ? (typename as string) : parentType;
  let result = fragment.applies.get(key);
  if (result === undefined) {
    if (typename) {
      const type = schema.type(typename as string);
      result = !!type && isSubtype(typeCondition, type);
    } else result = isSubtype(typeCondition, parentType);
    fragment.applies.set(key, result);
  }
  return result;
}

/** Fills `output` from `input`; true when a non-null field came out null and the nulling bubbles up. */
function applySelectionSet(
  input: ResultMap,
  selectionSet: SelectionSet,
  output: ResultMap,
  parameters: Parameters,
  path: Path,
  parentType: NamedType,
): boolean {
  for (const compiled of compile(selectionSet, parameters.schema)) {
    if ((compiled.skip || compiled.include) && skipped(compiled, parameters.variables)) continue;
    if (compiled.field) {
      const { responseName } = compiled;
      const outputValue = output[responseName];
      if (compiled.introspection) {
        if (outputValue === undefined)
          output[responseName] = parameters.introspectionHandling(compiled.selection);
        continue;
      }
      let inputValue =
        (Object.prototype.hasOwnProperty.call(input, responseName) ? input[responseName] : null) ?? null;
      if (compiled.typename) {
        if (outputValue === undefined) {
          if (inputValue === null && responseName !== TYPENAME) inputValue = input[TYPENAME] ?? null;
          const type =
            inputValue !== null && typeof inputValue === "string"
              ? (parameters.schema.type(inputValue) ?? parentType)
              : parentType;
          if (type.kind !== "ObjectType") return true;
          output[responseName] = type.name;
        }
        continue;
      }
      path.push(responseName);
      const { updated, isInvalid } = updateOutputValue(
        outputValue,
        compiled.type,
        inputValue,
        compiled.selectionSet,
        path,
        parameters,
        parentType,
      );
      output[responseName] = updated;
      path.pop();
      if (isInvalid) return true;
    } else {
      const typename = input[TYPENAME];
      if (typename && typeof typename !== "string")
        throw new Error(`Got unexpected value for __typename: ${String(typename)}`);
      if (
        applies(compiled, parameters.schema, typename, parentType) &&
        applySelectionSet(
          input,
          compiled.selectionSet,
          output,
          parameters,
          path,
          compiled.typeCondition ?? parentType,
        )
      )
        return true;
    }
  }
  return false;
}

function pathLastElementDescription(path: Path, currentType: Type, parentType: NamedType): string {
  const element = path[path.length - 1];
  return typeof element === "string"
    ? `field ${String(parentType)}.${element}`
    : `array element of type ${String(currentType)} at index ${element}`;
}

interface Updated {
  updated: unknown;
  isInvalid?: boolean;
  hasErrors?: boolean;
}

function isComposite(type: Type): type is CompositeType {
  return type.kind === "ObjectType" || type.kind === "InterfaceType" || type.kind === "UnionType";
}

function updateOutputValue(
  outputValue: unknown,
  type: Type,
  inputValue: unknown,
  selectionSet: SelectionSet | undefined,
  path: Path,
  parameters: Parameters,
  parentType: NamedType,
): Updated {
  if (outputValue === null || (outputValue !== undefined && !selectionSet)) return { updated: outputValue };
  if (type.kind === "NonNullType") {
    const { updated, hasErrors } = updateOutputValue(
      outputValue,
      type.ofType,
      inputValue,
      selectionSet,
      path,
      parameters,
      parentType,
    );
    if (updated === null) {
      if (!hasErrors)
        parameters.errors.push(
          ERRORS.INVALID_GRAPHQL.err(
            `Cannot return null for non-nullable ${pathLastElementDescription(path, type.ofType, parentType)}.`,
            { path: Array.from(path) },
          ),
        );
      return { updated, isInvalid: true, hasErrors: true };
    }
    return { updated };
  }
  if (inputValue === null) return { updated: null };
  if (type.kind === "ListType") {
    if (!Array.isArray(inputValue))
      throw new Error(
        `Invalid non-list value ${String(inputValue)} returned by subgraph for list type ${String(type)}`,
      );
    if (outputValue !== undefined && !Array.isArray(outputValue))
      throw new Error(
        `Invalid non-list value ${String(outputValue)} returned by subgraph for list type ${String(type)}`,
      );
    const outputList =
      (outputValue as unknown[] | undefined) ?? new Array<unknown>(inputValue.length).fill(undefined);
    if (inputValue.length !== outputList.length)
      throw new Error(
        `[${String(inputValue)}].length (${inputValue.length}) !== [${String(outputList)}].length (${outputList.length})`,
      );
    let shouldNullify = false;
    let hasErrors = false;
    const updated = outputList.map((outputElement, index) => {
      path.push(index);
      const element = updateOutputValue(
        outputElement,
        type.ofType,
        inputValue[index],
        selectionSet,
        path,
        parameters,
        parentType,
      );
      path.pop();
      shouldNullify ||= !!element.isInvalid;
      hasErrors ||= !!element.hasErrors;
      return element.updated;
    });
    return { updated: shouldNullify ? null : updated, hasErrors };
  }
  if (isComposite(type)) {
    if (!selectionSet) throw new Error(`Invalid empty selection set for composite type ${String(type)}`);
    if (typeof inputValue !== "object")
      throw new Error(
        `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${String(type)}`,
      );
    if (outputValue !== undefined && typeof outputValue !== "object")
      throw new Error(
        `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${String(type)}`,
      );
    const input = inputValue as ResultMap;
    const inputTypename = input[TYPENAME];
    if (inputTypename !== undefined && typeof inputTypename !== "string")
      throw new Error(`Invalid non-string value ${String(inputTypename)} for __typename at ${String(path)}`);
    let objectType: NamedType = type;
    if (inputTypename) {
      const typenameType = parameters.schema.type(inputTypename);
      if (!typenameType || !isComposite(typenameType)) {
        parameters.errors.push(
          ERRORS.INVALID_GRAPHQL.err(
            `Invalid __typename found for object at ${pathLastElementDescription(path, type, parentType)}.`,
            { path: Array.from(path) },
          ),
        );
        return { updated: null, hasErrors: true };
      }
      objectType = typenameType;
    }
    const output = (outputValue as ResultMap | undefined) ?? parameters.newObject();
    const bubbled = applySelectionSet(input, selectionSet, output, parameters, path, objectType);
    return { updated: bubbled ? null : output, hasErrors: bubbled };
  }
  if (outputValue !== undefined)
    throw new Error(`Excepted output to be undefined but got ${String(type)} for type ${String(type)}`);
  const valid = isValidLeafValue(
    parameters.schema,
    inputValue,
    type as federation.ScalarType | federation.EnumType,
  );
  if (!valid)
    parameters.errors.push(
      ERRORS.INVALID_GRAPHQL.err(
        `Invalid value found for ${pathLastElementDescription(path, type, parentType)}.`,
        { path: Array.from(path) },
      ),
    );
  return { updated: valid ? inputValue : null, hasErrors: !valid };
}
