import type { Module } from '../module.js';
import { GraphModule, type GraphNode } from './module.js';
import { Add, Concat } from './ops.js';

/**
 * Builds a {@link GraphModule} in TypeScript, node by node. Each call returns the new node's name,
 * which later nodes read; every module must be describable as JSON (all built-in layers are), so
 * the model can be saved and loaded again.
 *
 * @example
 * ```ts
 * const g = new GraphBuilder();
 * const c = g.node(new Conv2d(16, 16, 3, { padding: 1 }), g.input, 'conv');
 * const sum = g.add([g.input, c], 'residual');
 * const model = g.build(g.node(new GlobalAvgPool2d(), sum));
 * ```
 */
export class GraphBuilder {
  readonly #nodes: GraphNode[] = [];
  readonly #names = new Set<string>();
  /** The name by which nodes read the model input. */
  readonly input: string;
  /**
   * Starts an empty graph.
   *
   * @param input - The name by which nodes read the model input (default `'input'`).
   */
  constructor(input = 'input') {
    this.input = input;
  }

  /** Adds `module` reading `inputs` (one name or several); returns the node's name. */
  node(module: Module, inputs: string | readonly string[], name?: string): string {
    const ins = typeof inputs === 'string' ? [inputs] : [...inputs];
    let n = name;
    if (n === undefined) {
      const base = module.constructor.name.toLowerCase();
      let k = this.#nodes.length;
      do n = `${base}${k++}`;
      while (this.#names.has(n));
    }
    this.#names.add(n);
    this.#nodes.push({ name: n, module, inputs: ins });
    return n;
  }

  /** Adds an element-wise sum of `inputs` (a residual connection); returns its name. */
  add(inputs: readonly string[], name?: string): string {
    return this.node(new Add(), inputs, name);
  }

  /** Adds a channel concatenation of `inputs`; returns its name. */
  concat(inputs: readonly string[], name?: string): string {
    return this.node(new Concat(), inputs, name);
  }

  /** Makes the model whose output is the node `output` (checked; the modules are not copied). */
  build(output: string): GraphModule {
    return new GraphModule(this.#nodes, output, { input: this.input });
  }
}
