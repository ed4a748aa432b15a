// The one BlobStore contract (CONTRIBUTING.md, habit 4), run against the S3 store on s3rver over HTTP.
import { createS3BlobStore } from '../store/s3-blob-store.ts';
import { blobStoreContract } from './contract/blob-store.contract.ts';
import { startS3rver } from './support/s3rver.ts';

blobStoreContract('s3 (s3rver)', async () => {
  const s3 = await startS3rver({ prefix: 'contract/' });
  const store = createS3BlobStore(s3.config);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await s3.stop();
    },
  };
});
