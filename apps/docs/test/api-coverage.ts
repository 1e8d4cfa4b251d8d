/**
 * Which public class members of a typedoc JSON model have no documentation.
 *
 * A property, method or accessor needs a summary or a block tag (its own, or one typedoc copied
 * from the member it overrides or implements). A constructor needs every parameter described, and
 * either its own comment or the class's. Inherited members are checked where they are declared.
 * Interfaces' members are checked too, except in `@dlf/native`, whose interfaces are the binding
 * surface (partly generated from the op table) rather than API for applications.
 */

interface Comment {
  summary?: { text?: string }[];
  blockTags?: unknown[];
}
interface Reflection {
  name: string;
  kind: number;
  comment?: Comment;
  flags?: { isPrivate?: boolean; isProtected?: boolean };
  inheritedFrom?: unknown;
  children?: Reflection[];
  signatures?: (Reflection & { parameters?: Reflection[] })[];
  getSignature?: Reflection;
  setSignature?: Reflection;
}

const KIND = {
  module: 2,
  namespace: 4,
  class: 128,
  constructor: 512,
  property: 1024,
  method: 2048,
  accessor: 262144,
};

function hasText(c: Comment | undefined): boolean {
  if (!c) return false;
  return (c.summary ?? []).some((p) => (p.text ?? '').trim() !== '') || (c.blockTags?.length ?? 0) > 0;
}

/**
 * Lists the undocumented public class members of a typedoc JSON project.
 *
 * @param project - The parsed output of `typedoc --json`.
 * @returns The members missing a comment (`module.Class.member`) and how many were checked.
 */
export function undocumentedMembers(project: Reflection): { missing: string[]; total: number } {
  const missing: string[] = [];
  let total = 0;
  const check = (ok: boolean, name: string): void => {
    total++;
    if (!ok) missing.push(name);
  };
  const walk = (node: Reflection, path: string): void => {
    for (const c of node.children ?? []) {
      if (c.kind === KIND.module || c.kind === KIND.namespace) walk(c, `${path}${c.name}.`);
      const checked =
        c.kind === KIND.class || (c.kind === KIND.interface && !path.startsWith('@dlf/native.'));
      if (!checked) continue;
      for (const m of c.children ?? []) {
        if (m.inheritedFrom || m.flags?.isPrivate || m.name.startsWith('#')) continue;
        const name = `${path}${c.name}.${m.name}`;
        if (m.kind === KIND.constructor) {
          for (const s of m.signatures ?? []) {
            check(hasText(s.comment) || hasText(c.comment), `${name}()`);
            for (const p of s.parameters ?? []) check(hasText(p.comment), `${name}(${p.name})`);
          }
        } else if (m.kind === KIND.method) {
          for (const s of m.signatures ?? []) check(hasText(s.comment) || hasText(m.comment), `${name}()`);
        } else if (m.kind === KIND.accessor) {
          check(
            hasText(m.comment) || hasText(m.getSignature?.comment) || hasText(m.setSignature?.comment),
            name,
          );
        } else {
          check(hasText(m.comment), name);
        }
      }
    }
  };
  walk(project, '');
  return { missing, total };
}
