import { Inventory1764300000000 } from "./1764300000000-inventory";
import { Assessments1764400000000 } from "./1764400000000-assessments";

/** Posture's migrations, oldest first. */
export const postureMigrations = [Inventory1764300000000, Assessments1764400000000];
