// Kernel-side bounds seen through the binding: one event's size (MAX_EVENT_BYTES, the same number
// as the shell's constant), metadata caps, memory released by hard deletes, and the mapping of
// the kernel's PAYLOAD_TOO_LARGE to 413.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MAX_EVENT_BYTES } from '../src/config';
import { fromKernelError } from '../src/http/errors';
import { toKernelError } from '../src/kernel/errors';
import { loadNative } from '../src/kernel/native';
import { request, startServer, type TestServer } from './helpers';

const { Kernel } = loadNative();

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, (err as Error).message);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('kernel limits through the binding', () => {
  it('when stats are read, then maxEventBytes is 64 MiB, equal to the shell constant, and a healthy node has no read-only reason', () => {
    const s = new Kernel({ dim: 4, maxRecords: 8, maxNodes: 8, maxEdges: 8 }).stats();
    assert.equal(s.maxEventBytes, 67_108_864);
    assert.equal(s.maxEventBytes, MAX_EVENT_BYTES);
    assert.equal(s.readOnly, false);
    assert.equal(s.readOnlyReason ?? null, null);
  });

  it('when a batch would be one event over 64 MiB, then the kernel refuses it with PAYLOAD_TOO_LARGE and keeps nothing', async () => {
    const dim = 1024;
    const k = new Kernel({ dim, maxRecords: 100_000, maxNodes: 0, maxEdges: 0 });
    const rows = 16_384; // 16,384 x 1024 x 4 = 64 MiB of components, plus the event header
    await rejectsWith(k.insertBatch('default', new Float32Array(rows * dim), rows), 'PAYLOAD_TOO_LARGE', /67108864/);
    const s = k.stats();
    assert.equal(s.records.slots, 0);
    assert.equal(s.height, 0);
    assert.equal(s.readOnly, false);
    const err = fromKernelError(toKernelError(Object.assign(new Error('x'), { code: 'PAYLOAD_TOO_LARGE' })));
    assert.equal(err.status, 413);
    assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
  });

  it('when metadata reaches maxMetadataEntries or maxMetadataBytes, then the next new key answers CAPACITY_EXCEEDED naming the limit', async () => {
    const k = new Kernel({ dim: 2, maxRecords: 8, maxNodes: 8, maxEdges: 8, maxMetadataEntries: 2, maxMetadataBytes: 64 });
    await k.setMetadata('default', 'a', '1');
    await k.setMetadata('default', 'b', '2');
    await rejectsWith(k.setMetadata('default', 'c', '3'), 'CAPACITY_EXCEEDED', /VALORI_MAX_METADATA_ENTRIES/);
    await k.setMetadata('default', 'a', '"overwrite is fine"');
    await rejectsWith(k.setMetadata('default', 'b', JSON.stringify('x'.repeat(64))), 'CAPACITY_EXCEEDED', /VALORI_MAX_METADATA_BYTES/);
    assert.equal(k.getMetadata('default', 'b'), '2');
  });

  it('when records are inserted and hard-deleted many times at capacity 1, then vectorBytes stays at one record', async () => {
    const dim = 64;
    const k = new Kernel({ dim, maxRecords: 1, maxNodes: 0, maxEdges: 0 });
    for (let i = 0; i < 600; i++) {
      const [id] = (await k.insert('default', new Float32Array(dim).fill(0.5))).ids;
      assert.equal(k.stats().vectorBytes, dim * 4);
      await k.deleteRecord('default', id);
    }
    const s = k.stats();
    assert.equal(s.records.slots, 600);
    assert.equal(s.vectorBytes, 0);
  });
});

describe('/health after a kernel fault', () => {
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('when the kernel reports a read-only reason, then /health shows read_only_reason after read_only; absent while healthy', async () => {
    const s = await startServer({ VALORI_DIM: '4' });
    servers.push(s);
    const healthy = await request(s.base, '/health');
    assert.equal(healthy.json.read_only, false);
    assert.equal('read_only_reason' in healthy.json, false);
    // The fault itself (a committer panic, a failed fsync) is injected in the kernel's own tests
    // (native/kernel/tests/engine_faults.rs); here only what the route makes of it.
    const real = s.kernel.stats.bind(s.kernel);
    s.kernel.stats = () => ({ ...real(), readOnly: true, readOnlyReason: 'the committer panicked (boom); writes are refused until restart' });
    const h = await request(s.base, '/health');
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'degraded');
    assert.equal(h.json.read_only, true);
    assert.equal(h.json.read_only_reason, 'the committer panicked (boom); writes are refused until restart');
    const keys = Object.keys(h.json);
    assert.equal(keys.indexOf('read_only_reason'), keys.indexOf('read_only') + 1);
  });
});
