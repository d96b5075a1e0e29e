import { AlertsIncidents1764300000000 } from "./1764300000000-alerts-incidents";
import { Events1764500000000 } from "./1764500000000-events";
import { IncidentWorkflow1764600000000 } from "./1764600000000-incident-workflow";
import { RulesIntel1764700000000 } from "./1764700000000-rules-intel";
import { OutboxPosition1764950000000 } from "./1764950000000-outbox-position";
import { EventsStorage1765700000000 } from "./1765700000000-events-storage";
import { OutboxPruned1765800000000 } from "./1765800000000-outbox-pruned";
import { EventsEntityKeys1765900000000 } from "./1765900000000-events-entity-keys";
import { SiemMillisecondSortTimes1766000000000 } from "./1766000000000-millisecond-sort-times";
import { ThreatIndicatorsById1766100000000 } from "./1766100000000-threat-indicators-by-id";
import { ConnectorKeptTime1766200000000 } from "./1766200000000-connector-kept-time";
import { ThreatIndicatorVersions1766300000000 } from "./1766300000000-threat-indicator-versions";
import { AlertResourceScope1766400000000 } from "./1766400000000-alert-resource-scope";
import { IncidentChangeState1766720000000 } from "./1766720000000-incident-change-state";
import { IncidentClassificationReason1766810000000 } from "./1766810000000-incident-classification-reason";
import { TenantEventRetention1766811000000 } from "./1766811000000-tenant-event-retention";
import { Automation1766830000000 } from "./1766830000000-automation";
import { Hunting1766840000000 } from "./1766840000000-hunting";
import { AnalyticsRuleSigma1766850000000 } from "./1766850000000-analytics-rule-sigma";
import { PlaybookSecretsRekey1766870000000 } from "./1766870000000-playbook-secrets-rekey";
import { IngestReceipts1766890000000 } from "./1766890000000-ingest-receipts";
import { OutboxRebases1766930000000 } from "./1766930000000-outbox-rebases";
import { IngestReceiptLastSeq1766960000000 } from "./1766960000000-ingest-receipt-last-seq";
import { ThreatIntelFeeds1766970000000 } from "./1766970000000-threat-intel-feeds";
import { AlertRunsOutboxIdentity1767000000000 } from "./1767000000000-alert-runs-outbox-identity";
import { AnalyticsRulesByTenant1767120000000 } from "./1767120000000-analytics-rules-by-tenant";
import { AlertLifecycle1767134000000 } from "./1767134000000-alert-lifecycle";
import { ConnectorAdmin1767180000000 } from "./1767180000000-connector-admin";
import { SiemAuditRead1767200000000 } from "./1767200000000-audit-read";
import { ResourceAccounts1767230000000 } from "./1767230000000-resource-accounts";
import { KqlSeriesFunctions1767240000000 } from "./1767240000000-kql-series-functions";
import { KqlSeriesFitLine1767270000000 } from "./1767270000000-kql-series-fit-line";
import { KqlSeriesPeriods1767280000000 } from "./1767280000000-kql-series-periods";
import { KqlSeriesFftPeriods1767310000000 } from "./1767310000000-kql-series-fft-periods";
import { KqlSeriesDecomposeForecast1767311000000 } from "./1767311000000-kql-series-decompose-forecast";
import { KqlScalarFunctions1767330000000 } from "./1767330000000-kql-scalar-functions";
import { AlertEvidence1767400000000 } from "./1767400000000-alert-evidence";

/** SIEM's migrations, oldest first. */
export const siemMigrations = [
  AlertsIncidents1764300000000,
  Events1764500000000,
  IncidentWorkflow1764600000000,
  RulesIntel1764700000000,
  OutboxPosition1764950000000,
  EventsStorage1765700000000,
  OutboxPruned1765800000000,
  EventsEntityKeys1765900000000,
  SiemMillisecondSortTimes1766000000000,
  ThreatIndicatorsById1766100000000,
  ConnectorKeptTime1766200000000,
  ThreatIndicatorVersions1766300000000,
  AlertResourceScope1766400000000,
  IncidentChangeState1766720000000,
  IncidentClassificationReason1766810000000,
  TenantEventRetention1766811000000,
  Automation1766830000000,
  Hunting1766840000000,
  AnalyticsRuleSigma1766850000000,
  PlaybookSecretsRekey1766870000000,
  IngestReceipts1766890000000,
  OutboxRebases1766930000000,
  IngestReceiptLastSeq1766960000000,
  ThreatIntelFeeds1766970000000,
  AlertRunsOutboxIdentity1767000000000,
  AnalyticsRulesByTenant1767120000000,
  AlertLifecycle1767134000000,
  ConnectorAdmin1767180000000,
  SiemAuditRead1767200000000,
  ResourceAccounts1767230000000,
  KqlSeriesFunctions1767240000000,
  KqlSeriesFitLine1767270000000,
  KqlSeriesPeriods1767280000000,
  KqlSeriesFftPeriods1767310000000,
  KqlSeriesDecomposeForecast1767311000000,
  KqlScalarFunctions1767330000000,
  AlertEvidence1767400000000,
];
