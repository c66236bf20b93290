#!/usr/bin/env node
// After tsc: make the CLI executable and give CommonJS users an entry point.
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist');
chmodSync(join(dist, 'cli/main.js'), 0o755);
// Files tsc does not copy: the analyze report's HTML template.
copyFileSync(join(dist, '../src/analyze/report.html'), join(dist, 'analyze/report.html'));
// Node >= 20.19 can require() an ES module that has no top-level await.
writeFileSync(join(dist, 'index.cjs'), "'use strict';\nmodule.exports = require('./index.js');\n");
