import { AgentKeyInputError } from '../errors/errors.js';
import { checkSubjectNamespace, type Verifier } from './verifier.js';

/**
 * Which subjects each verifier of one gate may name, so that no verifier lands on another issuer's
 * row. A verifier that declares `subjectNamespace` may only name `<namespace>|…`; one that declares
 * none (a third-party plugin) may name anything except a namespace another verifier declares.
 * Two verifiers may declare the same namespace only when the gate lists it in `sharedNamespaces`:
 * the one case it is right (one tenant behind two domains) is then said where both are configured,
 * and a copy-pasted namespace still throws at start-up.
 */
export class SubjectNamespaces {
  /** Namespace → the first verifier declaring it. */
  private readonly declared = new Map<string, string>();
  /** Each verifier's namespace as checked here, read once (a getter cannot change it later). */
  private readonly own = new Map<Verifier, string>();

  constructor(verifiers: readonly Verifier[], shared: unknown) {
    const sharedSet = new Set(checkShared(shared));
    for (const v of verifiers) {
      const declared = v.subjectNamespace;
      if (declared === undefined) continue;
      const ns = checkSubjectNamespace(declared, `verifiers: ${v.id}: subjectNamespace`);
      this.own.set(v, ns);
      const other = this.declared.get(ns);
      if (other !== undefined && !sharedSet.has(ns)) {
        throw new AgentKeyInputError(
          `verifiers: ${other} and ${v.id} both declare subjectNamespace ${JSON.stringify(ns)}, so they would share rows; list it in sharedNamespaces if they are one issuer`,
          'verifiers',
        );
      }
      this.declared.set(ns, v.id);
    }
    for (const ns of sharedSet) {
      if (!this.declared.has(ns)) {
        throw new AgentKeyInputError(
          `sharedNamespaces: no verifier declares ${JSON.stringify(ns)}`,
          'sharedNamespaces',
        );
      }
    }
  }

  /** Whether `verifier` may name `subject`. */
  allows(verifier: Verifier, subject: string): boolean {
    const bar = subject.indexOf('|');
    const ns = this.own.get(verifier);
    if (ns !== undefined) return bar >= 0 && subject.slice(0, bar) === ns;
    return bar < 0 || !this.declared.has(subject.slice(0, bar));
  }
}

function checkShared(shared: unknown): string[] {
  if (shared === undefined) return [];
  if (!Array.isArray(shared)) {
    throw new AgentKeyInputError('sharedNamespaces must be an array of namespaces', 'sharedNamespaces');
  }
  return shared.map((ns) => checkSubjectNamespace(ns, 'sharedNamespaces'));
}
