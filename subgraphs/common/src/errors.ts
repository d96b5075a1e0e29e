import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { AuthenticationError, AuthorizationError, ArgumentValidationError } from "type-graphql";

/** The error codes clients may branch on (`extensions.code`). */
export enum ErrorCode {
  Unauthenticated = "UNAUTHENTICATED",
  Forbidden = "FORBIDDEN",
  BadUserInput = "BAD_USER_INPUT",
  NotFound = "NOT_FOUND",
  Conflict = "CONFLICT",
  RateLimited = "RATE_LIMITED",
  OperationLimit = "OPERATION_LIMIT",
  /** A stream's `after` cursor lies before events the outbox retention has removed. */
  CursorExpired = "CURSOR_EXPIRED",
  /** A service the operation depends on (the event-ingest queue) does not answer: retry later. */
  Unavailable = "UNAVAILABLE",
  Internal = "INTERNAL_SERVER_ERROR",
}

/** One fault in an input: where (`path`, and `index` for list items) and what. */
export interface InputProblem {
  /** Position of the item in a list argument, when the fault is in one. */
  index?: number;
  /** Dotted path of the field inside the item (or argument). */
  field: string;
  message: string;
}

/** Base of every error a user may cause: the code travels in `extensions.code`. */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { ...extensions, code } });
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = "A valid bearer token is required.") {
    super(ErrorCode.Unauthenticated, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = "Your roles do not allow this operation.") {
    super(ErrorCode.Forbidden, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super(ErrorCode.NotFound, `${what} ${id} was not found.`, { id });
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Conflict, message);
  }
}

/** A resume cursor older than the retained history: events after it are gone, so the stream cannot resume there. */
export class CursorExpiredError extends AppError {
  constructor(message: string) {
    super(ErrorCode.CursorExpired, message);
  }
}

/** A dependency (the event-ingest queue) is down: nothing was done, the same request may be retried. */
export class UnavailableError extends AppError {
  constructor(message: string) {
    super(ErrorCode.Unavailable, message);
  }
}

/** Bad input: lists every problem found, so a client can fix them all in one go. */
export class BadUserInputError extends AppError {
  constructor(
    message: string,
    readonly problems: InputProblem[] = [],
  ) {
    super(ErrorCode.BadUserInput, problems.length ? `${message} ${describeProblems(problems)}` : message, {
      problems,
    });
  }
}

/** Throws BadUserInputError when `problems` is not empty. */
export function assertNoProblems(message: string, problems: InputProblem[]): void {
  if (problems.length > 0) throw new BadUserInputError(message, problems);
}

function describeProblems(problems: InputProblem[]): string {
  const shown = problems
    .slice(0, 10)
    .map((p) => (p.index === undefined ? "" : `[${p.index}].`) + `${p.field}: ${p.message}`);
  const more = problems.length > shown.length ? ` (+${problems.length - shown.length} more)` : "";
  return shown.join("; ") + more;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Apollo `formatError`: keeps typed errors, maps type-graphql's and GraphQL's own, and masks
 * everything else so no stack, SQL or internal detail reaches a client in production.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  options: { maskInternal: boolean; log?: (err: unknown) => void },
): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof AuthenticationError) {
    return { ...formatted, extensions: { code: ErrorCode.Unauthenticated } };
  }
  if (original instanceof AuthorizationError) {
    return {
      ...formatted,
      message: "Your roles do not allow this operation.",
      extensions: { code: ErrorCode.Forbidden },
    };
  }
  if (original instanceof ArgumentValidationError) {
    return { ...formatted, extensions: { code: ErrorCode.BadUserInput } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === "string" && KNOWN_CODES.has(code) && code !== ErrorCode.Internal) {
    const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  if (
    typeof code === "string" &&
    code !== ErrorCode.Internal &&
    !(original instanceof Error && !(original instanceof GraphQLError))
  ) {
    // GraphQL validation/parse errors from Apollo (GRAPHQL_VALIDATION_FAILED, BAD_REQUEST…): safe to show.
    const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  options.log?.(original);
  return {
    message: options.maskInternal ? "Internal server error." : formatted.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.Internal },
  };
}
