import path from 'node:path';
import { checkTree } from './layers.ts';

const root = path.resolve(import.meta.dirname, '..');
const violations = checkTree(root);
for (const v of violations) console.error(`${v.file}: import "${v.specifier}": ${v.why}`);
if (violations.length) {
  console.error(`\n${violations.length} layer violation(s); see DESIGN.md "Import rules".`);
  process.exit(1);
}
console.log('layers: every import follows DESIGN.md');
