import { Plans1764300000000 } from "./1764300000000-plans";
import { Vulnerabilities1764900000000 } from "./1764900000000-vulnerabilities";

/** Protection's migrations, oldest first. */
export const protectionMigrations = [Plans1764300000000, Vulnerabilities1764900000000];
