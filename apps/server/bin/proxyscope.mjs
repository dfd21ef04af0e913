#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so an `npm install` is all it needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
