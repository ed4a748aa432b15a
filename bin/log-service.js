#!/usr/bin/env node
// The package's executable. The sources are TypeScript run through tsx's loader,
// so there is no build step between `npm install` and `log-service server`.
import { register } from 'tsx/esm/api';

register();
await import('../cmd/main.ts');
