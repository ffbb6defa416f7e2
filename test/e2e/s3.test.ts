// The S3 back end end to end through bin/ferry, on Ceph radosgw (a one-node cluster started once for this
// file): the flows of object-store-e2e.ts (a repository used directly with `-r s3://…`, and offline seeding
// through a storage account in S3), then the outages of store-outage.ts. In CI a missing radosgw fails
// this file, never skips.
import { describe } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { s3ConfigFromEnv } from '../../src/storage/s3/s3-config.js';
import { DEFAULT_RETRY } from '../../src/storage/object-store/retry.js';
import { radosgwSkipReason, useRadosgw, type Radosgw } from '../../src/storage/testing/radosgw.js';
import { objectStoreFlows, type ObjectStoreUnderTest } from './object-store-e2e.js';
import { storeOutages } from './store-outage.js';

/** radosgw as the flows see it: a place is a bucket. */
function s3UnderTest(server: Radosgw): ObjectStoreUnderTest {
  return {
    place: 'bucket',
    env: server.env,
    noAccess: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_REGION: undefined, AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined },
    missingCredentials: /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    newPlace: () => server.newBucket(),
    url: (bucket, prefix) => `s3://${bucket}/${prefix}`,
    objectNames: async (bucket) => {
      const client = createS3Client(s3ConfigFromEnv(server.env), DEFAULT_RETRY);
      const names: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(ContinuationToken ? { ContinuationToken } : {}) }));
        for (const item of page.Contents ?? []) names.push(item.Key ?? '');
        ContinuationToken = page.NextContinuationToken;
      } while (ContinuationToken);
      return names;
    },
  };
}

describe('S3 back end end to end (Ceph radosgw)', { skip: radosgwSkipReason() }, () => {
  const radosgw = useRadosgw();
  objectStoreFlows(async () => s3UnderTest(await radosgw()), 's3-seed');
  storeOutages(async () => {
    const server = await radosgw();
    const client = createS3Client(s3ConfigFromEnv(server.env), DEFAULT_RETRY);
    return {
      ...s3UnderTest(server),
      halt: () => server.halt(),
      restart: () => server.restart(),
      objectBytes: async (bucket, name) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: name }))).Body!.transformToByteArray()),
      pendingUploads: async (bucket) => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((upload) => upload.Key ?? ''),
    };
  }, { ingest: false });
});
