// The packed @dlf/distributed at work: two ranks of one process group in this process, over
// loopback, allreduce and broadcast a tensor. Prints where the addon was loaded from.
import { createServer } from 'node:net';
import { distributedNativeLocation, initProcessGroup } from '@dlf/distributed';
import { tensor } from '@dlf/tensor-core';

const masterPort = await new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const groups = await Promise.all(
  [0, 1].map((rank) => initProcessGroup({ rank, worldSize: 2, masterAddr: '127.0.0.1', masterPort })),
);
const values = [tensor([1, 2, 3]), tensor([10, 20, 30])];
await Promise.all(groups.map((g, rank) => g.allreduce(values[rank], 'sum')));
await Promise.all(groups.map((g, rank) => g.broadcast(values[rank], 1)));
for (const v of values) {
  const got = Array.from(v.toTypedArray());
  if (got.join() !== '11,22,33') throw new Error(`allreduce gave ${got}, not 11,22,33`);
}
for (const g of groups) g.close();
console.log(`distributed: 2 ranks allreduced [11, 22, 33] with ${distributedNativeLocation()}`);
