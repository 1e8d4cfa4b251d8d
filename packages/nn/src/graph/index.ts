export { GraphBuilder } from './builder.js';
export {
  GraphModule,
  type GraphNode,
  graphFromJSON,
  MAX_GRAPH_OUTPUT,
  MAX_NODE_OUTPUT,
  type NodeDescription,
} from './module.js';
export { Add, Concat, type GraphOp, graphOps, MultiInputModule } from './ops.js';
export {
  type CheckedGraph,
  checkGraphSpec,
  type GraphNodeSpec,
  type GraphSpec,
  MAX_GRAPH_NODES,
  MAX_MODEL_VALUES,
} from './spec.js';
