// Kernel errors stay domain errors until the HTTP edge: the shell's code list equals the Rust
// enum's, replication branches on codes (never on message text), and only http/errors.ts turns a
// code into a status.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { fromKernelError, STATUS_BY_CODE } from '../src/http/errors';
import { KERNEL_ERROR_CODES, KernelError, toKernelError } from '../src/kernel/errors';
import { Kernel } from '../src/kernel/kernel';
import { loadNative } from '../src/kernel/native';
import { ApplyError } from '../src/replication/applier';

const dirs: string[] = [];
const kernels: Kernel[] = [];

async function open(): Promise<Kernel> {
  const dir = mkdtempSync(join(tmpdir(), 'valori-kernel-errors-'));
  dirs.push(dir);
  const k = await Kernel.open(loadConfig({ VALORI_DIM: '2', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') }));
  kernels.push(k);
  return k;
}

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('kernel errors as domain errors', () => {
  after(() => {
    for (const k of kernels) k.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("when the binding's code list is read, then it equals the shell's, in the enum's order", () => {
    assert.deepEqual(loadNative().kernelErrorCodes(), [...KERNEL_ERROR_CODES]);
  });

  it('when a kernel code is looked up in the status table, then each has one', () => {
    for (const code of KERNEL_ERROR_CODES) assert.equal(typeof STATUS_BY_CODE[code], 'number', code);
  });

  it('when the kernel refuses a call, then the wrapper throws a KernelError with its code and own message', async () => {
    const k = await open();
    const err = await rejection(k.deleteRecord('default', 7));
    assert.ok(err instanceof KernelError, String(err));
    assert.equal(err.code, 'NOT_FOUND');
    assert.match(err.message, /7/);
  });

  it('when a follower is handed an event past its height, then SEQUENCE_GAP, and the applier does not call it divergence', async () => {
    const leader = await open();
    await leader.insert('default', [1, 2]);
    await leader.insert('default', [3, 4]);
    const events = await leader.readEvents(1, 10, 1 << 20);
    assert.deepEqual(events.map((e) => e.seq), [1, 2]);
    const follower = await open();
    const err = await rejection(follower.applyReplicated(2, events[1].payload));
    assert.ok(err instanceof KernelError);
    assert.equal(err.code, 'SEQUENCE_GAP');
    const apply = new ApplyError(2, err);
    assert.equal(apply.code, 'SEQUENCE_GAP');
    assert.equal(apply.stateDependent, false);
    assert.equal(follower.stats().height, 0);
  });

  it("when a leader's event does not apply to the follower's different state, then the applier calls it state-dependent", async () => {
    const a = await open();
    await a.insert('default', [1, 2]);
    await a.deleteRecord('default', 0);
    const [, deleteEvent] = await a.readEvents(1, 10, 1 << 20);
    const b = await open();
    await b.createNode('default', 1, null); // height 1 too, but no record 0
    const [nodeEvent] = await b.readEvents(1, 10, 1 << 20);
    const follower = await open();
    await follower.applyReplicated(1, nodeEvent.payload);
    const err = await rejection(follower.applyReplicated(2, deleteEvent.payload));
    const apply = new ApplyError(2, err);
    assert.equal(apply.code, 'NOT_FOUND');
    assert.equal(apply.stateDependent, true);
    assert.match(apply.message, /^event 2 was not applied: NOT_FOUND: /);
  });

  it('when a kernel error reaches the HTTP layer, then server faults get a generic message and keep the kernel error as cause', () => {
    const io = new KernelError('IO_ERROR', 'sync_data failed on /data/events.log; caused by: Input/output error (os error 5)');
    const masked = fromKernelError(io);
    assert.deepEqual([masked.status, masked.toBody()], [500, { error: 'internal kernel error', code: 'IO_ERROR' }]);
    assert.equal(masked.cause, io);
    const gap = fromKernelError(new KernelError('SEQUENCE_GAP', 'replicated event 9 does not follow height 1'));
    assert.deepEqual(gap.toBody(), { error: 'internal kernel error', code: 'SEQUENCE_GAP' });
    const notFound = fromKernelError(new KernelError('NOT_FOUND', 'record 3 not found'));
    assert.deepEqual([notFound.status, notFound.toBody()], [404, { error: 'record 3 not found', code: 'NOT_FOUND' }]);
  });

  it('when the addon throws an error without a kernel code, then it becomes INTERNAL and keeps its message', () => {
    const raw = Object.assign(new Error('Failed to convert napi value'), { code: 'InvalidArg' });
    const err = toKernelError(raw);
    assert.deepEqual([err.code, err.message, err.cause], ['INTERNAL', 'Failed to convert napi value', raw]);
    // A shell code on a native error is not a kernel code either.
    assert.equal(toKernelError(Object.assign(new Error('x'), { code: 'NOT_ENABLED' })).code, 'INTERNAL');
  });
});
