import { Inventory1764300000000 } from "./1764300000000-inventory";

/** Posture's migrations, oldest first. */
export const postureMigrations = [Inventory1764300000000];
