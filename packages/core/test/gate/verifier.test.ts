import { AgentKeyInputError, checkSubjectNamespace, namespacedSubject } from '@agentkey/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Strings rich in the separator, and arbitrary Unicode: ids may hold anything.
const text = fc.oneof(fc.string({ unit: fc.constantFrom('|', 'x', '/', ':', '%', '7', 'C') }), fc.string());
/** Whether the check that every verifier runs at construction accepts `namespace`. */
function valid(namespace: string): boolean {
  try {
    checkSubjectNamespace(namespace);
    return true;
  } catch (error) {
    if (error instanceof AgentKeyInputError) return false;
    throw error;
  }
}
const namespace = text.filter(valid);

/** Every (namespace, id) that encodes to `subject` with a namespace the check accepts. */
function preimages(subject: string): [string, string][] {
  const found: [string, string][] = [];
  for (let at = subject.indexOf('|'); at !== -1; at = subject.indexOf('|', at + 1)) {
    const candidate = subject.slice(0, at);
    if (valid(candidate)) found.push([candidate, subject.slice(at + 1)]);
  }
  return found;
}

describe('namespacedSubject', () => {
  it('is injective: a subject has exactly one (namespace, id) behind it', () => {
    fc.assert(
      fc.property(namespace, text, (ns, id) => {
        const subject = namespacedSubject(ns, id);
        // Any pair encoding to `subject` splits it at one of its `|`: all of them are tried here.
        expect(preimages(subject)).toEqual([[ns, id]]);
        // Splitting at the first `|` decodes it.
        const first = subject.indexOf('|');
        expect([subject.slice(0, first), subject.slice(first + 1)]).toEqual([ns, id]);
      }),
      { numRuns: 2000 },
    );
  });

  it('distinct pairs give distinct subjects', () => {
    fc.assert(
      fc.property(namespace, text, namespace, text, (ns1, id1, ns2, id2) => {
        fc.pre(ns1 !== ns2 || id1 !== id2);
        expect(namespacedSubject(ns1, id1)).not.toBe(namespacedSubject(ns2, id2));
      }),
    );
  });

  it("refuses a namespace with '|' or none at all, naming the option", () => {
    // Issuer `…/t` with sub `x|victim` and issuer `…/t|x` with sub `victim` were one subject.
    expect(namespacedSubject('https://idp.test/t', 'x|victim')).toBe('https://idp.test/t|x|victim');
    expect(() => namespacedSubject('https://idp.test/t|x', 'victim')).toThrow(AgentKeyInputError);
    for (const bad of ['partner|eu', '|', 'a|', '', 42, undefined]) {
      expect(() => checkSubjectNamespace(bad, 'subjectNamespace')).toThrow(
        expect.objectContaining({ field: 'subjectNamespace', message: expect.stringContaining("'|'") }),
      );
    }
    fc.assert(
      fc.property(text, text, (head, tail) => {
        expect(() => checkSubjectNamespace(`${head}|${tail}`)).toThrow(AgentKeyInputError);
      }),
    );
  });

  it('leaves namespaces without | as they were: existing rows keep their subjects', () => {
    expect(namespacedSubject('https://idp.example.test/', 'client-1')).toBe(
      'https://idp.example.test/|client-1',
    );
    expect(namespacedSubject('example.eu.auth0.com', 'abc@clients')).toBe('example.eu.auth0.com|abc@clients');
    expect(namespacedSubject('clerk', 'mch_123')).toBe('clerk|mch_123');
    fc.assert(
      fc.property(namespace, text, (ns, id) => {
        expect(namespacedSubject(ns, id)).toBe(`${ns}|${id}`);
      }),
    );
  });
});
