// Reads ahead from the leader's stream into a bounded buffer, so reading the socket and
// applying events overlap, and so the stream's silence timer keeps running while the apply side
// is busy (a full pipeline, a slow fsync, hashing at a proof marker): a stalled leader is then
// noticed even when the follower is busy. When the buffer is full, reading stops and TCP pushes
// back on the leader.

export class ReadAhead<T> {
  private readonly items: T[] = [];
  private bytes = 0;
  private finished = false;
  private failure: unknown = null;
  private stopped = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(
    source: AsyncIterable<T>,
    private readonly sizeOf: (item: T) => number,
    private readonly maxItems: number,
    private readonly maxBytes: number,
  ) {
    void this.pump(source);
  }

  /** The next item; null once the source ended; throws the source's error. */
  async next(): Promise<T | null> {
    while (this.items.length === 0) {
      if (this.finished) {
        if (this.failure !== null) throw this.failure;
        return null;
      }
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
    const item = this.items.shift()!;
    this.bytes -= this.sizeOf(item);
    this.wake('producer');
    return item;
  }

  /** Stops reading (the caller also aborts the request, which ends a pending read). */
  stop(): void {
    this.stopped = true;
    this.wake('producer');
  }

  private full(): boolean {
    return this.items.length >= this.maxItems || (this.items.length > 0 && this.bytes >= this.maxBytes);
  }

  private wake(who: 'producer' | 'consumer'): void {
    const w = who === 'producer' ? this.wakeProducer : this.wakeConsumer;
    if (who === 'producer') this.wakeProducer = null;
    else this.wakeConsumer = null;
    w?.();
  }

  private async pump(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        this.items.push(item);
        this.bytes += this.sizeOf(item);
        this.wake('consumer');
        while (this.full() && !this.stopped) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
        if (this.stopped) break;
      }
    } catch (err) {
      this.failure = err;
    } finally {
      this.finished = true;
      this.wake('consumer');
    }
  }
}
