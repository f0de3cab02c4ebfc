#!/usr/bin/env node
// Writes scripts/lib/demo/joburg.json: the street graph scripts/demo drives on. It is generated, not
// surveyed: central Johannesburg's street lattice (the CBD's east-west streets from Plein St to
// Anderson St, the north-south streets from Sauer St eastwards into Jeppestown), each street a
// straight line at its approximate position, each crossing a node, each block an edge. Real names,
// approximate geometry; a few one-block gaps make the routes less regular, as in the real grid.
//   node scripts/lib/demo/make-graph.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// East-west streets, north to south, with their approximate latitude.
const EAST_WEST = [
  ['Wolmarans St', -26.1926], ['Noord St', -26.1946], ['Plein St', -26.1962], ['De Villiers St', -26.1978],
  ['Bree St', -26.1993], ['Jeppe St', -26.2008], ['Pritchard St', -26.2022], ['President St', -26.2036],
  ['Market St', -26.2049], ['Commissioner St', -26.2062], ['Fox St', -26.2076], ['Main St', -26.2090],
  ['Marshall St', -26.2104], ['Anderson St', -26.2118],
];
// North-south streets, west to east, with their approximate longitude.
const NORTH_SOUTH = [
  ['Sauer St', 28.0362], ['Simmonds St', 28.0383], ['Harrison St', 28.0404], ['Loveday St', 28.0425],
  ['Rissik St', 28.0445], ['Joubert St', 28.0466], ['Eloff St', 28.0487], ['Von Wielligh St', 28.0508],
  ['Delvers St', 28.0529], ['Troye St', 28.0550], ['Kruis St', 28.0571], ['End St', 28.0600],
  ['Nugget St', 28.0625], ['Goud St', 28.0648], ['Polly St', 28.0671], ['Mooi St', 28.0694],
  ['Davies St', 28.0717], ['Berea Rd', 28.0740], ['Hancock St', 28.0763], ['Beacon Rd', 28.0786],
  ['Park St', 28.0809], ['Betty St', 28.0832],
];
// Blocks left out (row, column of the block's west or north node, direction): closed or built over.
const GAPS = new Set(['2,3,e', '5,9,s', '7,14,e', '9,6,s', '11,17,e', '3,19,s', '12,10,e', '1,12,s']);

const nodes = [];
const names = [];
const id = (r, c) => r * NORTH_SOUTH.length + c;
for (const [ew, lat] of EAST_WEST) {
  for (const [ns, lng] of NORTH_SOUTH) {
    nodes.push([lat, lng]);
    names.push(`${ew} & ${ns}`);
  }
}
const edges = [];
for (let r = 0; r < EAST_WEST.length; r++) {
  for (let c = 0; c < NORTH_SOUTH.length; c++) {
    if (c + 1 < NORTH_SOUTH.length && !GAPS.has(`${r},${c},e`)) edges.push([id(r, c), id(r, c + 1), EAST_WEST[r][0]]);
    if (r + 1 < EAST_WEST.length && !GAPS.has(`${r},${c},s`)) edges.push([id(r, c), id(r + 1, c), NORTH_SOUTH[c][0]]);
  }
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'joburg.json');
const graph = { name: 'central Johannesburg (generated street lattice)', nodes, names, edges };
writeFileSync(out, `${JSON.stringify(graph)}\n`);
console.log(`${out}: ${nodes.length} nodes, ${edges.length} edges`);
