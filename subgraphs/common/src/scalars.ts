import { DateTimeResolver, JSONObjectResolver, JSONResolver } from "graphql-scalars";

/** ISO 8601 date-times, as in every public security API we mirror. */
export const DateTimeScalar = DateTimeResolver;
/** Arbitrary JSON (resource configuration, raw records). */
export const JSONScalar = JSONResolver;
/** A JSON object (tags, properties). */
export const JSONObjectScalar = JSONObjectResolver;
