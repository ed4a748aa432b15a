import { MemoryLogStream } from '../stream/memory-log-stream.ts';
import { logStreamContract } from './contract/log-stream.contract.ts';

logStreamContract('memory', async (limits) => {
  const stream = new MemoryLogStream(limits, 100);
  return { stream, cleanup: () => stream.shutdown() };
});
