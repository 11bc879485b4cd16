/** Who calls on the request path, as the gate proved it (a native key or an external subject). */
export interface Caller {
  kind: 'key' | 'subject';
  /** The caller's row in the keys table. */
  id: number;
  subject: string | null;
  accountId: string;
  scopes: readonly string[] | null;
  expiresAt: Date | null;
}

/** Who acts in the audit log: an agent (a caller), a human (an approver, the CLI) or the system. */
export interface Actor {
  kind: 'agent' | 'human' | 'system';
  id: string;
}

/** The label an agent goes by in answers and the audit log: its subject, or `key:<row id>`. */
export const agentLabel = (c: Pick<Caller, 'subject' | 'id'>) => c.subject ?? `key:${c.id}`;

export const agentActor = (c: Caller): Actor => ({ kind: 'agent', id: agentLabel(c) });
