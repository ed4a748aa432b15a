// isServiceError must know a ServiceError made by another copy of foundation/errors.ts:
// under mocha the tests load modules through tsx's require hook while app/services.ts
// imports the Redis and S3 backends with import(), so one process holds two copies,
// and `instanceof` made an in-process Redis push to a stream that is not open a 400
// instead of its 404.
import assert from 'node:assert/strict';
import { isServiceError, ServiceError } from '../../foundation/errors.ts';

describe('isServiceError across module copies', () => {
  it('recognises an error built by a second copy of the module, and nothing else', async () => {
    const copy = (await import(`../../foundation/errors.ts?copy=${Date.now()}`)) as typeof import('../../foundation/errors.ts');
    assert.notEqual(copy.ServiceError, ServiceError, 'the query string must load a second copy');
    const foreign = new copy.ServiceError('LOGSVC_STREAM_NOT_FOUND', 'no open stream');
    assert.equal(foreign instanceof ServiceError, false);
    assert.equal(isServiceError(foreign), true);
    assert.equal(copy.isServiceError(new ServiceError('LOGSVC_CONFLICT')), true);
    assert.equal(isServiceError(new Error('plain')), false);
    assert.equal(isServiceError(Object.assign(new Error('look-alike'), { name: 'ServiceError', code: 'LOGSVC_CONFLICT' })), false);
    assert.equal(isServiceError(undefined), false);
  });
});
