import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '@dlf/tensor-core';
import { describe, expect, it } from 'vitest';
import { distributedEnv } from '../src/env.js';
import { DistributedError, initProcessGroup } from '../src/group.js';
import { freePort, groups } from './helpers.js';

describe('process groups over Gloo', () => {
  it('allreduces (sum, avg), broadcasts and meets at barriers on tensors, in place', async () => {
    const gs = await groups(3);
    try {
      const ts = gs.map((_, r) => tensor([r + 1, 10 * r, -r]));
      await Promise.all(gs.map((g, r) => g.allreduce(ts[r]!, 'sum')));
      for (const t of ts) expect(Array.from(t.toTypedArray())).toEqual([6, 30, -3]);
      ts.forEach((t, r) => t.write(new Float32Array([r + 1, 10 * r, -r])));
      await Promise.all(gs.map((g, r) => g.allreduce(ts[r]!, 'avg')));
      for (const t of ts) expect(Array.from(t.toTypedArray())).toEqual([2, 10, -1]);
      const bs = gs.map((_, r) =>
        tensor([
          [r, r],
          [r, r],
        ]),
      );
      await Promise.all(gs.map((g, r) => g.broadcast(bs[r]!, 2)));
      for (const b of bs) expect(Array.from(b.toTypedArray())).toEqual([2, 2, 2, 2]);
      await Promise.all(gs.map((g) => g.barrier()));
      for (const t of [...ts, ...bs]) t.dispose();
    } finally {
      for (const g of gs) g.close();
    }
  });

  it('runs queued collectives in issue order on every rank', async () => {
    const gs = await groups(2);
    try {
      const data = gs.map((_, r) => Array.from({ length: 20 }, (_, k) => new Float32Array([k + r])));
      await Promise.all(gs.flatMap((g, r) => data[r]!.map((d) => g.allreduce(d))));
      for (const d of data)
        expect(d.map((x) => x[0])).toEqual(Array.from({ length: 20 }, (_, k) => 2 * k + 1));
    } finally {
      for (const g of gs) g.close();
    }
  });

  it('meets through a file store on one host', async () => {
    const fileStore = mkdtempSync(join(tmpdir(), 'dlf-store-'));
    try {
      const gs = await Promise.all(
        [0, 1].map((rank) => initProcessGroup({ rank, worldSize: 2, fileStore, timeoutMs: 5000 })),
      );
      const data = gs.map((_, r) => new Float32Array([r + 1]));
      await Promise.all(gs.map((g, r) => g.allreduce(data[r]!)));
      expect(data.map((d) => d[0])).toEqual([3, 3]);
      for (const g of gs) g.close();
    } finally {
      rmSync(fileStore, { recursive: true, force: true });
    }
  });

  it('fails a collective that a peer never joins after the timeout, and every later one', async () => {
    const gs = await groups(2, 800);
    const started = Date.now();
    const err = await gs[0]!.allreduce(new Float32Array(4)).catch((e) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(err).toBeInstanceOf(DistributedError);
    expect(err.message).toMatch(/^Distributed training failed on rank 0 of 2: .*Timed out/i);
    await expect(gs[0]!.barrier()).rejects.toThrow(err.message);
    for (const g of gs) g.close();
  });

  it('rejects non-float32 data and closed groups with clear errors', async () => {
    const [g] = await groups(1);
    await expect(g!.allreduce(tensor([1, 2], { dtype: 'int32' }))).rejects.toThrow(/float32/);
    g!.close();
    await expect(g!.barrier()).rejects.toThrow(/closed/);
  });

  it('gives a clear error, not a hang, when rank 0 cannot be reached', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await initProcessGroup({ rank: 1, worldSize: 2, masterPort: port, timeoutMs: 1000 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DistributedError);
    expect(err.message).toMatch(/could not reach the rendezvous store at 127\.0\.0\.1:\d+ within 1/);
    expect(Date.now() - started).toBeLessThan(5000);
    const bad = await initProcessGroup({
      rank: 1,
      worldSize: 2,
      masterAddr: 'no-such-host.invalid',
      timeoutMs: 1000,
    }).catch((e) => e);
    expect(bad.message).toMatch(/cannot resolve the master address 'no-such-host.invalid'/);
  });

  it('tells rank 0 when its port is taken or the other ranks never come', async () => {
    const [g] = await groups(1);
    const masterPort = await freePort();
    const first = initProcessGroup({ rank: 0, worldSize: 2, masterPort, timeoutMs: 800 }).catch((e) => e);
    const taken = await initProcessGroup({ rank: 0, worldSize: 2, masterPort, timeoutMs: 800 }).catch(
      (e) => e,
    );
    expect(taken.message).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(Address already in use\)/);
    expect((await first).message).toMatch(/timed out after 800 ms waiting for the other ranks/);
    g!.close();
  });
});

describe('distributedEnv', () => {
  it('reads torchrun, Open MPI, PMI and Slurm variables', () => {
    expect(distributedEnv({})).toBeUndefined();
    expect(
      distributedEnv({
        RANK: '3',
        WORLD_SIZE: '4',
        LOCAL_RANK: '1',
        MASTER_ADDR: '10.1.2.3',
        MASTER_PORT: '29501',
      }),
    ).toEqual({
      rank: 3,
      worldSize: 4,
      localRank: 1,
      masterAddr: '10.1.2.3',
      masterPort: 29501,
      source: 'torchrun',
    });
    expect(distributedEnv({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2' })).toMatchObject({
      rank: 1,
      worldSize: 2,
      source: 'openmpi',
    });
    expect(distributedEnv({ PMI_RANK: '0', PMI_SIZE: '8', MPI_LOCALRANKID: '0' })?.source).toBe('pmi');
    expect(
      distributedEnv({
        SLURM_PROCID: '5',
        SLURM_NTASKS: '8',
        SLURM_LOCALID: '1',
        SLURM_LAUNCH_NODE_IPADDR: '10.0.0.9',
      }),
    ).toMatchObject({ rank: 5, worldSize: 8, localRank: 1, masterAddr: '10.0.0.9', source: 'slurm' });
    expect(() => distributedEnv({ RANK: '4', WORLD_SIZE: '4' })).toThrow(/RANK=4 is not below WORLD_SIZE=4/);
    expect(() => distributedEnv({ RANK: 'x', WORLD_SIZE: '4' })).toThrow(/RANK but received 'x'/);
  });
});
