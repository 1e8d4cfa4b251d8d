/**
 * Code blocks of the guides and READMEs as programs: which blocks run, and what they run as.
 *
 * A ```ts or ```js block runs on its own. `no-run` after the language marks an illustrative block
 * (```ts no-run); `continues` appends the block to the program of the block before it in the same
 * file, so a guide can explain a program in steps.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** One runnable program extracted from a Markdown file. */
export interface Snippet {
  /** `file:line` of the block that ends the program. */
  name: string;
  /** `ts` or `js`. */
  lang: 'ts' | 'js';
  /** The source, with the blocks it continues. */
  code: string;
}

const FENCE = /^```([a-z]*)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
const LANGS: Record<string, 'ts' | 'js'> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js' };

/**
 * The runnable programs of a Markdown file.
 *
 * @param file - The Markdown file.
 * @param label - How the file is named in test titles.
 * @returns Every program, in the order of the blocks.
 */
export function extractSnippets(file: string, label = file): Snippet[] {
  const text = readFileSync(file, 'utf8');
  const out: Snippet[] = [];
  for (const m of text.matchAll(FENCE)) {
    const lang = LANGS[m[1]!];
    if (!lang) continue;
    const flags = m[2]!.trim().split(/\s+/);
    if (flags.includes('no-run')) continue;
    const line = text.slice(0, m.index).split('\n').length;
    const name = `${label}:${line}`;
    if (flags.includes('continues')) {
      const prev = out.pop();
      if (!prev) throw new Error(`${name}: a 'continues' block needs a runnable block before it`);
      out.push({
        name,
        lang: prev.lang === 'ts' || lang === 'ts' ? 'ts' : 'js',
        code: `${prev.code}\n${m[3]}`,
      });
    } else {
      out.push({ name, lang, code: m[3]! });
    }
  }
  return out;
}

/**
 * A program as Node runs it: TypeScript compiled to an ES module (syntax errors reported), plain
 * JavaScript as written.
 *
 * @param snippet - The program.
 * @returns JavaScript for a `.mjs` file.
 */
export function toJavaScript(snippet: Snippet): string {
  if (snippet.lang === 'js') return snippet.code;
  const r = ts.transpileModule(snippet.code, {
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const errors = (r.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (errors.length) throw new Error(`${snippet.name} does not compile: ${errors.join('; ')}`);
  return r.outputText;
}

/**
 * Type-checks TypeScript programs against the packages' published types (their built `.d.ts`).
 *
 * @param files - The programs, as `.mts` files inside apps/docs (so `@dlf/*` resolves).
 * @param typeRoots - Where `@types/node` lives.
 * @returns One message per type error, naming the file and line.
 */
export function typeErrors(files: readonly string[], typeRoots: readonly string[]): string[] {
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [...typeRoots],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.replace(/^.*[\\/]/, '')}:${line + 1}: ${text}`;
  });
}
