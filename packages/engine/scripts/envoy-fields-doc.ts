/**
 * Writes docs/envoy-fields.md (see src/config/envoy-api/field-table.ts).
 *   npm run docs:config-table
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envoyFieldsMarkdown } from '../src/config/envoy-api/field-table';

const out = fileURLToPath(new URL('../../../docs/envoy-fields.md', import.meta.url));
writeFileSync(out, envoyFieldsMarkdown());
console.log(`wrote ${out}`);
