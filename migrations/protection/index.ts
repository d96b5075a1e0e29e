import { Plans1764300000000 } from "./1764300000000-plans";

/** Protection's migrations, oldest first. */
export const protectionMigrations = [Plans1764300000000];
