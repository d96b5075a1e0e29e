import { v7 } from "uuid";

/** A new time-ordered UUIDv7 (ids sort by creation time, which keeps B-tree inserts local). */
export const newId = (): string => v7();
