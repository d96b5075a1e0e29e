import { Plans1764300000000 } from "./1764300000000-plans";
import { Vulnerabilities1764900000000 } from "./1764900000000-vulnerabilities";
import { OutboxPosition1764950000000 } from "./1764950000000-outbox-position";

/** Protection's migrations, oldest first. */
export const protectionMigrations = [
  Plans1764300000000,
  Vulnerabilities1764900000000,
  OutboxPosition1764950000000,
];
