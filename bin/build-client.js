#!/usr/bin/env node
// Builds log-service/client (JavaScript + .d.ts in dist/): `npm run build:client`.
// `prepare` builds it together with the server (bin/build-tsc.js), on every
// `npm install`; see there for what an install without dev dependencies does.
import { build } from './build-tsc.js';

process.exit(await build(['client']));
