import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Every `incident.*` outbox event carries the incident's filterable state as its transaction left it:
 * `payload.state = { severity, status, labels, owner }`, written at commit by a deferred trigger (so after
 * every change of the transaction, the severity roll-up included, whichever code wrote the event). A stream
 * filters a change by that state, not by the incident as it is when the stream reads it: a subscriber that
 * resumes after a while gets the same changes a connected one got (an incident created and closed meanwhile
 * still passes `statuses: [NEW]` with its CREATED change).
 */
export class IncidentChangeState1766720000000 implements MigrationInterface {
  name = "SiemIncidentChangeState1766720000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION outbox_incident_state() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE outbox o SET payload = o.payload || jsonb_build_object('state', jsonb_build_object(
                 'severity', i.severity, 'status', i.status, 'labels', to_jsonb(i.labels), 'owner', i.owner))
          FROM incidents i
         WHERE o.seq = NEW.seq AND i.tenant_id = NEW.tenant_id AND i.id = NEW.key::uuid;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE CONSTRAINT TRIGGER outbox_incident_state AFTER INSERT ON outbox
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.topic LIKE 'incident.%')
      EXECUTE FUNCTION outbox_incident_state()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER outbox_incident_state ON outbox`);
    await q.query(`DROP FUNCTION outbox_incident_state()`);
  }
}
