import { AlertsIncidents1764300000000 } from "./1764300000000-alerts-incidents";

/** SIEM's migrations, oldest first. */
export const siemMigrations = [AlertsIncidents1764300000000];
