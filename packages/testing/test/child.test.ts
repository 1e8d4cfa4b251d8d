import { describe, expect, it } from 'vitest';
import { expectScriptOk } from '../src/index.js';

describe('expectScriptOk', () => {
  it('passes a script that prints ok and exits 0, as CommonJS or as a module', () => {
    expectScriptOk("console.log('ok')");
    expectScriptOk("const { sep } = await import('node:path'); if (sep) console.log('ok');", {
      module: true,
    });
  });

  it('fails on another output, an exit code, stderr, a signal or a timeout', () => {
    // Each script differs from a clean run in one respect only.
    expect(() => expectScriptOk("console.log('nearly')")).toThrow();
    expect(() => expectScriptOk("console.log('ok'); process.exit(3)")).toThrow();
    expect(() => expectScriptOk("console.log('ok'); console.error('warning')")).toThrow();
    expect(() => expectScriptOk("console.log('ok'); process.kill(process.pid, 'SIGABRT')")).toThrow();
    expect(() =>
      expectScriptOk("console.log('ok'); setTimeout(() => {}, 10_000)", { timeoutMs: 300 }),
    ).toThrow();
  });
});
