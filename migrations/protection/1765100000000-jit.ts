import type { MigrationInterface, QueryRunner } from "typeorm";
import { tenantRlsSql } from "../../subgraphs/common/src";

/** Just-in-time VM access: a policy per VM and the requests against it (grants expire by job). */
export class Jit1765100000000 implements MigrationInterface {
  name = "Jit1765100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE jit_policies (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      resource_id uuid NOT NULL,
      ports jsonb NOT NULL CHECK (jsonb_typeof(ports) = 'array'),
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, resource_id)
    )`);
    await q.query(`CREATE TABLE jit_requests (
      tenant_id text NOT NULL,
      id uuid PRIMARY KEY,
      resource_id uuid NOT NULL,
      ports int[] NOT NULL,
      source_ip inet NOT NULL,
      duration_seconds int NOT NULL CHECK (duration_seconds BETWEEN 1 AND 86400),
      justification text NOT NULL,
      status text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'DENIED', 'REVOKED', 'EXPIRED')),
      requester text NOT NULL,
      requested_at timestamptz NOT NULL DEFAULT now(),
      decided_by text,
      decided_at timestamptz,
      decision_comment text,
      expires_at timestamptz,
      revoked_by text,
      revoked_at timestamptz,
      revoke_reason text,
      expired_at timestamptz,
      CHECK (status <> 'APPROVED' OR expires_at IS NOT NULL)
    )`);
    await q.query(`CREATE INDEX jit_requests_resource ON jit_requests (tenant_id, resource_id, id DESC)`);
    await q.query(`CREATE INDEX jit_requests_tenant ON jit_requests (tenant_id, id DESC)`);
    // Active grants per VM (the effective port state), and the expiry sweep's two questions: which grants
    // are past their end, which requests went unanswered. Partial indexes: only open rows are in them.
    await q.query(
      `CREATE INDEX jit_requests_grants ON jit_requests (tenant_id, resource_id) WHERE status = 'APPROVED'`,
    );
    await q.query(
      `CREATE INDEX jit_requests_approved ON jit_requests (expires_at) WHERE status = 'APPROVED'`,
    );
    await q.query(
      `CREATE INDEX jit_requests_pending ON jit_requests (requested_at) WHERE status = 'PENDING'`,
    );
    // A resource's JIT audit trail and a request's history are read from the common audit_log.
    await q.query(
      `CREATE INDEX audit_log_jit ON audit_log (tenant_id, (details->>'resourceId'), id DESC) WHERE action LIKE 'jit.%'`,
    );
    for (const sql of tenantRlsSql("jit_policies")) await q.query(sql);
    // System scope lets the expiry sweep find the tenants that have overdue requests.
    for (const sql of tenantRlsSql("jit_requests", { allowSystem: true })) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_log_jit`);
    await q.query(`DROP TABLE jit_requests`);
    await q.query(`DROP TABLE jit_policies`);
  }
}
